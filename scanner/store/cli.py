"""`scanner db ...`: migrations, certificate import (with re-scans), rule exceptions, status."""
from __future__ import annotations

import argparse
import datetime as dt
import sys

import orjson

from scanner.store import open_store


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def register(subparsers) -> None:
    db = subparsers.add_parser("db", help="the verdict store: migrations, certificates, rule exceptions")
    db.add_argument("--database", help="database URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    sub = db.add_subparsers(dest="db_command", required=True)
    sub.add_parser("upgrade", help="apply the migrations (alembic upgrade head)").set_defaults(func=cmd_upgrade)
    sub.add_parser("status", help="row counts of every table").set_defaults(func=cmd_status)
    imp = sub.add_parser("import-certificates",
                         help="import certificates; re-scan changed merchants' medical-device listings")
    imp.add_argument("file")
    imp.add_argument("--as-of", type=_date)
    imp.add_argument("--no-rescan", action="store_true")
    imp.add_argument("--rulesets")
    imp.add_argument("--models")
    imp.set_defaults(func=cmd_import_certificates)
    exc = sub.add_parser("except", help="add a rule exception (snooze) for a merchant")
    exc.add_argument("rule")
    exc.add_argument("merchant_id")
    exc.add_argument("--market")
    exc.add_argument("--reason", required=True)
    exc.add_argument("--author", required=True)
    exc.add_argument("--expires", type=_date, required=True, help="last day the exception applies")
    exc.add_argument("--starts", type=_date)
    exc.set_defaults(func=cmd_except)
    rev = sub.add_parser("revoke-exception", help="end a rule exception now")
    rev.add_argument("id", type=int)
    rev.set_defaults(func=cmd_revoke)


def _store(args):
    return open_store(args.database)


def cmd_upgrade(args) -> int:
    with _store(args) as store:
        store.upgrade()
        print(f"database {store.engine.url.render_as_string(hide_password=True)} is at the latest schema")
    return 0


def cmd_status(args) -> int:
    with _store(args) as store:
        store.upgrade()
        for name, n in sorted(store.counts().items()):
            print(f"{name}: {n}")
    return 0


def cmd_import_certificates(args) -> int:
    from scanner.sweep_certs import import_certificates

    with _store(args) as store:
        store.upgrade()
        got = import_certificates(store, args.file, args.as_of, not args.no_rescan, args.rulesets, args.models)
    for line, reason in got.pop("bad"):
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    sys.stdout.write(orjson.dumps(got).decode() + "\n")
    return 0


def cmd_except(args) -> int:
    with _store(args) as store:
        store.upgrade()
        eid = store.add_exception(args.rule, args.merchant_id, args.reason, args.author, args.expires,
                                  args.market, args.starts)
    print(f"rule exception #{eid}: {args.rule} for {args.merchant_id}"
          f"{' in ' + args.market if args.market else ''} until {args.expires}")
    return 0


def cmd_revoke(args) -> int:
    with _store(args) as store:
        ok = store.revoke_exception(args.id)
    print(f"rule exception #{args.id} {'revoked' if ok else 'not found or already revoked'}")
    return 0 if ok else 1
