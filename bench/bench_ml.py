"""The ML stage alone: hashing features + every family's calibrated linear model.

Reads realistic listings from bench/generate.py (parsed as the engine parses them, text via
scanner.ml.listing_text). Prints µs per listing and listings/s in batches of 64, the
hashed n-grams alone, the sparse matrix, single-listing p50/p99, and the stock scikit-learn Pipelines
(predict_proba per family) on a sample as a baseline.
Run: .venv/bin/python bench/bench_ml.py [--models models/] [--n 20000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

from scanner.listing import parse_listing
from scanner.ml import listing_text, load_classifiers


def listings(n: int) -> list[str]:
    return [listing_text(parse_listing({k: v for k, v in d.items() if not k.startswith("_")}))
            for d in generate(n)]


def per_batch(fn, texts: list[str], batch: int) -> float:
    """Seconds per listing of fn over texts in batches."""
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i:i + batch])
    return (time.perf_counter() - t0) / len(texts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=None)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--single", type=int, default=3000)
    ap.add_argument("--baseline", type=int, default=640)
    args = ap.parse_args()
    clf = load_classifiers(Path(args.models) if args.models else None)
    if clf is None:
        sys.exit("no models: run `scanner train` first")
    texts = listings(args.n)
    print(f"{len(texts)} generated listings, mean {np.mean([len(t) for t in texts]):.0f} chars; "
          f"model {clf.version}, {len(clf.families)} families")
    clf.predict(texts[:args.batch])  # warm up
    dt = per_batch(clf.predict, texts, args.batch)
    print(f"predict, batch {args.batch}: {dt * 1e6:7.1f} µs/listing  {1 / dt:9.0f} listings/s")
    dt = per_batch(clf.hasher.ngrams, texts, args.batch)
    print(f"hashed n-grams alone, batch {args.batch}: {dt * 1e6:7.1f} µs/listing")
    dt = per_batch(clf.hasher.transform, texts, args.batch)
    print(f"sparse feature matrix (training's path), batch {args.batch}: {dt * 1e6:7.1f} µs/listing")
    lat = []
    for t in texts[:args.single]:
        t1 = time.perf_counter()
        clf.predict([t])
        lat.append(time.perf_counter() - t1)
    lat = np.array(lat) * 1e6
    print(f"single listing: p50 {np.percentile(lat, 50):.0f} µs  p99 {np.percentile(lat, 99):.0f} µs")
    sample = texts[:args.baseline]

    def stock(batch):
        for fam in clf.families:
            clf.pipelines[fam].predict_proba(batch)

    dt2 = per_batch(stock, sample, args.batch)
    print(f"baseline (stock Pipelines, predict_proba per family, batch {args.batch}): "
          f"{dt2 * 1e6:7.1f} µs/listing  {1 / dt2:9.0f} listings/s")


if __name__ == "__main__":
    main()
