"""Count how many titles of a real catalog the scanner flags (evaluation only; nothing is kept).

    .venv/bin/python tools/false_positives.py ../shared/data/amazon_in_2023_products_trimmed.csv
"""
import argparse
import collections
import csv
import sys

from scanner import Scanner


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", help="a CSV with a `name` column of product titles")
    ap.add_argument("--column", default="name")
    ap.add_argument("--as-of", default="2022-02-01")
    args = ap.parse_args()
    scanner = Scanner.load()
    with open(args.csv, newline="", encoding="utf-8") as f:
        titles = [row[args.column] for row in csv.DictReader(f)]
    listings = ({"listing_id": str(i), "merchant_id": "eval", "title": t} for i, t in enumerate(titles))
    flagged, rules = [], collections.Counter()
    for v in scanner.scan_many(listings, as_of=args.as_of):
        if v.decision != "pass":
            flagged.append((v, titles[int(v.listing_id)]))
            rules.update(f.rule for f in v.findings)
    n = len(titles)
    print(f"{len(flagged)} of {n} titles flagged ({100 * len(flagged) / n:.2f} %)")
    for rule, count in rules.most_common():
        print(f"  {rule}: {count}")
    for v, title in flagged:
        evidence = "; ".join(e.text for f in v.findings for e in f.evidence[:2])
        print(f"  {v.decision:8} {','.join(f.rule for f in v.findings):40} {title[:90]!r}  [{evidence}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
