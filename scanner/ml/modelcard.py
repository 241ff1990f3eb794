"""Rewrite the generated part of models/MODEL_CARD.md and models/thresholds.json after training."""
from __future__ import annotations

import json
from pathlib import Path

START, END = "<!-- generated:start -->", "<!-- generated:end -->"


def thresholds(manifest: dict) -> dict:
    """Recommended per-family thresholds: block at the 0.99-precision point, review at the 0.95 one."""
    out = {}
    for fam, m in manifest["held_out"].items():
        out[fam] = {"block": m["at_precision_0.99"]["threshold"], "review": m["at_precision_0.95"]["threshold"]}
    return {"version": manifest["version"], "source": "held-out split of the generated training corpus",
            "note": "generated text is easier than real listings: see MODEL_CARD.md before copying these",
            "families": out}


def render(manifest: dict, summary: dict) -> str:
    lines = [START, "", (f"Model version **{manifest['version']}**; {manifest['rows']} rows, "
                         f"{manifest['held_out_rows']} held out; training took {manifest['train_seconds']} s."), "",
             "| family | positives | negatives |", "|---|---|---|"]
    lines += [f"| {f} | {c['positive']} | {c['negative']} |" for f, c in summary.items() if f != "sources"]
    lines += ["", "| source | rows |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in sorted(summary["sources"].items())]
    lines += ["", "Held-out metrics (threshold 0.5, and the lowest threshold reaching each precision):", "",
              "| family | n | pos | precision | recall | F1 | AP | thr @P0.99 (recall) | thr @P0.95 (recall) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for f, m in manifest["held_out"].items():
        a, b = m["at_precision_0.99"], m["at_precision_0.95"]
        lines.append(f"| {f} | {m['n']} | {m['positives']} | {m['precision']} | {m['recall']} | {m['f1']} | "
                     f"{m['average_precision']} | {a['threshold']} ({a['recall']}) | {b['threshold']} ({b['recall']}) |")
    lines += ["", f"Parameters: `{json.dumps(manifest['spec'], sort_keys=True)}`", "", END]
    return "\n".join(lines)


def write(models_dir: Path, manifest: dict, summary: dict) -> None:
    card = models_dir / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8") if card.exists() else f"# Model card\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    card.write_text(head + render(manifest, summary) + tail, encoding="utf-8")
    (models_dir / "thresholds.json").write_text(json.dumps(thresholds(manifest), indent=2) + "\n")
