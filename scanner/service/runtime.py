"""What the service holds for its lifetime: one Scanner, the store, caches, the verdict recorder.

Everything here is synchronous and runs in worker threads (never on the event loop)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scanner.gc_tuning import relax_gc
from scanner.listing import Certificate, Listing, RecordError, Verdict, parse_certificate, parse_listing
from scanner.service import apikeys, metrics
from scanner.service.limits import FieldTooLong, check_fields
from scanner.service.ratelimit import RateLimiter
from scanner.service.recorder import QueueFull, Recorder
from scanner.service.settings import Settings
from scanner.store import Store, apply_exceptions, keys
from scanner.store.record import Item
from scanner.store.store import T as TABLES

log = logging.getLogger("scanner.service")
CACHE_ENTRIES = 50_000
FLUSH_SECONDS = 2.0    # how long a verdict read waits for this process's queued verdicts


class TTLCache:
    """A small thread-safe cache whose entries expire after `ttl` seconds (0: no caching)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key, load: Callable[[], Any]):
        now = self.clock()
        hit = self._data.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        if self.ttl > 0:
            with self._lock:
                if len(self._data) >= CACHE_ENTRIES:
                    self._data.clear()
                self._data[key] = (now + self.ttl, value)
        return value

    def peek(self, key, default=None):
        hit = self._data.get(key)
        return hit[1] if hit is not None and hit[0] > self.clock() else default

    def drop(self, key=None) -> None:
        with self._lock:
            if key is None:
                self._data.clear()
            else:
                self._data.pop(key, None)


class Conflict(RecordError):
    """The request names an id that conflicts with the path or with what is stored (409)."""


class ScanFailed(RecordError):
    """The scanner raised on a listing: a bug, logged with its traceback; the rest of a batch goes on."""


DATE_FIELDS = ("valid_from", "valid_until")


@dataclass(slots=True)
class Scanned:
    """One listing of a request: its verdict, or why it was refused."""

    verdict: Verdict | None = None
    error: RecordError | FieldTooLong | None = None
    item: Item | None = None


class Runtime:
    def __init__(self, settings: Settings, scanner=None, store: Store | None = None):
        from scanner.engine import Scanner
        from scanner.sweep_certs import flag_thresholds

        self.settings = settings
        self.store = store or Store(settings.database_url)
        self.store.upgrade()
        self.scanner = scanner or Scanner.load(settings.rulesets_dir, settings.models_dir, store=self.store)
        relax_gc()  # fewer collector pauses in request latency
        self.store.flag_confidence_below = flag_thresholds(self.scanner.rulesets)
        self.groups = {k: set(v) for k, v in self.scanner.rulesets.markets.groups.items()}
        self.versions = (self.scanner.ruleset_version, self.scanner.model_version)
        self.executor = ThreadPoolExecutor(settings.scan_threads, thread_name_prefix="scan")
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        background = settings.record == "background"
        self.recorder = None if settings.record == "off" else Recorder(
            self.store, settings.record_queue, retry=background, linger=settings.record_linger if background else 0)
        self._keys = TTLCache(settings.cache_seconds)
        self._certs = TTLCache(settings.cache_seconds)
        self._holders = TTLCache(settings.cache_seconds)
        self._exceptions = TTLCache(settings.cache_seconds)
        metrics.INFO.labels(*self.versions).set(1)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self.recorder is not None:
            self.recorder.close()
        self.store.close()

    # --- keys -------------------------------------------------------------------------------------
    def cached_key(self, token: str) -> apikeys.ApiKey | None:
        """The key from the cache only (no database): the event loop's fast path."""
        return self._keys.peek(apikeys.hash_key(token))

    def key_for(self, token: str) -> apikeys.ApiKey | None:
        """The active key for a presented token. Unknown tokens are not cached (no memory to fill)."""
        digest = apikeys.hash_key(token)
        key = self._keys.peek(digest)
        if key is not None:
            return key
        key = self._keys.get(digest, lambda: apikeys.find_key(self.store.reader, token))
        if key is None:
            self._keys.drop(digest)
        return key

    # --- certificates -------------------------------------------------------------------------------
    def certificates(self, merchant_id: str) -> tuple[list[Certificate], str]:
        """A merchant's stored certificates and the digest of the set (the sweep's scan-key part).
        Which merchants hold certificates is cached as one map, so a listing of a merchant without
        any (most of them) costs no query."""
        digest = self._holders.get(None, self.store.certificate_digests).get(merchant_id)
        if digest is None:
            return [], ""
        return self._certs.get((merchant_id, digest), lambda: self.store.certificates_for(merchant_id)), digest

    def put_certificates(self, merchant_id: str, records: list[Any], replace: bool) -> list[Certificate]:
        """replace=True: `records` is the merchant's whole set (errors name `certificates[i].field`);
        otherwise one certificate is added or updated."""
        certs = [self._certificate(merchant_id, r, i if replace else None) for i, r in enumerate(records)]
        ids = [c.certificate_id for c in certs]
        if len(set(ids)) != len(ids):
            raise Conflict(f"certificates of merchant {merchant_id!r}", "certificate_id", "duplicate id")
        clash = self._owned_elsewhere(merchant_id, ids)
        if clash:
            raise Conflict(f"certificate {clash!r}", "certificate_id",
                              "belongs to another merchant")
        self.store.upsert_certificates(certs)
        if replace:
            t = TABLES["certificates"]
            with self.store.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.merchant_id == merchant_id, t.c.certificate_id.not_in(ids))
                             if ids else t.delete().where(t.c.merchant_id == merchant_id))
        self._holders.drop()
        return certs

    def delete_certificates(self, merchant_id: str, certificate_id: str | None = None) -> int:
        t = TABLES["certificates"]
        cond = t.c.merchant_id == merchant_id
        if certificate_id is not None:
            cond = sa.and_(cond, t.c.certificate_id == certificate_id)
        with self.store.engine.begin() as conn:
            n = conn.execute(t.delete().where(cond)).rowcount
        self._holders.drop()
        return n

    def stored_certificates(self, merchant_id: str) -> list[Certificate]:
        return self.store.certificates_for(merchant_id)

    def _owned_elsewhere(self, merchant_id: str, ids: list[str]) -> str | None:
        if not ids:
            return None
        t = TABLES["certificates"]
        with self.store.reader.connect() as conn:
            row = conn.execute(sa.select(t.c.certificate_id).where(
                t.c.certificate_id.in_(ids), t.c.merchant_id != merchant_id).limit(1)).first()
        return None if row is None else row[0]

    def _certificate(self, merchant_id: str, record: Any, index: int | None) -> Certificate:
        where = f"certificates[{index}]." if index is not None else ""
        if not isinstance(record, dict):
            raise RecordError(f"certificate {index if index is not None else ''}".strip(), where + "(record)",
                              "expected a JSON object")
        try:
            check_fields(record, self.settings)
        except FieldTooLong as exc:
            raise RecordError(_record_name("certificate", record, "certificate_id"), where + exc.field,
                              exc.message) from None
        if "merchant_id" in record and record["merchant_id"] != merchant_id:
            raise Conflict(_record_name("certificate", record, "certificate_id"), where + "merchant_id",
                           "does not match the merchant in the path")
        for name in DATE_FIELDS:   # the contract parser would also take a number as a timestamp
            if record.get(name) is not None and not isinstance(record[name], str):
                raise RecordError(_record_name("certificate", record, "certificate_id"), where + name,
                                  "expected a date as a string (YYYY-MM-DD)")
        try:
            return parse_certificate({**_integral(record), "merchant_id": merchant_id})
        except RecordError as exc:
            raise RecordError(exc.record, where + exc.field, exc.message) from None

    # --- scanning -----------------------------------------------------------------------------------
    def active_exceptions(self, as_of: dt.date) -> dict:
        return self._exceptions.get(as_of, lambda: self.store.active_exceptions_all(as_of))

    def scan_records(self, records: list[Any], as_of: dt.date) -> list[Scanned]:
        """Scan raw listing records: each gets a verdict (with the merchant's stored certificates and
        active rule exceptions applied) or the error that names its field. Runs in a worker thread."""
        t0 = time.perf_counter()
        out: list[Scanned | None] = [None] * len(records)
        listings, where = [], []
        for i, record in enumerate(records):
            try:
                listings.append(self._parse(record))
                where.append(i)
            except RecordError as exc:
                metrics.item_error(exc.field)
                out[i] = Scanned(error=exc)
        for i, scanned in zip(where, self._scan_listings(listings, as_of), strict=True):
            out[i] = scanned
        metrics.STAGE_SECONDS.labels("scan").observe(time.perf_counter() - t0)
        return out

    def scan_batch(self, jobs: list[tuple[Any, dt.date]]) -> tuple[list[Scanned], Future | None]:
        """The micro-batcher's call: scan (record, as_of) jobs together and queue their verdicts.
        Returns the results and, when recording waits for the commit, the batch's commit future.
        Raises QueueFull when the recorder cannot take the verdicts (nothing of the batch is queued)."""
        metrics.BATCH_SIZE.observe(len(jobs))
        out: list[Scanned | None] = [None] * len(jobs)
        by_day: dict[dt.date, list[int]] = {}
        for i, (_, day) in enumerate(jobs):
            by_day.setdefault(day, []).append(i)
        for day, idx in by_day.items():
            for i, scanned in zip(idx, self.scan_records([jobs[i][0] for i in idx], day), strict=True):
                out[i] = scanned
        fut = self.record(out)
        return out, fut if self.settings.record == "wait" else None

    def _parse(self, record: Any) -> Listing:
        if isinstance(record, dict):
            try:
                check_fields(record, self.settings)
            except FieldTooLong as exc:
                raise RecordError(_record_name("listing", record, "listing_id"), exc.field, exc.message) from None
        return parse_listing(record)

    def _scan_listings(self, listings: list[Listing], as_of: dt.date) -> list[Scanned]:
        """One scan_many call for the batch (one classifier product); if it raises, each listing
        alone, so that one listing's failure does not fail the others."""
        if not listings:
            return []
        exceptions = self.active_exceptions(as_of)
        held = {m: self.certificates(m) for m in {lst.merchant_id for lst in listings}}
        certs = [c for cs, _ in held.values() for c in cs]
        try:
            verdicts = list(self.scanner.scan_many(listings, certs, as_of))
        except Exception:  # noqa: BLE001 - found again below, listing by listing
            return [self._scan_alone(lst, as_of, exceptions, held[lst.merchant_id]) for lst in listings]
        return [self._finish(lst, v, exceptions, held[lst.merchant_id][1]) for lst, v in zip(listings, verdicts, strict=True)]

    def _scan_alone(self, listing: Listing, as_of: dt.date, exceptions: dict,
                    held: tuple[list[Certificate], str]) -> Scanned:
        try:
            return self._finish(listing, self.scanner.scan(listing, held[0], as_of), exceptions, held[1])
        except Exception:  # one listing's failure must not fail the others (blind on purpose)
            log.exception("scanning listing %r failed", listing.listing_id[:200])
            metrics.item_error("(scan)")
            return Scanned(error=ScanFailed(f"listing {listing.listing_id[:200]!r}", "(record)",
                                            "the scanner failed on this listing (logged)"))

    def _finish(self, listing: Listing, verdict: Verdict, exceptions: dict, cert_digest: str) -> Scanned:
        """Apply the merchant's rule exceptions, count the verdict, and prepare its record."""
        excs = exceptions.get(listing.merchant_id, [])
        if excs:
            verdict = apply_exceptions(verdict, excs, listing.target_markets, self.groups)
        metrics.observe_verdict(verdict)
        item = None
        if self.recorder is not None:
            fp, content = keys.fingerprint_and_content(listing.model_dump())
            exc_digest = keys.set_digest(str(e.id) for e in excs)
            item = Item(listing.listing_id, listing.merchant_id, verdict, fp,
                        keys.scan_key(fp, cert_digest, exc_digest, *self.versions), content)
        return Scanned(verdict=verdict, item=item)

    def record(self, scanned: list[Scanned]) -> Future | None:
        """Queue the verdicts for the store; raises QueueFull when they do not fit."""
        items = [s.item for s in scanned if s is not None and s.item is not None]
        if not items or self.recorder is None:
            return None
        try:
            fut = self.recorder.submit(items)
        except QueueFull:
            metrics.RECORD_REFUSED.inc(len(items))
            raise
        if self.settings.record == "background":
            fut.add_done_callback(_log_failure)
        return fut

    # --- verdict history and readiness ---------------------------------------------------------------
    def history(self, listing_id: str) -> list[dict]:
        if self.recorder is not None and self.settings.record == "background":
            self.recorder.flush(FLUSH_SECONDS)    # this process's own scans are readable at once
        return self.store.history(listing_id)

    def ready(self) -> dict[str, Any]:
        with self.store.reader.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"rulesets": self.versions[0], "models": self.versions[1], "database": "ok",
                "rules": len(self.scanner.rulesets.rules)}


def _whole(value: Any) -> Any:
    exact = isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53
    return int(value) if exact else value


def _integral(record: dict) -> dict:
    """JSON has one number type: 3.0 is the integer 3 (as JSON Schema says); the contract wants ints."""
    out = dict(record)
    if "registration_year" in out:
        out["registration_year"] = _whole(out["registration_year"])
    if isinstance(out.get("device_classes"), list):
        out["device_classes"] = [_whole(v) for v in out["device_classes"]]
    return out


def _record_name(kind: str, record: dict, key: str) -> str:
    ident = record.get(key)
    return f"{kind} {ident[:200]!r}" if isinstance(ident, str) and ident else kind


def _log_failure(fut: Future) -> None:
    exc = fut.exception()
    if exc is not None:
        log.error("recording pre-publish verdicts failed: %s", exc)
