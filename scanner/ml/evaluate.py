"""Figures on a case file (the dev-set format of ../shared/eval/score.py): per-rule F1, macro-F1,
negatives flagged and bad evidence offsets, for keyword-only, ML-only and combined verdicts."""
from __future__ import annotations

import collections
import json
import re
from pathlib import Path

from scanner.listing import ATTRIBUTE_NAMES, parse_certificate, parse_listing
from scanner.ml.document import listing_text


def read_cases(path: Path) -> list[dict]:
    cases = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {n}: not JSON ({exc.msg})") from None
            for key in ("listing", "expect"):
                if not isinstance(case.get(key), dict):
                    raise ValueError(f"{path} line {n}: field '{key}' must be an object")  # noqa: TRY004 - bad input data
            cases.append(case)
    return cases


def _value_at(listing: dict, path: str):
    root, _, name = path.partition(".")
    if root == ATTRIBUTE_NAMES:   # evidence on an attribute's name quotes the name
        return name if name in (listing.get("attributes") or {}) else None
    value = listing
    for part in re.split(r"[.\[\]]+", path):
        if not part:
            continue
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def score(cases: list[dict], got: list[tuple[str, set[str], list[dict]]], by_family: bool = False) -> dict:
    """got[i] = (decision, rules fired, evidence dicts) for cases[i]; by_family scores families, not rules."""
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    neg = neg_flagged = bad_evidence = 0
    for case, (decision, rules, evidence) in zip(cases, got):
        expected = set(case["expect"].get("rules", []))
        if by_family:
            expected = {r.split("/")[0] for r in expected}
        for r in rules & expected:
            tp[r] += 1
        for r in rules - expected:
            fp[r] += 1
        for r in expected - rules:
            fn[r] += 1
        if not expected:
            neg += 1
            neg_flagged += bool(rules) or decision != "pass"
        for e in evidence:
            value = _value_at(case["listing"], e["field"])
            if isinstance(value, str) and value[e["start"]:e["end"]] != e["text"]:
                bad_evidence += 1
                break
    per_rule = {}
    for r in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[r] / (tp[r] + fp[r]) if tp[r] + fp[r] else 0.0
        q = tp[r] / (tp[r] + fn[r]) if tp[r] + fn[r] else 0.0
        per_rule[r] = {"tp": tp[r], "fp": fp[r], "fn": fn[r], "f1": 2 * p * q / (p + q) if p + q else 0.0}
    f1s = [v["f1"] for v in per_rule.values()]
    return {"rule_macro_f1": sum(f1s) / len(f1s) if f1s else 0.0, "negatives_flagged": f"{neg_flagged}/{neg}",
            "bad_evidence_offsets": bad_evidence, "rules": per_rule}


def scanner_results(scanner, cases: list[dict]) -> list[tuple[str, set[str], list[dict]]]:
    out = []
    for case in cases:
        certs = [parse_certificate(c) for c in case.get("certificates", [])]
        v = scanner.scan(parse_listing(case["listing"]), certs, case.get("as_of"))
        d = v.to_dict()
        out.append((d["decision"], {f["rule"] for f in d["findings"]},
                    [e for f in d["findings"] for e in f["evidence"]]))
    return out


def ml_results(classifiers, cases: list[dict], thresholds: dict[str, float]) -> list[tuple[str, set[str], list[dict]]]:
    """ML alone, by family: a family at or above its threshold counts as flagged (score with by_family)."""
    probs = classifiers.predict([listing_text(c["listing"]) for c in cases])
    out = []
    for row in probs:
        fams = {f for j, f in enumerate(classifiers.families) if f in thresholds and row[j] >= thresholds[f]}
        out.append(("review" if fams else "pass", fams, []))
    return out


def family_filter(cases: list[dict], families: set[str]) -> list[dict]:
    return [c for c in cases if all(r.split("/")[0] in families for r in c["expect"].get("rules", []))]
