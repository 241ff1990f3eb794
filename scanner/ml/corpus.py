"""Build the training corpus (models/data/*.jsonl) from templates, the rulesets and public name lists.

Every row is {"text", "labels": {family: 0|1}, "provenance"}; a family missing from
`labels` is unknown for that row and the row is not used for that family. The build is
deterministic (one seeded random generator) and re-runnable: `scanner train --rebuild-corpus`.
No row comes from ../shared/devset or the evaluation-only files in ../shared/data.
"""
from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from pathlib import Path

import yaml

from scanner.io import read_records
from scanner.listing import RecordError
from scanner.ml.document import listing_text

FAMILIES = ("e_cigarette", "sexual_health", "controlled_instrument", "medical_device")
REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
# Public name lists (facts) used as slot fillers. The evaluation-only files are never read.
JUICES = "eliquid_juices_vaporguide.csv"
PDE5 = "pde5_inhibitors_and_analogues.txt"
TAXONOMY = "google_product_taxonomy_2025-08_paths.csv"
_SLOT = re.compile(r"\{(\w+)(?::([^}]+))?\}")
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "i": "і"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}


class CorpusError(ValueError):
    pass


def _read_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


class _Filler:
    def __init__(self, templates: dict, rulesets_dir: Path, data_dir: Path, rng: random.Random):
        self.slots: dict[str, list[str]] = templates.get("slots", {})
        self.rng = rng
        self.terms = _ruleset_terms(rulesets_dir)
        self.external: dict[str, list[str]] = {}
        juices = data_dir / JUICES
        if juices.exists():
            with juices.open(encoding="utf-8") as f:
                self.external["juice"] = [f"{r['brand']} {r['juice_name']}" for r in csv.DictReader(f)]
        pde5 = data_dir / PDE5
        if pde5.exists():
            self.external["pde5"] = _read_lines(pde5)

    def fill(self, template: str, extra: dict[str, str] | None = None, depth: int = 0) -> str:
        if depth > 5:
            raise CorpusError(f"template nests too deep: {template!r}")

        def one(m: re.Match) -> str:
            name, arg = m.group(1), m.group(2)
            if name == "term":
                values = self.terms.get(arg)
                if not values:
                    raise CorpusError(f"template names rule {arg!r}, which has no terms in the rulesets")
            elif extra and name in extra:
                return extra[name]
            elif name in self.external:
                values = self.external[name]
            elif name in self.slots:
                values = self.slots[name]
            else:
                raise CorpusError(f"template {template!r}: unknown slot {name!r}")
            return self.fill(self.rng.choice(values), extra, depth + 1)

        return _SLOT.sub(one, template)


def _ruleset_files(rulesets_dir: Path) -> list[dict]:
    out = []
    for path in sorted(rulesets_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and "rules" in data:
            out.append(data)
    return out


def _ruleset_terms(rulesets_dir: Path) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {}
    for data in _ruleset_files(rulesets_dir):
        for rule in data.get("rules", []):
            values = terms.setdefault(rule["id"], [])
            for group in rule.get("terms", []) or []:
                for key, items in group.items():
                    if isinstance(items, list) and key not in ("unless", "unless_fields", "fields"):
                        values += [t for t in items if isinstance(t, str)]
    return terms


def ruleset_example_rows(rulesets_dir: Path, config: dict | None = None) -> list[dict]:
    """The rulesets' own examples: `fire` ones are positives of their family; `pass` ones are
    negatives of their family (unknown for the others: a condom passes sexual_health but is
    a medical device), unless they fire another rule of the family. Medical `pass` examples
    often pass thanks to certificates: skipped. `config` (templates.yaml `ruleset_examples`)
    names rules whose fire or pass examples are not used."""
    config = config or {}
    skip = {"fire": set(config.get("fire_not_positive", [])), "pass": set(config.get("pass_not_negative", []))}
    files = _ruleset_files(rulesets_dir)
    fired = {(d.get("family"), json.dumps(ex, sort_keys=True, default=str)) for d in files for r in d.get("rules", [])
             for ex in ((r.get("examples") or {}).get("fire") or [])}
    rows = []
    for data in files:
        family = data.get("family")
        for rule in data.get("rules", []):
            examples = rule.get("examples") or {}
            for kind, label in (("fire", 1), ("pass", 0)):
                if (kind == "pass" and family == "medical_device") or rule["id"] in skip[kind]:
                    continue
                for i, ex in enumerate(examples.get(kind, []) or []):
                    if kind == "pass" and (family, json.dumps(ex, sort_keys=True, default=str)) in fired:
                        continue
                    listing = {k: v for k, v in ex.items() if k in ("title", "description", "attributes", "keywords", "image_texts")}
                    rows.append({"text": listing_text(listing), "labels": {family: label},
                                 "provenance": f"ruleset:{rule['id']}:{kind}[{i}]"})
    return rows


def _obfuscate(text: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    words = text.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if kind == 0:
        w = "".join(_LEET.get(c, c) if rng.random() < 0.5 else c for c in w)
    elif kind == 1:
        w = rng.choice([".", " ", "-", "*"]).join(w)
    elif kind == 2:
        w = "".join(_HOMOGLYPHS.get(c, c) if rng.random() < 0.5 else c for c in w)
    else:
        w = "\u200b".join(w)
    words[i] = w
    return " ".join(words)


def _taxonomy_leaves(data_dir: Path, exclude: list[str]) -> list[tuple[str, str]]:
    path = data_dir / TAXONOMY
    if not path.exists():
        raise CorpusError(f"{path} is missing: the ordinary-listing pool takes its category names from it")
    out = []
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            full = row["full_path"]
            if any(x.lower() in full.lower() for x in exclude):
                continue
            out.append((full, full.rsplit(" > ", 1)[-1]))
    return out


def _listing(rng: random.Random, filler: _Filler, spec: dict, extra: dict | None = None) -> dict:
    listing = {"title": filler.fill(rng.choice(spec["titles"]), extra)}
    if spec.get("descriptions") and rng.random() < 0.85:
        listing["description"] = filler.fill(rng.choice(spec["descriptions"]), extra)
    if rng.random() < 0.5:
        listing["attributes"] = {"Place of Origin": filler.fill("{origin}"), "Material": filler.fill("{material}")}
    if rng.random() < 0.3 and spec.get("category"):
        listing["keywords"] = [filler.fill(rng.choice(spec["titles"]), extra)[:60]]
    p = spec.get("obfuscate", 0.0)
    if p and rng.random() < p:
        listing["title"] = _obfuscate(listing["title"], rng)
    return listing


def build_rows(templates: dict, rulesets_dir: Path, data_dir: Path = SHARED_DATA, seed: int = 20220115) -> list[dict]:
    rng = random.Random(seed)
    filler = _Filler(templates, rulesets_dir, data_dir, rng)
    rows = ruleset_example_rows(rulesets_dir, templates.get("ruleset_examples"))
    zero = dict.fromkeys(FAMILIES, 0)
    for spec in templates["groups"]:
        if any(s in t for t in spec["titles"] for s in ("{juice}", "{pde5}")) and not filler.external:
            raise CorpusError(f"group {spec['name']} needs the public name lists in {data_dir}")
        labels = {**zero, **spec.get("labels", {})}
        for _ in range(spec["count"]):
            rows.append({"text": listing_text(_listing(rng, filler, spec)), "labels": labels,
                         "provenance": f"generated:{spec['name']}"})
    for lang, by_kind in templates.get("multilingual", {}).items():
        for kind, titles in by_kind.items():
            labels = dict(zero) if kind == "ordinary" else {**zero, kind: 1}
            n = 60 if kind == "ordinary" else 40
            for _ in range(n):
                listing = {"title": filler.fill(rng.choice(titles))}
                if rng.random() < 0.5:
                    listing["description"] = filler.fill("{b2b}")
                rows.append({"text": listing_text(listing), "labels": labels, "provenance": f"generated:multilingual:{lang}:{kind}"})
    ordinary = templates["ordinary"]
    leaves = _taxonomy_leaves(data_dir, ordinary["exclude_paths"])
    for _ in range(ordinary["count"]):
        _, leaf = rng.choice(leaves)
        listing = _listing(rng, filler, ordinary, {"leaf": leaf})
        rows.append({"text": listing_text(listing), "labels": dict(zero), "provenance": "generated:ordinary:taxonomy"})
    return rows


def write_corpus(rows: list[dict], out_dir: Path) -> dict[str, int]:
    """Write rows into one JSONL file per source kind; return the row count per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        source = r["provenance"].split(":", 1)[0]
        name = "ordinary" if r["provenance"].startswith("generated:ordinary") else source
        by_file.setdefault(name, []).append(r)
    counts = {}
    for name, items in by_file.items():
        path = out_dir / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for r in items:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        counts[path.name] = len(items)
    return counts


def read_corpus(data_dir: Path) -> list[dict]:
    """Every row of every JSONL file in data_dir, validated: a bad row names its file and line."""
    return [row for path in sorted(data_dir.glob("*.jsonl")) for row in read_corpus_file(path)]


def read_corpus_file(path: Path) -> list[dict]:
    rows = []
    for n, row in read_records(path):
        where = f"{path.name} line {n}"
        if isinstance(row, RecordError):
            raise CorpusError(f"{where}: not JSON ({row.message})")
        if not isinstance(row.get("text"), str):
            raise CorpusError(f"{where}: field 'text' must be a string")
        labels = row.get("labels")
        if not isinstance(labels, dict) or any(v not in (0, 1) for v in labels.values()):
            raise CorpusError(f"{where}: field 'labels' must map families to 0 or 1")
        if not isinstance(row.get("provenance"), str) or not row["provenance"]:
            raise CorpusError(f"{where}: field 'provenance' is required")
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Positives and negatives per family, and rows per source."""
    out: dict[str, dict[str, int]] = {}
    for fam in FAMILIES:
        c = Counter(r["labels"][fam] for r in rows if fam in r["labels"])
        out[fam] = {"positive": c[1], "negative": c[0]}
    out["sources"] = dict(Counter(":".join(r["provenance"].split(":")[:2]) for r in rows))
    return out
