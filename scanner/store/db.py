"""Engine creation: SQLite (WAL, one writer at a time via BEGIN IMMEDIATE) or PostgreSQL."""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

DEFAULT_URL = "sqlite:///scanner.db"
ENV = "SCANNER_DATABASE_URL"


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get(ENV) or DEFAULT_URL
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]   # psycopg 3, not psycopg2
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path, _, query = url[len("sqlite:///"):].partition("?")
        if path and path != ":memory:":   # workers in other directories must open the same file
            url = f"sqlite:///{Path(path).resolve()}" + (f"?{query}" if query else "")
    return url


def make_engine(url: str | None = None, readonly: bool = False) -> sa.Engine:
    """readonly (SQLite): deferred transactions, which never wait for or hold the write lock."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_conn, _record):
            dbapi_conn.isolation_level = None          # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # writers take the write lock up front (no lock-upgrade deadlocks); WAL readers never block
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def insert(conn: sa.Connection, table: sa.Table):
    """The dialect's INSERT, which has on_conflict_do_nothing / on_conflict_do_update."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as ins
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as ins
    else:
        raise RuntimeError(f"unsupported database dialect {conn.dialect.name!r}: use SQLite or PostgreSQL")
    return ins(table)


def in_list(conn: sa.Connection, sql: str, values: list, params: tuple = ()):
    """Run `sql` whose last placeholder `{in}` takes `values` as an IN (...) list, straight on the
    driver: SQLAlchemy's expanding parameters cost about 1 µs per value, which an unchanged
    sweep of a million listings pays twice. Values go only into placeholders, never the text."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return conn.exec_driver_sql(sql.replace("{in}", ", ".join([mark] * len(values))).replace("{p}", mark),
                                (*params, *values))
