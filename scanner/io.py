"""Reading records (JSONL, CSV, Parquet) and writing verdicts (JSONL).

Every record comes with its line number (1-based; for CSV the header is line 1, for
Parquet the row number) and either the parsed dict or the error that made it unusable.
"""
from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson

from scanner.listing import Certificate, RecordError, parse_certificate

T = TypeVar("T")
PARQUET_BATCH = 8192   # rows read at a time: a large Parquet file is never held whole


class InputFileError(ValueError):
    """A listings or certificates file that cannot be read at all (named, with the reason)."""

# CSV cells holding these fields are JSON (objects or lists), or for lists a "|"-separated string.
_JSON_FIELDS = {"attributes", "keywords", "image_texts", "target_markets", "certificates", "device_classes"}
_INT_FIELDS = {"registration_year"}


def _csv_row(row: dict[str, str], line: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise RecordError(f"line {line}", "(record)", "more cells than header columns")
        if value is None or value == "":
            continue
        if key in _JSON_FIELDS:
            if value.lstrip().startswith(("{", "[")):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise RecordError(f"line {line}", key, f"not valid JSON: {exc.msg}") from None
            else:
                value = [v.strip() for v in value.split("|") if v.strip()]
        elif key in _INT_FIELDS:
            try:
                value = int(value)
            except ValueError:
                raise RecordError(f"line {line}", key, "not an integer") from None
        out[key] = value
    return out


def read_records(path: str | Path) -> Iterator[tuple[int, dict | RecordError]]:
    """(line number, record or error) for every record of a JSONL, CSV or Parquet file.
    Raises InputFileError when the file as a whole cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_records(path)
    elif suffix in (".parquet", ".pq"):
        yield from _parquet_records(path)
    else:
        for i, raw in json_lines(path):
            yield i, parse_json_line(i, raw)


def _csv_records(path: Path) -> Iterator[tuple[int, dict | RecordError]]:
    undecodable: set[int] = set()   # physical lines that are not UTF-8
    with path.open("rb") as f:
        reader = csv.DictReader(_decoded_lines(f, undecodable))
        first = 2   # the physical line a row starts on (the header is line 1)
        try:
            if reader.fieldnames is not None and 1 in undecodable:
                raise InputFileError(f"{path}: the header line is not UTF-8 text")
            for row in reader:
                line = reader.line_num
                try:
                    if undecodable and any(n in undecodable for n in range(first, line + 1)):
                        raise RecordError(f"line {line}", "(record)", "not UTF-8 text")
                    yield line, _csv_row(row, line)
                except RecordError as exc:
                    yield line, exc
                first = line + 1
        except csv.Error as exc:
            raise InputFileError(f"{path}: line {reader.line_num}: unreadable CSV: {exc}") from None


def _decoded_lines(f, undecodable: set[int]) -> Iterator[str]:
    for n, raw in enumerate(f, start=1):
        if n == 1:
            raw = _without_bom(raw)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.add(n)   # the row it belongs to is reported, not scanned
            yield raw.decode("utf-8", "replace")


def _parquet_records(path: Path) -> Iterator[tuple[int, dict | RecordError]]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH)
        i = 0
        for batch in batches:
            for row in batch.to_pylist():
                i += 1
                yield i, {k: _parquet_value(v) for k, v in row.items() if v is not None}
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(f"{path}: not a readable Parquet file: {exc}") from None


def _parquet_value(value: Any) -> Any:
    # a Parquet map column reads as a list of (key, value) pairs; the contract's attributes are a mapping
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return dict(value)
    return value


def is_json_lines(path: str | Path) -> bool:
    """Whether read_records reads `path` as JSONL (anything not CSV or Parquet)."""
    return Path(path).suffix.lower() not in (".csv", ".parquet", ".pq")


def json_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of every line of a JSONL file that is not blank."""
    with Path(path).open("rb") as f:
        for i, raw in enumerate(f, start=1):
            if i == 1:
                raw = _without_bom(raw)
            if not raw.isspace():   # a blank line (no copy, unlike strip)
                yield i, raw


def _without_bom(first_line: bytes) -> bytes:
    """A file's first line without the UTF-8 byte-order mark that spreadsheets and editors write."""
    return first_line.removeprefix(codecs.BOM_UTF8)


def parse_json_line(i: int, raw: bytes) -> dict | RecordError:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return RecordError(f"line {i}", "(record)", f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return RecordError(f"line {i}", "(record)", "expected a JSON object")
    return data


def read_parsed(path: str | Path, parse: Callable[[Any, int], T]) -> Iterator[tuple[int, T | RecordError]]:
    """(line number, parsed record or the error naming record and field) for every record."""
    for line, record in read_records(path):
        if isinstance(record, RecordError):
            yield line, record
            continue
        try:
            yield line, parse(record, line)
        except RecordError as exc:
            yield line, exc


def read_certificates(path: str | Path) -> tuple[list[Certificate], list[tuple[int, RecordError]]]:
    """Every good certificate of a file, and the bad records with their line numbers."""
    good, bad = [], []
    for line, item in read_parsed(path, parse_certificate):
        if isinstance(item, RecordError):
            bad.append((line, item))
        else:
            good.append(item)
    return good, bad
