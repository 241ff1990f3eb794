"""The Store: one object over the database for the sweep, the medical lookups and reviewers."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from scanner.listing import Certificate, Listing, Verdict, parse_certificate
from scanner.store import keys
from scanner.store.db import database_url, in_list, insert, make_engine
from scanner.store.exceptions import ActiveException
from scanner.store.models import (
    CacheEntry,
    CertificateRow,
    FdaClassification,
    FindingRow,
    ListingRow,
    PenaltyCharge,
    QuarantineRow,
    ReviewerDecision,
    ReviewFlag,
    RuleException,
    SweepCheckpoint,
    SweepRun,
    VerdictRow,
)
from scanner.store.record import Conflict, Item, item_for, record_items, relink, touch

MIGRATIONS = Path(__file__).with_name("migrations")
RETRIES = 5     # a batch that lost a race to create a listing is retried; then its rows exist
FLAG_STATUSES = ("open", "confirmed", "dismissed", "escalated")
FDA_COLUMNS = ("product_code", "device_name", "device_class", "regulation_number", "medical_specialty",
               "submission_type", "definition")
T = {m.__tablename__: m.__table__ for m in (
    CacheEntry, CertificateRow, FdaClassification, FindingRow, ListingRow, PenaltyCharge, QuarantineRow,
    ReviewerDecision, ReviewFlag, RuleException, SweepCheckpoint, SweepRun, VerdictRow)}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class StoreError(RuntimeError):
    pass


def open_store(url: str | None = None) -> Store:
    """url default: $SCANNER_DATABASE_URL, else sqlite:///scanner.db (WAL mode)."""
    return Store(url)


class Store:
    def __init__(self, url: str | None = None, flag_confidence_below: float | None = None):
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.reader = make_engine(self.url, readonly=True) if self.engine.dialect.name == "sqlite" else self.engine
        # findings below this confidence open a review flag; the sweep sets it from the ruleset
        self.flag_confidence_below = flag_confidence_below

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def counts(self) -> dict[str, int]:
        with self.reader.connect() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for name, t in T.items()}

    # --- FDA product classification --------------------------------------------------------
    def replace_fda_classification(self, rows: Iterable[dict]) -> int:
        t = T["fda_classification"]
        data = []
        for i, row in enumerate(rows):
            if not row.get("product_code"):
                raise StoreError(f"FDA classification row {i}: field 'product_code' is missing")
            data.append({c: (None if row.get(c) is None else str(row.get(c))) for c in FDA_COLUMNS})
        with self.engine.begin() as conn:          # one transaction: readers see old or new, never half
            conn.execute(t.delete())
            if data:
                conn.execute(insert(conn, t).on_conflict_do_nothing(), data)
        return len(data)

    def fda_digest(self) -> str:
        """Digest of the stored FDA classification: verdicts depend on it, so scan keys do too."""
        return keys.set_digest(keys.certificate_digest(r) for r in self.fda_classification())

    def fda_classification(self) -> list[dict]:
        t = T["fda_classification"]
        with self.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.product_code))]

    # --- lookup cache ------------------------------------------------------------------------
    def cache_get(self, namespace: str, key: str) -> dict | None:
        t = T["lookup_cache"]
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(t.c.value).where(t.c.namespace == namespace, t.c.key == key,
                                                          t.c.expires_at > utcnow())).first()
        return None if row is None else row[0]

    def cache_put(self, namespace: str, key: str, value: dict, ttl_seconds: int) -> None:
        t = T["lookup_cache"]
        expires = utcnow() + dt.timedelta(seconds=ttl_seconds)
        with self.engine.begin() as conn:
            ins = insert(conn, t).values(namespace=namespace, key=key, value=value, expires_at=expires)
            conn.execute(ins.on_conflict_do_update(index_elements=["namespace", "key"],
                                                   set_={"value": ins.excluded.value,
                                                         "expires_at": ins.excluded.expires_at}))

    # --- certificates ----------------------------------------------------------------------------
    def upsert_certificates(self, certs: Iterable[Certificate | dict]) -> set[str]:
        """Insert or update certificates; returns the merchant ids whose certificate set changed."""
        t = T["certificates"]
        rows = {}
        for c in certs:
            c = parse_certificate(c)
            data = c.model_dump(mode="json")
            rows[c.certificate_id] = {"certificate_id": c.certificate_id, "merchant_id": c.merchant_id,
                                      "digest": keys.certificate_digest(data), "data": data}
        if not rows:
            return set()
        now = utcnow()
        changed: set[str] = set()
        with self.engine.begin() as conn:
            old = {}
            ids = sorted(rows)
            for i in range(0, len(ids), 500):
                old.update({cid: (m, d) for cid, m, d in conn.execute(
                    sa.select(t.c.certificate_id, t.c.merchant_id, t.c.digest)
                    .where(t.c.certificate_id.in_(ids[i:i + 500])))})
            for cid, row in rows.items():
                prev = old.get(cid)
                if prev is None or prev[1] != row["digest"] or prev[0] != row["merchant_id"]:
                    changed.add(row["merchant_id"])
                    if prev is not None:
                        changed.add(prev[0])
                row["updated_at"] = now
            ins = insert(conn, t)
            conn.execute(ins.on_conflict_do_update(
                index_elements=["certificate_id"],
                set_={"merchant_id": ins.excluded.merchant_id, "digest": ins.excluded.digest,
                      "data": ins.excluded.data, "updated_at": ins.excluded.updated_at}),
                [rows[c] for c in ids])
        return changed

    def certificates_for(self, merchant_id: str) -> list[Certificate]:
        return self.certificates_for_many([merchant_id]).get(merchant_id, [])

    def certificates_for_many(self, merchant_ids: Iterable[str]) -> dict[str, list[Certificate]]:
        t = T["certificates"]
        out: dict[str, list[Certificate]] = {}
        mids = sorted(set(merchant_ids))
        with self.reader.connect() as conn:
            for i in range(0, len(mids), 500):
                for m, data in conn.execute(sa.select(t.c.merchant_id, t.c.data)
                                            .where(t.c.merchant_id.in_(mids[i:i + 500]))
                                            .order_by(t.c.certificate_id)):
                    out.setdefault(m, []).append(Certificate.model_validate(data))
        return out

    def certificate_digests(self, as_of: dt.date | None = None) -> dict[str, str]:
        """merchant_id -> digest of its certificate set (merchants with none are absent); with
        as_of, also of how that date relates to each certificate's validity dates."""
        t = T["certificates"]
        per: dict[str, list[str]] = {}
        with self.reader.connect() as conn:
            for m, d, data in conn.execute(sa.select(t.c.merchant_id, t.c.digest, t.c.data)):
                per.setdefault(m, []).append(d if as_of is None else f"{d}@{keys.as_of_relation(data, as_of)}")
        return {m: keys.set_digest(ds) for m, ds in per.items()}

    # --- rule exceptions ---------------------------------------------------------------------------
    def add_exception(self, rule: str, merchant_id: str, reason: str, author: str, expires: dt.date,
                      market: str | None = None, starts: dt.date | None = None) -> int:
        for name, value in (("rule", rule), ("merchant_id", merchant_id), ("reason", reason), ("author", author)):
            if not isinstance(value, str) or not value.strip():
                raise StoreError(f"rule exception: field '{name}' is required")
        t = T["rule_exceptions"]
        now = utcnow()
        with self.engine.begin() as conn:
            return conn.execute(t.insert().values(
                rule=rule, merchant_id=merchant_id, market=market, reason=reason, author=author,
                created_at=now, starts=starts or now.date(), expires=expires).returning(t.c.id)).scalar_one()

    def revoke_exception(self, exception_id: int) -> bool:
        t = T["rule_exceptions"]
        with self.engine.begin() as conn:
            res = conn.execute(t.update().where(t.c.id == exception_id, t.c.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
        return res.rowcount == 1

    def active_exceptions(self, merchant_id: str, as_of: dt.date) -> list[ActiveException]:
        return self.active_exceptions_all(as_of).get(merchant_id, [])

    def active_exceptions_all(self, as_of: dt.date) -> dict[str, list[ActiveException]]:
        t = T["rule_exceptions"]
        out: dict[str, list[ActiveException]] = {}
        with self.reader.connect() as conn:
            for r in conn.execute(sa.select(t).where(t.c.revoked_at.is_(None), t.c.starts <= as_of,
                                                     t.c.expires >= as_of).order_by(t.c.id)):
                out.setdefault(r.merchant_id, []).append(ActiveException(
                    r.id, r.rule, r.merchant_id, r.market, r.reason, r.author, r.expires))
        return out

    # --- verdicts -----------------------------------------------------------------------------------
    def record_verdict(self, listing: Listing, verdict: Verdict, fingerprint: str,
                       scan_key: str | None = None) -> Counter:
        return self.record_items([item_for(listing, verdict, fingerprint, scan_key)])

    def record_items(self, items: list[Item], run_id: int | None = None) -> Counter:
        """Record a batch of scanned listings in one transaction."""
        for attempt in range(RETRIES):
            try:
                with self.engine.begin() as conn:
                    return record_items(conn, items, utcnow(), run_id, self.flag_confidence_below)
            except Conflict:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def scan_keys(self, listing_ids: Iterable[str]) -> dict[str, str]:
        t = T["listings"]
        ids = sorted(set(listing_ids))
        out: dict[str, str] = {}
        with self.reader.connect() as conn:
            for i in range(0, len(ids), 500):
                out.update(conn.execute(sa.select(t.c.listing_id, t.c.scan_key)
                                        .where(t.c.listing_id.in_(ids[i:i + 500]))).all())
        return out

    def scan_state(self, listing_ids: Iterable[str]) -> dict[str, tuple[str, str | None, str | None]]:
        """listing_id -> (scan_key, current decision, raw_digest) for the stored ones."""
        t = T["listings"]
        ids = sorted(set(listing_ids))
        out: dict[str, tuple[str, str | None, str | None]] = {}
        sql = f"SELECT listing_id, scan_key, decision, raw_digest FROM {t.name} WHERE listing_id IN ({{in}})"
        with self.reader.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = in_list(conn, sql, ids[i:i + 500]).all()
                out.update((lid, (key, decision, raw)) for lid, key, decision, raw in rows)
        return out

    def raw_state(self, raw_digests: Iterable[str]) -> dict[str, tuple[str, str, str, str, str | None]]:
        """raw_digest -> (listing_id, merchant_id, fingerprint, scan_key, current decision) of the
        listings last read from lines with these digests."""
        t = T["listings"]
        digests = sorted(set(raw_digests))
        out: dict[str, tuple[str, str, str, str, str | None]] = {}
        sql = (f"SELECT raw_digest, listing_id, merchant_id, fingerprint, scan_key, decision FROM {t.name} "
               "WHERE raw_digest IN ({in})")
        with self.reader.connect() as conn:
            for i in range(0, len(digests), 500):
                out.update((row[0], tuple(row[1:])) for row in in_list(conn, sql, digests[i:i + 500]).all())
        return out

    def update_scan_keys(self, scan_keys: dict[str, str]) -> None:
        """Mark listings as up to date under a new scan key without a new verdict."""
        if not scan_keys:
            return
        t = T["listings"]
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.listing_id == sa.bindparam("b_id"))
                         .values(scan_key=sa.bindparam("key")),
                         [{"b_id": k, "key": v} for k, v in sorted(scan_keys.items())])

    def history(self, listing_id: str) -> list[dict[str, Any]]:
        v, f = T["verdicts"], T["findings"]
        with self.reader.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                sa.select(v).where(v.c.listing_id == listing_id).order_by(v.c.seq))]
            for r in rows:
                r["findings"] = [dict(x._mapping) for x in conn.execute(
                    sa.select(f).where(f.c.listing_id == listing_id, f.c.seq == r["seq"]).order_by(f.c.idx))]
        return rows

    def listings_of(self, merchant_id: str) -> list[dict]:
        """Stored content of a merchant's listings (for re-scans after certificate changes)."""
        t = T["listings"]
        with self.reader.connect() as conn:
            return [keys.unpack_content(c) for (c,) in conn.execute(
                sa.select(t.c.content).where(t.c.merchant_id == merchant_id, t.c.content.is_not(None))
                .order_by(t.c.listing_id))]

    # --- review flags and the ledger ------------------------------------------------------------------
    def flags(self, listing_id: str | None = None, unresolved: bool = True) -> list[dict]:
        t = T["review_flags"]
        q = sa.select(t).order_by(t.c.id)
        if listing_id is not None:
            q = q.where(t.c.listing_id == listing_id)
        if unresolved:
            q = q.where(t.c.resolved_at.is_(None))
        with self.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def decide_flag(self, flag_id: int, reviewer: str, decision: str, note: str = "") -> None:
        if decision not in FLAG_STATUSES[1:]:
            raise StoreError(f"flag {flag_id}: field 'decision': must be one of {FLAG_STATUSES[1:]}")
        t, d = T["review_flags"], T["reviewer_decisions"]
        with self.engine.begin() as conn:
            if conn.execute(t.update().where(t.c.id == flag_id).values(status=decision)).rowcount != 1:
                raise StoreError(f"flag {flag_id}: no such flag")
            conn.execute(d.insert().values(flag_id=flag_id, reviewer=reviewer, decision=decision, note=note,
                                           decided_at=utcnow()))

    def charges(self, merchant_id: str | None = None, include_reversed: bool = True) -> list[dict]:
        t = T["penalty_ledger"]
        q = sa.select(t).order_by(t.c.id)
        if merchant_id is not None:
            q = q.where(t.c.merchant_id == merchant_id)
        if not include_reversed:
            q = q.where(t.c.reversed_at.is_(None))
        with self.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def merchant_points(self, merchant_id: str) -> int:
        return sum(c["points"] for c in self.charges(merchant_id, include_reversed=False))

    def reverse_charge(self, listing_id: str, rule: str, reason: str, by: str) -> bool:
        if not reason.strip():
            raise StoreError(f"charge {listing_id} {rule}: field 'reason' is required to reverse a charge")
        t = T["penalty_ledger"]
        with self.engine.begin() as conn:
            res = conn.execute(t.update().where(t.c.listing_id == listing_id, t.c.rule == rule,
                                                t.c.reversed_at.is_(None))
                               .values(reversed_at=utcnow(), reversed_by=by, reversal_reason=reason))
        return res.rowcount == 1

    # --- sweep runs ---------------------------------------------------------------------------------------
    def open_run(self, run_key: str, **fields) -> tuple[int, bool]:
        """The unfinished run with this key (resumed=True), or a new one."""
        t = T["sweep_runs"]
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.c.id).where(t.c.run_key == run_key, t.c.status == "running")
                               .order_by(t.c.id.desc())).first()
            if row is not None:
                return row[0], True
            rid = conn.execute(t.insert().values(run_key=run_key, status="running", started_at=utcnow(),
                                                 **fields).returning(t.c.id)).scalar_one()
            return rid, False

    def unfinished_run(self, source: str, mode: str) -> dict | None:
        t = T["sweep_runs"]
        with self.reader.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.source == source, t.c.mode == mode,
                                                  t.c.status == "running").order_by(t.c.id.desc())).first()
        return None if row is None else dict(row._mapping)

    def done_chunks(self, run_id: int) -> dict[int, dict]:
        t = T["sweep_checkpoints"]
        with self.reader.connect() as conn:
            return {c: counts for c, counts in conn.execute(
                sa.select(t.c.chunk, t.c.counts).where(t.c.run_id == run_id))}

    def checkpoint(self, run_id: int, chunk: int, records: int, counts: dict,
                   quarantine: list[tuple[int, str]] = ()) -> None:
        with self.engine.begin() as conn:
            self._checkpoint(conn, run_id, chunk, records, counts, Counter(), utcnow(), quarantine)

    def _checkpoint(self, conn, run_id, chunk, records, extra, counts, now, quarantine=()):
        merged = dict(extra)
        for k, v in counts.items():
            merged[k] = merged.get(k, 0) + v
        if quarantine:
            conn.execute(insert(conn, T["sweep_quarantine"]).on_conflict_do_nothing(),
                         [{"run_id": run_id, "line": ln, "reason": r[:2000]} for ln, r in quarantine])
        conn.execute(insert(conn, T["sweep_checkpoints"]).on_conflict_do_nothing(),
                     [{"run_id": run_id, "chunk": chunk, "records": records, "counts": merged, "done_at": now}])

    def commit_chunk(self, run_id: int, chunk: int, records: int, items: list[Item], touched: list[str],
                     counts: dict, quarantine: list[tuple[int, str]], relinked: dict[str, str] | None = None) -> Counter:
        """Verdicts, flags, charges, quarantine lines and the checkpoint of one chunk: all or nothing.
        `relinked`: unchanged listings read from other bytes than last time (record.relink)."""
        for attempt in range(RETRIES):
            now = utcnow()
            try:
                with self.engine.begin() as conn:
                    got = record_items(conn, items, now, run_id, self.flag_confidence_below)
                    touch(conn, touched, now)
                    if relinked:
                        relink(conn, relinked)
                    self._checkpoint(conn, run_id, chunk, records, counts, got, now, quarantine)
                return got
            except Conflict:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def quarantined(self, run_id: int) -> list[tuple[int, str]]:
        t = T["sweep_quarantine"]
        with self.reader.connect() as conn:
            return list(conn.execute(sa.select(t.c.line, t.c.reason).where(t.c.run_id == run_id)
                                     .order_by(t.c.line)).all())

    def finish_run(self, run_id: int, summary: dict) -> None:
        t = T["sweep_runs"]
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == run_id).values(status="done", finished_at=utcnow(),
                                                                   summary=summary))

    def run(self, run_id: int) -> dict:
        t = T["sweep_runs"]
        with self.reader.connect() as conn:
            return dict(conn.execute(sa.select(t).where(t.c.id == run_id)).one()._mapping)
