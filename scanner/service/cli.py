"""`scanner serve` (the pre-publish HTTP service under uvicorn) and `scanner keys create|revoke|list`."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile


def register(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="run the pre-publish HTTP service (FastAPI under uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2, help="worker processes (each loads one Scanner)")
    serve.add_argument("--database", help="store URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    serve.add_argument("--rulesets", help="ruleset directory (default: the bundled rulesets/)")
    serve.add_argument("--models", help="model directory (default: the bundled models/)")
    serve.add_argument("--record", choices=("background", "wait", "off"),
                       help="verdicts to the store: background = answer at once, commit in batches right after; "
                            "wait = answer after the commit (default: $SCANNER_RECORD or background)")
    serve.add_argument("--graceful-timeout", type=float, default=30.0,
                       help="seconds to let in-flight requests finish on shutdown")
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--access-log", action="store_true", help="log every request (slower)")
    serve.set_defaults(func=cmd_serve)

    keys = subparsers.add_parser("keys", help="API keys of the HTTP service")
    keys.add_argument("--database", help="store URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="create a key and print it (once: only its hash is stored)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", required=True, choices=("scan", "certificates", "admin"))
    create.add_argument("--rate-limit", type=int, help="requests per minute (default: $SCANNER_RATE_LIMIT)")
    create.set_defaults(func=cmd_keys_create)
    revoke = sub.add_parser("revoke", help="revoke a key by id, or every active key of a name")
    revoke.add_argument("key", help="key id or name")
    revoke.set_defaults(func=cmd_keys_revoke)
    sub.add_parser("list", help="list keys (never the keys themselves)").set_defaults(func=cmd_keys_list)


def _store(url: str | None):
    from scanner.store import open_store
    store = open_store(url)
    store.upgrade()
    return store


def cmd_keys_create(args) -> int:
    from scanner.service.apikeys import ApiKeyError, create_key
    with _store(args.database) as store:
        try:
            key_id, token = create_key(store.engine, args.name, args.scope, args.rate_limit)
        except ApiKeyError as exc:
            print(f"scanner keys: {exc}", file=sys.stderr)
            return 2
    print(f"created key #{key_id} '{args.name}' (scope {args.scope}); it is shown only now:", file=sys.stderr)
    print(token)
    return 0


def cmd_keys_revoke(args) -> int:
    from scanner.service.apikeys import revoke_key
    with _store(args.database) as store:
        n = revoke_key(store.engine, args.key)
    print(f"revoked {n} key(s)", file=sys.stderr)
    return 0 if n else 1


def cmd_keys_list(args) -> int:
    from scanner.service.apikeys import list_keys
    with _store(args.database) as store:
        for k in list_keys(store.reader):
            state = f"revoked {k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "active"
            limit = k["rate_limit"] if k["rate_limit"] is not None else "default"
            print(f"#{k['id']}\t{k['name']}\t{k['scope']}\t{k['shown']}…\trate {limit}/min\t{state}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from scanner.service import workers

    for env, value in (("SCANNER_DATABASE_URL", args.database), ("SCANNER_RULESETS", args.rulesets),
                       ("SCANNER_MODELS", args.models), ("SCANNER_RECORD", args.record)):
        if value:
            os.environ[env] = value          # the workers read their settings from the environment
    from scanner.service.settings import Settings, SettingsError
    try:
        Settings.from_env()
    except SettingsError as exc:
        print(f"scanner serve: {exc}", file=sys.stderr)
        return 2
    _store(os.environ.get("SCANNER_DATABASE_URL")).close()   # migrate once, before any worker starts
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="scanner-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    print(f"serving on http://{args.host}:{args.port} with {args.workers} worker(s) "
          f"(docs: /docs, metrics: /metrics)", file=sys.stderr)
    options = {"log_level": args.log_level, "access_log": args.access_log, "server_header": False,
               "timeout_graceful_shutdown": args.graceful_timeout}
    try:
        if args.workers > 1 and workers.SUPPORTED:
            # each worker stops within the graceful timeout plus the final commit of queued verdicts
            return workers.serve(args.host, args.port, args.workers, options, args.graceful_timeout + 90)
        uvicorn.run(workers.APP, factory=True, host=args.host, port=args.port, workers=args.workers, **options)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
