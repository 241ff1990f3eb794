"""The ML stage alone: hashing features + every family's calibrated linear model.

Prints µs per listing and listings/s in batches of 64, single-listing p50/p99, and the
stock scikit-learn Pipelines (predict_proba per family) on a sample as a baseline.
Run: .venv/bin/python bench/bench_ml.py [--models models/] [--n 20000]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scanner.ml import listing_text, load_classifiers

WORDS = ["premium", "stainless", "steel", "kitchen", "portable", "wireless", "charging", "cable", "cotton", "shirt", "women", "men", "waterproof", "outdoor", "camping", "lamp", "led", "rechargeable", "battery", "silicone", "case", "phone", "garden", "hose", "wholesale", "factory", "price", "oem", "odm", "custom", "logo", "packaging", "details", "carton", "delivery", "sample", "quality", "warranty", "lightweight", "durable", "adjustable", "ergonomic", "handle", "grip", "travel", "bag", "storage"]


def listings(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS) for _ in range(10)).title()
        desc = " ".join(rng.choice(WORDS) for _ in range(85)) + f". Model {i}."
        out.append(listing_text({"title": title, "description": desc, "attributes": {"Material": "ABS"}}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=None)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    clf = load_classifiers(Path(args.models) if args.models else None)
    if clf is None:
        sys.exit("no models: run `scanner train` first")
    texts = listings(args.n)
    print(f"{len(texts)} listings, mean {np.mean([len(t) for t in texts]):.0f} chars; model {clf.version}, "
          f"{len(clf.families)} families")
    clf.predict(texts[:64])  # warm up
    t0 = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        clf.predict(texts[i:i + args.batch])
    dt = time.perf_counter() - t0
    print(f"batch {args.batch}: {dt / len(texts) * 1e6:7.1f} µs/listing  {len(texts) / dt:9.0f} listings/s")
    lat = []
    for t in texts[:3000]:
        t1 = time.perf_counter()
        clf.predict([t])
        lat.append(time.perf_counter() - t1)
    lat = np.array(lat) * 1e6
    print(f"single listing: p50 {np.percentile(lat, 50):.0f} µs  p99 {np.percentile(lat, 99):.0f} µs")
    sample = texts[:640]
    t2 = time.perf_counter()
    for i in range(0, len(sample), args.batch):
        for fam in clf.families:
            clf.pipelines[fam].predict_proba(sample[i:i + args.batch])
    dt2 = time.perf_counter() - t2
    print(f"baseline (stock Pipelines, predict_proba per family, batch {args.batch}): "
          f"{dt2 / len(sample) * 1e6:7.1f} µs/listing  {len(sample) / dt2:9.0f} listings/s")


if __name__ == "__main__":
    main()
