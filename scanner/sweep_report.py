"""Counting, shadow-run differences, summaries and progress for `scanner sweep`."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

from scanner.listing import DECISION_ORDER, Verdict

EXAMPLES_PER_KIND = 5


def count_verdict(c: Counter, v: Verdict) -> None:
    c[f"decision:{v.decision}"] += 1
    for f in v.findings:
        c[f"rule:{f.rule}:{f.outcome}"] += 1
    for m in v.blocked_markets:
        c[f"market:{m}"] += 1


def _active(v: Verdict) -> dict[str, str]:
    return {f.rule: f.outcome for f in v.findings if f.outcome in DECISION_ORDER}


def shadow_kind(live: Verdict, cand: Verdict) -> str | None:
    """How the candidate changes this listing's decision (None: same decision)."""
    a, b = live.decision, cand.decision
    if a == b:
        return None
    if b == "pass":
        return "cleared"
    order = DECISION_ORDER
    if order[b] > order[a]:
        return f"newly_{b}"
    return f"relaxed_to_{b}"


def count_shadow(c: Counter, examples: dict[str, list], live: Verdict, cand: Verdict, title: str) -> None:
    kind = shadow_kind(live, cand)
    la, ca = _active(live), _active(cand)
    added = sorted(r for r in ca if ca[r] != la.get(r))
    removed = sorted(r for r in la if r not in ca)
    lm, cm = set(live.blocked_markets), set(cand.blocked_markets)
    if kind is None and not added and not removed and lm == cm:
        c["shadow:same"] += 1
        return
    c[f"shadow:{kind or 'same_decision_other_findings'}"] += 1
    for r in added:
        c[f"shadow_rule_added:{r}:{ca[r]}"] += 1
    for r in removed:
        c[f"shadow_rule_removed:{r}:{la[r]}"] += 1
    for m in sorted(cm - lm):
        c[f"shadow_market_blocked:{m}"] += 1
    for m in sorted(lm - cm):
        c[f"shadow_market_unblocked:{m}"] += 1
    bucket = examples.setdefault(kind or "same_decision_other_findings", [])
    if len(bucket) < EXAMPLES_PER_KIND:
        bucket.append({"listing_id": live.listing_id, "title": title, "live": live.decision,
                       "candidate": cand.decision, "rules_added": added, "rules_removed": removed})


def merge(checkpoints: dict[int, dict]) -> tuple[Counter, dict[str, list]]:
    total: Counter = Counter()
    examples: dict[str, list] = {}
    for _, counts in sorted(checkpoints.items()):
        for k, v in counts.items():
            if k == "examples":
                for kind, rows in v.items():
                    bucket = examples.setdefault(kind, [])
                    bucket.extend(rows[:EXAMPLES_PER_KIND - len(bucket)])
            elif isinstance(v, int):
                total[k] += v
    return total, examples


def summary(total: Counter, examples: dict[str, list], run: dict) -> dict[str, Any]:
    def group(prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(total.items()) if k.startswith(prefix)}

    out: dict[str, Any] = {
        "run_id": run["id"], "source": run["source"], "mode": run["mode"], "as_of": str(run["as_of"]),
        "ruleset_version": run["ruleset_version"], "model_version": run["model_version"],
        "records": total["records"], "scanned": total["scanned"], "unchanged": total["unchanged"],
        "quarantined": total["quarantined"],
        "decisions": group("decision:"), "unchanged_decisions": group("unchanged:"),
        "rules": group("rule:"), "markets": group("market:"),
    }
    if run["mode"] == "live":
        out["flags"] = {"new": total["flags_new"], "unchanged": total["flags_unchanged"],
                        "resolved": total["flags_resolved"]}
        out["verdict_rows"] = total["verdicts"]
        out["charges"] = {"new": total["charges"], "points": total["points_charged"]}
    else:
        out["shadow"] = {"changes": group("shadow:"), "rules_added": group("shadow_rule_added:"),
                         "rules_removed": group("shadow_rule_removed:"),
                         "markets_blocked": group("shadow_market_blocked:"),
                         "markets_unblocked": group("shadow_market_unblocked:"), "examples": examples}
    return out


def render(s: dict[str, Any], out: TextIO) -> None:
    w = out.write
    w(f"sweep run {s['run_id']} ({s['mode']}) of {s['source']} as of {s['as_of']}, "
      f"rulesets {s['ruleset_version']}, models {s['model_version']}\n")
    w(f"  records {s['records']}: scanned {s['scanned']}, unchanged {s['unchanged']}, "
      f"quarantined {s['quarantined']}\n")
    for title, key in (("decisions (scanned)", "decisions"), ("decisions (unchanged)", "unchanged_decisions"),
                       ("findings by rule:outcome", "rules"), ("blocked markets", "markets")):
        if s[key]:
            w(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in s[key].items()) + "\n")
    if "flags" in s:
        f = s["flags"]
        w(f"  review flags: new {f['new']}, unchanged {f['unchanged']}, resolved {f['resolved']}\n")
        w(f"  verdict history rows {s['verdict_rows']}; new charges {s['charges']['new']} "
          f"({s['charges']['points']} points)\n")
    if "shadow" in s:
        sh = s["shadow"]
        for title, key in (("changes", "changes"), ("rules added", "rules_added"),
                           ("rules removed", "rules_removed"), ("markets newly blocked", "markets_blocked"),
                           ("markets unblocked", "markets_unblocked")):
            if sh[key]:
                w(f"  shadow {title}: " + ", ".join(f"{k} {v}" for k, v in sh[key].items()) + "\n")
        for kind, rows in sh["examples"].items():
            for r in rows:
                w(f"    e.g. {kind}: {r['listing_id']!r} {r['title']!r}: {r['live']} -> {r['candidate']}"
                  f" (+{','.join(r['rules_added']) or '-'} / -{','.join(r['rules_removed']) or '-'})\n")


class Progress:
    """A tqdm bar on a terminal; otherwise a log line every `every` seconds."""

    def __init__(self, total: int | None, initial: int = 0, every: float = 10.0, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.done, self.total, self.every = initial, total, every
        self.start = self.last = time.monotonic()
        self.base = initial
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="listing", file=self.stream, smoothing=0.1)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        rate = (self.done - self.base) / max(now - self.start, 1e-9)
        text = f"sweep: {self.done}"
        if self.total:
            left = max(self.total - self.done, 0)
            text += f"/{self.total} ({100 * self.done / self.total:.0f}%)"
            eta = left / rate if rate > 0 else float("inf")
            text += f", {rate:,.0f} listings/s, ETA {eta:,.0f}s" if rate > 0 else ""
        else:
            text += f", {rate:,.0f} listings/s"
        return text

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
