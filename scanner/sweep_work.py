"""Worker side of a sweep: build the Scanner(s) once per worker process, scan one chunk.

The same function serves the local process pool and Dask workers. A chunk's result is a plain
list; the coordinating process writes it to the store idempotently, so a retried chunk (a Dask
worker lost, a killed sweep resumed) changes nothing."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from scanner.listing import Certificate, RecordError, Verdict, parse_listing
from scanner.store import keys

_SCANNERS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Spec:
    """Which scanners a worker needs: the live one, and in a shadow run the candidate."""

    rulesets: str | None = None
    models: str | None = None
    shadow_rulesets: str | None = None
    shadow_models: str | None = None
    database: str | None = None          # the store's URL: the Scanner reads the FDA table and cache from it


@dataclass(slots=True)
class ChunkJob:
    chunk: int
    as_of: str
    # (line, canonical JSON of the record, fingerprint, scan_key) for records that must be scanned
    records: list[tuple[int, bytes, str, str]]
    certificates: dict[str, list[Certificate]] = field(default_factory=dict)


@dataclass(slots=True)
class Scanned:
    line: int
    listing_id: str
    merchant_id: str
    fingerprint: str
    scan_key: str
    target_markets: list[str] | None
    verdict: Verdict | None = None      # live verdict
    candidate: Verdict | None = None    # shadow runs: the candidate's verdict
    content: bytes | None = None
    title: str = ""
    error: str | None = None


def scanners(spec: Spec) -> tuple[Any, Any | None]:
    """The (live, candidate) scanners for this process, built once."""
    with _LOCK:
        got = _SCANNERS.get(spec)
        if got is None:
            from scanner.engine import Scanner
            from scanner.gc_tuning import relax_gc

            store = None
            if spec.database is not None:
                from scanner.store import open_store

                store = open_store(spec.database)   # kept open for the worker's life
            live = Scanner.load(spec.rulesets, spec.models, store=store)
            cand = None
            if spec.shadow_rulesets or spec.shadow_models:
                cand = Scanner.load(spec.shadow_rulesets or spec.rulesets, spec.shadow_models or spec.models,
                                    store=store)
            got = _SCANNERS[spec] = (live, cand)
            relax_gc()
        return got


def init_worker(spec: Spec) -> None:
    """Build the scanners before the first chunk comes. A failure is left to scan_chunk, which meets
    it again and raises it where the coordinator reads it: a pool initializer's error would only
    break the pool, its message lost."""
    try:
        scanners(spec)
    except Exception:  # noqa: BLE001, S110 - raised again by the first scan_chunk
        pass


def _scan_all(scanner, listings, certs, as_of) -> list[Verdict | Exception]:
    """Scan in one batch; if the batch fails, one by one so only the failing listing is lost."""
    try:
        return list(scanner.scan_many(listings, certs, as_of))
    except Exception:  # noqa: BLE001 - isolate the failing listing below
        out: list[Verdict | Exception] = []
        for listing in listings:
            try:
                out.append(next(iter(scanner.scan_many([listing], certs, as_of))))
            except Exception as exc:  # noqa: BLE001 - reported as this record's error
                out.append(exc)
        return out


def scan_chunk(spec: Spec, job: ChunkJob) -> tuple[int, list[Scanned]]:
    live, cand = scanners(spec)
    out: list[Scanned] = []
    valid, items = [], []
    for line, canon, fp, key in job.records:
        record = orjson.loads(canon)
        try:
            listing = parse_listing(record, line)
        except RecordError as exc:
            lid = record.get("listing_id")
            out.append(Scanned(line, lid[:200] if isinstance(lid, str) else "", "", fp, key, None,
                               error=str(exc)))
            continue
        valid.append(listing)
        items.append(Scanned(line, listing.listing_id, listing.merchant_id, fp, key, listing.target_markets,
                             title=listing.title[:120],
                             content=None if cand is not None else keys.pack_canonical(canon)))
    certs = [c for cs in job.certificates.values() for c in cs]
    results = _scan_all(live, valid, certs, job.as_of)
    cands = _scan_all(cand, valid, certs, job.as_of) if cand is not None else [None] * len(valid)
    for item, v, c in zip(items, results, cands):
        for got in (v, c):
            if isinstance(got, Exception):
                item.error = f"record {item.listing_id!r} (line {item.line}): scanner failed: " \
                             f"{type(got).__name__}: {str(got)[:300]}"
        if item.error is None:
            item.verdict, item.candidate = v, c
        out.append(item)
    return job.chunk, out
