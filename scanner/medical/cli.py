"""`scanner fda import FILE`, `scanner fda sync`, `scanner certificates import FILE`.

`fda sync` downloads FDA's classification file (foiclass.zip) from FDA's download URL
(configurable: --url or SCANNER_FDA_CLASSIFICATION_URL), with timeouts, retries with
backoff and size bounds, parses every row, and only then swaps the stored table in one
transaction: a failed download or a file that does not parse keeps the previous table.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from scanner.medical.fda_files import FdaFileError, read_any, read_path
from scanner.medical.http import HttpError, HttpSettings, fetch, make_session

FDA_CLASSIFICATION_URL = "https://www.accessdata.fda.gov/premarket/ftparea/foiclass.zip"
MIN_BYTES = 50_000          # operational sanity bounds of the download, not policy
MAX_BYTES = 200_000_000
MIN_ROWS = 1_000


def _store(args):
    from scanner.store import open_store
    store = open_store(args.database)
    store.upgrade()
    return store


def _import_rows(store, rows: list[dict], label: str) -> int:
    n = store.replace_fda_classification(rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["device_class"]] = counts.get(r["device_class"], 0) + 1
    detail = ", ".join(f"class {k}: {v}" for k, v in sorted(counts.items()))
    print(f"imported {n} FDA product codes from {label} ({detail})")
    return n


def cmd_fda_import(args) -> int:
    try:
        rows = read_path(args.file)
    except (OSError, FdaFileError) as exc:
        print(f"fda import: {exc}", file=sys.stderr)
        return 2
    with _store(args) as store:
        _import_rows(store, rows, args.file)
    return 0


def download_classification(url: str, settings: HttpSettings | None = None, min_bytes: int = MIN_BYTES,
                            max_bytes: int = MAX_BYTES, min_rows: int = MIN_ROWS) -> list[dict]:
    """Download and parse FDA's classification file; raises HttpError/FdaFileError on any problem."""
    settings = settings or HttpSettings(read_timeout=60.0, max_bytes=max_bytes)
    session = make_session(settings)
    status, body, _ = fetch(session, settings, url, max_bytes=max_bytes)
    if status != 200:
        raise HttpError(f"HTTP {status} from {url}")
    if len(body) < min_bytes:
        raise HttpError(f"download of {len(body)} bytes is smaller than the {min_bytes}-byte minimum")
    rows = read_any(body, url.rsplit("/", 1)[-1] or "download")
    if len(rows) < min_rows:
        raise FdaFileError(url, None, "(rows)", f"only {len(rows)} rows, expected at least {min_rows}")
    return rows


def cmd_fda_sync(args) -> int:
    url = args.url or os.environ.get("SCANNER_FDA_CLASSIFICATION_URL") or FDA_CLASSIFICATION_URL
    settings = HttpSettings(read_timeout=args.timeout, retries=args.retries, max_bytes=MAX_BYTES)
    try:
        rows = download_classification(url, settings, min_bytes=args.min_bytes, min_rows=args.min_rows)
    except (HttpError, FdaFileError) as exc:
        print(f"fda sync: {exc}; the stored table is unchanged", file=sys.stderr)
        return 1
    with _store(args) as store:
        _import_rows(store, rows, url)
    return 0


def cmd_certificates_import(args) -> int:
    """Import certificates and re-scan the changed merchants' medical-device listings
    (the same import as `scanner db import-certificates`)."""
    from scanner.sweep_certs import import_certificates

    with _store(args) as store:
        store.upgrade()
        got = import_certificates(store, args.file, args.as_of, not args.no_rescan, args.rulesets, args.models)
    for line, reason in got["bad"]:
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    print(f"imported {got['imported']} certificates ({len(got['merchants_changed'])} merchants changed), "
          f"{len(got['bad'])} bad records skipped; re-scanned: {dict(got.get('rescan', {}))}")
    return 0 if not got["bad"] else 1


def register(subparsers) -> None:
    db_help = "database URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)"
    fda = subparsers.add_parser("fda", help="FDA product classification table")
    fsub = fda.add_subparsers(dest="fda_command", required=True)
    imp = fsub.add_parser("import", help="import foiclass.txt, the product-code CSV, openFDA JSON or a zip")
    imp.add_argument("file")
    imp.add_argument("--database", help=db_help)
    imp.set_defaults(func=cmd_fda_import)
    sync = fsub.add_parser("sync", help="download FDA's current classification file and swap it in")
    sync.add_argument("--url", help=f"download URL (default: $SCANNER_FDA_CLASSIFICATION_URL or {FDA_CLASSIFICATION_URL})")
    sync.add_argument("--database", help=db_help)
    sync.add_argument("--timeout", type=float, default=60.0)
    sync.add_argument("--retries", type=int, default=3)
    sync.add_argument("--min-bytes", type=int, default=MIN_BYTES)
    sync.add_argument("--min-rows", type=int, default=MIN_ROWS)
    sync.set_defaults(func=cmd_fda_sync)

    certs = subparsers.add_parser("certificates", help="merchant certificates")
    csub = certs.add_subparsers(dest="certificates_command", required=True)
    cimp = csub.add_parser("import", help="import certificates (JSONL, CSV or Parquet) into the store")
    cimp.add_argument("file")
    cimp.add_argument("--database", help=db_help)
    cimp.add_argument("--as-of", type=dt.date.fromisoformat, help="re-scan as of this date (default: today)")
    cimp.add_argument("--no-rescan", action="store_true", help="do not re-scan the merchants' listings")
    cimp.add_argument("--rulesets", help="ruleset directory for the re-scan")
    cimp.add_argument("--models", help="model directory for the re-scan")
    cimp.set_defaults(func=cmd_certificates_import)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="scanner")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
