"""Regression guard on our own labelled cases (evals/): red-team listings written from POLICY.md
(paraphrases, other languages, obfuscations, hard negatives), never from the dev set. A change
that makes the scanner generalise worse fails here before it reaches the hidden cases."""
from pathlib import Path

import pytest

from scanner import Scanner
from scanner.ml.evaluate import read_cases, scanner_results, score

EVALS = Path(__file__).resolve().parents[1] / "evals"
# the figures these sets scored when they were added, less a small margin for deliberate trade-offs
FLOORS = {"redteam_keywords.jsonl": 0.98, "redteam_keywords_holdout.jsonl": 0.97, "redteam_medical.jsonl": 0.98,
          "redteam_fresh.jsonl": 0.97, "redteam_fresh2.jsonl": 0.97, "redteam_fresh3.jsonl": 0.98,
          "redteam_fresh4.jsonl": 0.97, "redteam_fresh5.jsonl": 0.98, "redteam_fresh6.jsonl": 0.97,
          "redteam_fresh7.jsonl": 0.97, "redteam_fresh8.jsonl": 0.97, "redteam_fresh9.jsonl": 0.98,
          "redteam_fresh10.jsonl": 0.97, "redteam_fresh11.jsonl": 0.97, "redteam_fresh12.jsonl": 0.98, "redteam_fresh13.jsonl": 0.98,
          "redteam_fresh14.jsonl": 0.97, "redteam_fresh15.jsonl": 0.98, "redteam_fresh16.jsonl": 0.98, "redteam_fresh18.jsonl": 0.98,
          "redteam_fresh19.jsonl": 0.98, "redteam_fresh20.jsonl": 0.97, "redteam_fresh21.jsonl": 0.98, "redteam_fresh22.jsonl": 0.98,
          "redteam_fresh17.jsonl": 0.78,   # fresh17: one classifier review of a rule without positives there
          "redteam_fresh23.jsonl": 0.66}   # fresh23: a measurement round, not yet fixed (evals/README.md)


@pytest.fixture(scope="module")
def scanner():
    return Scanner.load()


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_red_team_cases_hold(scanner, name):
    cases = read_cases(EVALS / name)
    got = scanner_results(scanner, cases)
    figures = score(cases, got)
    decisions = sum(d == c["expect"]["decision"] for c, (d, _, _) in zip(cases, got)) / len(cases)
    flagged, negatives = map(int, figures["negatives_flagged"].split("/"))
    weak = {r: v for r, v in figures["rules"].items() if v["f1"] < 0.9}
    assert figures["rule_macro_f1"] >= FLOORS[name], weak
    assert decisions >= FLOORS[name]
    assert flagged <= 0.05 * negatives   # the classifiers still review a few (evals/README.md; fresh14: 5/118)
    assert figures["bad_evidence_offsets"] == 0


# What exporters append to every description. It names no policy term, so it must not change what the
# rules decide: a broad exception or `unless` word ("packaging box", "handbook") would void real finds.
BOILERPLATE = ("<p>Packaging: color box, 50 pcs per carton. Packaging box size 20x15x10 cm, empty gift box available.</p>"
               "<p>User manual / handbook in English. OEM/ODM welcome, custom logo, MOQ 100 pcs. Payment: T/T, PayPal. "
               "Delivery within 7 days. Warranty 1 year. Sample available. Our factory has 15 years of experience; "
               "welcome to visit us. Please contact us for the catalog. Hot sale in Europe, America and Asia.</p>")


def test_exporter_boilerplate_changes_no_rules_decision(tmp_path):
    rules_only = Scanner.load(models_dir=tmp_path)   # the classifiers read boilerplate as context, rules must not
    for name in sorted(FLOORS):
        cases = read_cases(EVALS / name)
        padded = [{**c, "listing": {**c["listing"], "description": (c["listing"].get("description") or "") + BOILERPLATE}}
                  for c in cases]
        changed = [c["case_id"] for c, a, b in zip(cases, scanner_results(rules_only, cases), scanner_results(rules_only, padded))
                   if a[:2] != b[:2]]
        assert not changed, f"{name}: {changed}"


def test_eval_sets_share_no_listing_with_each_other():
    seen: dict[str, str] = {}
    for name in FLOORS:
        for case in read_cases(EVALS / name):
            key = (case["listing"].get("title", "") + case["listing"].get("description", "")).casefold()
            assert seen.setdefault(key, name) == name, f"{name}: {case['case_id']} repeats a listing of {seen[key]}"


def test_eval_sets_share_no_title_with_evaluation_only_data():
    import csv
    shared = EVALS.parents[1] / "shared" / "data"
    files = [p for p in (shared / "vape_listings_real_2025.csv", shared / "amazon_in_2023_products_trimmed.csv")
             if p.exists()]
    if not files:
        pytest.skip("evaluation-only files are not beside the repo (../shared/data)")
    ours = {c["listing"].get("title", "").strip().casefold() for name in FLOORS for c in read_cases(EVALS / name)}
    for path in files:
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.DictReader(fh)
            key = next(k for k in reader.fieldnames if k.lower() in ("title", "name", "product_name"))
            assert not ours & {(row[key] or "").strip().casefold() for row in reader} - {""}, path.name
