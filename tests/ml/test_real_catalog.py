"""The committed models on real, evaluation-only data (read, never trained on): the amazon.in catalog
must hardly ever reach an ML review threshold of the rulesets, and the dev set's negatives neither."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from scanner.ml import listing_text

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def review_thresholds() -> dict[str, float]:
    out = {}
    for path in (REPO / "rulesets").glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and isinstance(data.get("ml"), dict):
            out[data["family"]] = data["ml"]["review"]
    return out




def flagged(clf, texts):
    thresholds = review_thresholds()
    probs = clf.predict(texts)
    cols = [(j, thresholds[f]) for j, f in enumerate(clf.families) if f in thresholds]
    return [i for i in range(len(texts)) if any(probs[i, j] >= t for j, t in cols)]


def test_amazon_in_catalog_false_flags_at_most_half_a_percent(clf):
    path = SHARED / "data" / "amazon_in_2023_products_trimmed.csv"
    if not path.exists():
        pytest.skip("catalog not available")
    with path.open(encoding="utf-8") as f:
        titles = [r["name"] for r in csv.DictReader(f)]
    hits = flagged(clf, [listing_text({"title": t}) for t in titles])
    print(f"\namazon.in: {len(hits)} of {len(titles)} titles reach an ML review threshold")
    for i in hits:
        print("  ", titles[i][:110])
    assert len(hits) <= 0.005 * len(titles)


def test_dev_set_negatives_rarely_reach_review(clf):
    path = SHARED / "devset" / "cases.jsonl"
    if not path.exists():
        pytest.skip("dev set not available")
    cases = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    negatives = [c for c in cases if not c["expect"].get("rules")]
    hits = flagged(clf, [listing_text(c["listing"]) for c in negatives])
    print(f"\ndev negatives reaching an ML review threshold: {len(hits)} of {len(negatives)}")
    for i in hits:
        print("  ", negatives[i]["case_id"], negatives[i]["listing"]["title"][:100])
    assert len(hits) <= 0.01 * len(negatives)
