"""The `scanner` command line. Subcommands of other areas register themselves here."""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import importlib
import os
import sys
from pathlib import Path

import orjson

from scanner.io import InputFileError, read_certificates, read_parsed
from scanner.listing import RecordError, parse_listing
from scanner.ml.runtime import ModelError
from scanner.rulesets import RulesetError

# Modules that add subcommands with `register(subparsers)`; a missing one is skipped.
EXTENSIONS = ("scanner.ruletest", "scanner.medical.cli", "scanner.store.cli", "scanner.sweep",
              "scanner.ml.cli", "scanner.service.cli", "scanner.review.cli")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def load_certificates(path: str | None) -> tuple[list, int]:
    """Certificates from a file; bad lines are reported on stderr and skipped."""
    if not path:
        return [], 0
    certs, bad = read_certificates(path)
    for line, exc in bad:
        print(f"{path}:{line}: {exc}", file=sys.stderr)
    return certs, len(bad)


def cmd_scan(args) -> int:
    from scanner.engine import Scanner
    from scanner.gc_tuning import relax_gc

    store = None
    if args.database:
        from scanner.store import open_store
        store = open_store(args.database)
    scanner = Scanner.load(args.rulesets, args.models, store=store)
    relax_gc()
    certificates, _ = load_certificates(args.certificates)
    decisions, rules = collections.Counter(), collections.Counter()
    bad = 0

    def listings():
        nonlocal bad
        for line, item in read_parsed(args.listings, parse_listing):
            if isinstance(item, RecordError):
                bad += 1
                print(f"{args.listings}:{line}: {item}", file=sys.stderr)
            else:
                yield item

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(args.output, "wb")) if args.output else sys.stdout.buffer
        for verdict in scanner.scan_many(listings(), certificates, args.as_of):
            decisions[verdict.decision] += 1
            rules.update(f.rule for f in verdict.findings)
            out.write(orjson.dumps(verdict.to_dict()) + b"\n")
        out.flush()
    total = sum(decisions.values())
    print(f"scanned {total} listings, {bad} bad records skipped", file=sys.stderr)
    print("decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(decisions.items())) or "none"), file=sys.stderr)
    for rule, n in rules.most_common():
        print(f"  {rule}: {n}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scanner", description="Listing compliance scanner")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="scan listings (JSONL, CSV or Parquet) and write verdicts as JSONL")
    scan.add_argument("listings")
    scan.add_argument("--certificates", help="merchant certificates (JSONL)")
    scan.add_argument("--as-of", type=_date, default=None, help="scan as of this date (default: today)")
    scan.add_argument("--output", help="write verdicts here (default: stdout)")
    scan.add_argument("--rulesets", help="ruleset directory (default: the bundled rulesets/)")
    scan.add_argument("--models", help="model directory (default: the bundled models/)")
    scan.add_argument("--database", default=os.environ.get("SCANNER_DATABASE_URL"),
                      help="store with the imported FDA table and lookup cache (default: $SCANNER_DATABASE_URL;"
                           " none: the rulesets' device-type table only)")
    scan.set_defaults(func=cmd_scan)
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that area is not installed
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for attr in ("listings", "certificates"):
        path = getattr(args, attr, None)
        if path and not Path(path).exists():
            print(f"scanner: error: {attr} file {path} does not exist", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except (RulesetError, ModelError, InputFileError) as exc:   # unusable rulesets, models or files: named
        print(f"scanner: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
