"""Throw-away databases for tests and benchmarks: a SQLite file, or a fresh PostgreSQL schema
(dropped afterwards) on $SCANNER_TEST_PG_URL, default the local server's `test` database."""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

PG_URL = os.environ.get("SCANNER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def temp_database(kind: str, directory: str | Path | None = None) -> Iterator[str]:
    """Yield a database URL for `kind` ('sqlite' or 'postgresql'); clean up afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(dir=directory) as d:
            yield f"sqlite:///{Path(d) / 'scanner.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_URL}: start it "
                           f"(pg_ctlcluster ... main start) — {exc.orig}") from None
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
