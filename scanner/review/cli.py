"""`scanner users ...` (review accounts) and `scanner feedback export` (decisions as training rows)."""
from __future__ import annotations

import getpass
import os
import sys

import orjson

from scanner.review import auth
from scanner.review.models import ROLES

PASSWORD_ENV = "SCANNER_REVIEW_PASSWORD"


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="reviewer accounts for the /review pages")
    users.add_argument("--database", help="database URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    sub = users.add_subparsers(dest="users_command", required=True)
    create = sub.add_parser("create", help="create an account (password from --password-stdin, "
                                           f"${PASSWORD_ENV}, or a prompt)")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(func=cmd_create)
    sub.add_parser("list", help="list accounts").set_defaults(func=cmd_list)
    for name, text in (("disable", "disable an account and end its sessions"), ("enable", "enable an account"),
                       ("unlock", "clear a lock-out after failed logins")):
        p = sub.add_parser(name, help=text)
        p.add_argument("username")
        p.set_defaults(func=cmd_change, change=name)

    fb = subparsers.add_parser("feedback", help="reviewer decisions as labelled rows for `scanner train --feedback`")
    fb.add_argument("--database", help="database URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    fsub = fb.add_subparsers(dest="feedback_command", required=True)
    exp = fsub.add_parser("export", help="write confirmed/dismissed decisions as JSONL")
    exp.add_argument("file", help="output file ('-' for stdout)")
    exp.add_argument("--all-families", action="store_true",
                     help="also rules of families the classifiers are not trained for")
    exp.set_defaults(func=cmd_export)


def _store(args):
    from scanner.store import open_store
    store = open_store(args.database)
    store.upgrade()
    return store


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise auth.AuthError(f"user {args.username!r}: field 'password': the two entries differ")
    return first


def cmd_create(args) -> int:
    with _store(args) as store:
        try:
            uid = auth.create_user(store.engine, args.username, _password(args), args.role)
        except auth.AuthError as exc:
            print(f"scanner users: {exc}", file=sys.stderr)
            return 1
    print(f"created {args.role} {args.username!r} (id {uid})")
    return 0


def cmd_list(args) -> int:
    with _store(args) as store:
        for u in auth.list_users(store.engine):
            state = "disabled" if u["disabled_at"] else ("locked" if u["locked_until"] else "active")
            print(f"{u['username']}\t{u['role']}\t{state}\tlast login {u['last_login'] or '-'}")
    return 0


def cmd_change(args) -> int:
    with _store(args) as store:
        if args.change == "unlock":
            ok = auth.unlock(store.engine, args.username)
        else:
            ok = auth.set_disabled(store.engine, args.username, args.change == "disable")
    if not ok:
        print(f"scanner users: user {args.username!r}: field 'username': no such user", file=sys.stderr)
        return 1
    print(f"{args.change}d {args.username!r}" if args.change != "unlock" else f"unlocked {args.username!r}")
    return 0


def cmd_export(args) -> int:
    from scanner.review.feedback import feedback_rows

    families = None
    if not args.all_families:
        from scanner.ml.corpus import FAMILIES
        families = set(FAMILIES)
    n = 0
    with _store(args) as store:
        out = sys.stdout.buffer if args.file == "-" else open(args.file, "wb")  # noqa: SIM115 - stdout or a file, closed below
        try:
            for row in feedback_rows(store.engine, families):
                out.write(orjson.dumps(row) + b"\n")
                n += 1
        except ValueError as exc:
            print(f"scanner feedback: {exc}", file=sys.stderr)
            return 1
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    print(f"{n} labelled rows written", file=sys.stderr)
    return 0
