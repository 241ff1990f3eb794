"""Sweep sources: a JSONL/CSV/Parquet file (via scanner.io.read_records) or `table:NAME`,
a table of the configured database whose columns are the listing's fields."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from scanner.io import is_json_lines, json_lines, read_records
from scanner.listing import RecordError

TABLE_PREFIX = "table:"
_JSON_FIELDS = ("attributes", "keywords", "image_texts", "target_markets")


def _table(store, name: str) -> sa.Table:
    md = sa.MetaData()
    try:
        return sa.Table(name, md, autoload_with=store.reader)   # a bound name, never SQL text
    except sa.exc.NoSuchTableError:
        raise SystemExit(f"scanner sweep: no table {name!r} in the configured database") from None


def _row(data: dict[str, Any], line: int) -> dict[str, Any] | RecordError:
    out = {}
    for k, v in data.items():
        if v is None:
            continue
        if k in _JSON_FIELDS and isinstance(v, str | bytes):
            try:
                v = orjson.loads(v)
            except orjson.JSONDecodeError as exc:
                return RecordError(f"row {line}", k, f"not valid JSON: {exc}")
        out[k] = v
    return out


def read_source(source: str, store=None, raw: bool = False) -> Iterator[tuple[int, dict | bytes | RecordError]]:
    """(line or row number, record or the error that makes it unusable); raw=True: a JSONL
    file's lines as bytes, unparsed (io.parse_json_line reads one)."""
    if not source.startswith(TABLE_PREFIX):
        yield from json_lines(source) if raw and is_json_lines(source) else read_records(source)
        return
    table = _table(store, source[len(TABLE_PREFIX):])
    order = list(table.primary_key.columns) or [c for c in table.columns if c.name == "listing_id"]
    query = sa.select(table).order_by(*order) if order else sa.select(table)
    with store.reader.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(query)
        for i, row in enumerate(result, start=1):
            yield i, _row(dict(row._mapping), i)


def count_records(source: str, store=None) -> int | None:
    """How many records a source holds, when that is cheap to know (for the progress bar)."""
    if source.startswith(TABLE_PREFIX):
        table = _table(store, source[len(TABLE_PREFIX):])
        with store.reader.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError):
            return None   # unknown; reading it reports why
    if suffix == ".csv":
        return None
    n = 0
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            n += block.count(b"\n")
    return n
