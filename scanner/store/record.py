"""Recording verdicts: history, findings, review flags and the penalty ledger, in one transaction
per batch. Idempotent under re-runs and concurrent writers:

* the batch's listing rows are upserted first (sorted), which locks them in PostgreSQL and
  SQLite holds the write lock (BEGIN IMMEDIATE): the state read next cannot move under us;
* verdict history is keyed (listing_id, seq) and only written when the outcome changes;
* review flags: a partial UNIQUE index allows one unresolved flag per listing + rule;
* the penalty ledger: UNIQUE (listing_id, rule) with INSERT ... ON CONFLICT DO NOTHING.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from scanner.listing import Listing, Verdict
from scanner.store import keys
from scanner.store.db import in_list, insert
from scanner.store.exceptions import EXCEPTED
from scanner.store.models import FindingRow, ListingRow, PenaltyCharge, ReviewFlag, VerdictRow

L, V, F = ListingRow.__table__, VerdictRow.__table__, FindingRow.__table__
FLAGS, LEDGER = ReviewFlag.__table__, PenaltyCharge.__table__
REVIEW = "review"
IN_CHUNK = 500   # bound on IN (...) lists


@dataclass(slots=True)
class Item:
    """One scanned listing to record."""

    listing_id: str
    merchant_id: str
    verdict: Verdict
    fingerprint: str
    scan_key: str
    content: bytes | None = None
    raw_digest: str | None = None   # keys.raw_digest of the JSONL line the listing was read from


def item_for(listing: Listing, verdict: Verdict, fingerprint: str, scan_key: str | None = None) -> Item:
    return Item(listing.listing_id, listing.merchant_id, verdict, fingerprint,
                scan_key or fingerprint, keys.pack_content(listing))


def _outcome(v: Verdict) -> str:
    return keys.outcome_key(v.decision, v.blocked_markets,
                            [(f.rule, f.outcome, f.points, sorted(f.blocked_markets)) for f in v.findings])


def _flag_rules(v: Verdict, flag_below: float | Mapping[str, float] | None) -> dict[str, str]:
    """rule -> reason for findings a person must review (review outcome, or low confidence).
    `flag_below` is one confidence threshold, or one per rule id (from the rulesets)."""
    out: dict[str, str] = {}
    for f in v.findings:
        if f.outcome == EXCEPTED:
            continue
        below = flag_below.get(f.rule) if isinstance(flag_below, Mapping) else flag_below
        if f.outcome == REVIEW:
            out.setdefault(f.rule, f.reason)
        elif below is not None and f.confidence < below:
            out.setdefault(f.rule, f"low confidence {f.confidence:.2f}: {f.reason}")
    return out


def _chunks(seq: Sequence, n: int = IN_CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class Conflict(RuntimeError):
    """A concurrent writer inserted one of this batch's new listings first: retry the batch."""


class _Raw:
    """Plain DBAPI executemany for the hot inserts: SQLAlchemy's per-row parameter processing
    costs more than the database does. SQL text is built from this module's constants only."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def value(self, v, kind: str = ""):
        if kind == "json":
            return orjson.dumps(v).decode()
        if not self.pg and isinstance(v, dt.datetime):
            return v.isoformat(sep=" ", timespec="microseconds")
        if not self.pg and isinstance(v, dt.date):
            return v.isoformat()
        return v

    def run(self, sql_head: str, columns: list[str], rows: list[tuple], json: set[str] = frozenset(),
            tail: str = "") -> int:
        if not rows:
            return 0
        ph = ["%s::jsonb" if (self.pg and c in json) else ("%s" if self.pg else "?") for c in columns]
        sql = f"{sql_head} ({', '.join(columns)}) VALUES ({', '.join(ph)}) {tail}"
        kinds = ["json" if c in json else "" for c in columns]
        params = [tuple(self.value(v, k) for v, k in zip(row, kinds)) for row in rows]
        cur = self.conn.connection.driver_connection.cursor()
        try:
            cur.executemany(sql, params)
            return cur.rowcount
        finally:
            cur.close()

    def update_listings(self, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        mark = "%s" if self.pg else "?"
        sql = f"UPDATE listings SET {', '.join(f'{c} = {mark}' for c in columns)} WHERE listing_id = {mark}"
        cur = self.conn.connection.driver_connection.cursor()
        try:
            cur.executemany(sql, [tuple(self.value(v) for v in row) for row in rows])
        finally:
            cur.close()


V_COLS = ["listing_id", "seq", "decision", "blocked_markets", "points", "ruleset_version", "model_version",
          "as_of", "fingerprint", "outcome_key", "notes", "run_id", "created_at"]
F_COLS = ["listing_id", "seq", "idx", "rule", "outcome", "grade", "points", "blocked_markets", "confidence",
          "reason", "evidence", "excepted_by"]
L_NEW = ["listing_id", "merchant_id", "fingerprint", "scan_key", "seq", "outcome_key", "decision", "content",
         "raw_digest", "first_seen", "last_seen"]
L_UPD = ["merchant_id", "fingerprint", "scan_key", "seq", "outcome_key", "decision", "last_seen"]


def record_items(conn: sa.Connection, items: list[Item], now: dt.datetime, run_id: int | None = None,
                 flag_below: float | Mapping[str, float] | None = None) -> Counter:
    """Record a batch inside the caller's transaction; returns counts (verdict rows, flags, charges).
    Raises Conflict when a concurrent writer created one of the new listings first (retry the batch)."""
    counts: Counter = Counter()
    if not items:
        return counts
    raw = _Raw(conn)
    by_id = {it.listing_id: it for it in items}          # last one wins for duplicate ids in a batch
    ids = sorted(by_id)
    state: dict[str, tuple[int, str | None, str]] = {}
    open_flags: dict[str, dict[str, int]] = {}
    charged: set[tuple[str, str]] = set()
    for part in _chunks(ids):
        q = sa.select(L.c.listing_id, L.c.seq, L.c.outcome_key, L.c.fingerprint).where(L.c.listing_id.in_(part))
        if raw.pg:
            q = q.order_by(L.c.listing_id).with_for_update()   # existing rows: locked until commit
        found = 0
        for lid, seq, ok, fp in conn.execute(q):
            state[lid] = (seq, ok, fp)
            found += 1
        if not found:
            continue                                        # none stored yet: no flags or charges either
        for fid, lid, rule in conn.execute(sa.select(FLAGS.c.id, FLAGS.c.listing_id, FLAGS.c.rule)
                                           .where(FLAGS.c.listing_id.in_(part), FLAGS.c.resolved_at.is_(None))):
            open_flags.setdefault(lid, {})[rule] = fid
        charged.update((a, b) for a, b in conn.execute(sa.select(LEDGER.c.listing_id, LEDGER.c.rule)
                                                       .where(LEDGER.c.listing_id.in_(part))))

    verdict_rows, finding_rows, new_listings, listing_updates, contents, raws = [], [], [], [], [], []
    flag_rows, resolve_ids, charge_rows = [], [], []
    for lid in ids:
        it, v = by_id[lid], by_id[lid].verdict
        seq, old_outcome, old_fp = state.get(lid, (0, None, None))
        outcome = _outcome(v)
        if outcome != old_outcome:
            seq += 1
            counts["verdicts"] += 1
            verdict_rows.append((lid, seq, v.decision, list(v.blocked_markets), v.points, v.ruleset_version,
                                 v.model_version, dt.date.fromisoformat(str(v.as_of)), it.fingerprint, outcome,
                                 list(v.notes), run_id, now))
            for idx, f in enumerate(v.findings):
                finding_rows.append((lid, seq, idx, f.rule, f.outcome, f.grade, f.points, list(f.blocked_markets),
                                     float(f.confidence), f.reason,
                                     [{"field": e.field, "start": e.start, "end": e.end, "text": e.text,
                                       "detector": e.detector} for e in f.evidence], _excepted_by(v, f)))
        if lid in state:
            listing_updates.append((it.merchant_id, it.fingerprint, it.scan_key, seq, outcome, v.decision, now, lid))
            if it.content is not None:
                contents.append((it.content, lid))
            if it.raw_digest is not None or it.fingerprint != old_fp:
                raws.append((it.raw_digest, lid))   # a line read now, or content from elsewhere: no line
        else:
            new_listings.append((lid, it.merchant_id, it.fingerprint, it.scan_key, seq, outcome, v.decision,
                                 it.content, it.raw_digest, now, now))
        wanted = _flag_rules(v, flag_below)
        existing = open_flags.get(lid, {})
        for rule, reason in wanted.items():
            if rule in existing:
                counts["flags_unchanged"] += 1
            else:
                counts["flags_new"] += 1
                flag_rows.append({"listing_id": lid, "merchant_id": it.merchant_id, "rule": rule,
                                  "status": "open", "seq": seq, "reason": reason[:2000], "opened_at": now})
        current_rules = {f.rule for f in v.findings if f.outcome != EXCEPTED}
        for rule, fid in existing.items():
            if rule not in current_rules:
                counts["flags_resolved"] += 1
                resolve_ids.append(fid)
        for f in v.findings:
            if f.outcome != EXCEPTED and f.points > 0 and (lid, f.rule) not in charged:
                charged.add((lid, f.rule))
                counts["charges"] += 1
                counts["points_charged"] += f.points
                charge_rows.append({"listing_id": lid, "merchant_id": it.merchant_id, "rule": f.rule,
                                    "points": f.points, "seq": seq, "charged_at": now})

    if raw.run("INSERT INTO listings", L_NEW, new_listings, tail="ON CONFLICT DO NOTHING") != len(new_listings):
        raise Conflict("a concurrent writer recorded one of these listings first")
    raw.update_listings(L_UPD, listing_updates)
    raw.update_listings(["content"], contents)
    raw.update_listings(["raw_digest"], raws)
    raw.run("INSERT INTO verdicts", V_COLS, verdict_rows, {"blocked_markets", "notes"}, "ON CONFLICT DO NOTHING")
    raw.run("INSERT INTO findings", F_COLS, finding_rows, {"blocked_markets", "evidence"}, "ON CONFLICT DO NOTHING")
    if flag_rows:
        conn.execute(insert(conn, FLAGS).on_conflict_do_nothing(), flag_rows)
    for part in _chunks(resolve_ids):
        conn.execute(FLAGS.update().where(FLAGS.c.id.in_(part), FLAGS.c.resolved_at.is_(None))
                     .values(resolved_at=now, resolution="finding no longer present on rescan"))
    if charge_rows:
        conn.execute(insert(conn, LEDGER).on_conflict_do_nothing(), charge_rows)
    return counts


def _excepted_by(v: Verdict, f) -> int | None:
    if f.outcome != EXCEPTED:
        return None
    marker = f"excepted: {f.rule} by exception #"
    for note in v.notes:
        if note.startswith(marker):
            digits = note[len(marker):].split(" ", 1)[0]
            return int(digits) if digits.isdigit() else None
    return None


def relink(conn: sa.Connection, raw_digests: dict[str, str]) -> None:
    """listing_id -> the digest of the line an unchanged listing was read from this time (its
    content is the stored one, in other bytes: another key order, other white space)."""
    _Raw(conn).update_listings(["raw_digest"], [(d, lid) for lid, d in sorted(raw_digests.items())])


def touch(conn: sa.Connection, listing_ids: list[str], now: dt.datetime) -> None:
    """Mark unchanged (skipped) listings as seen."""
    sql = f"UPDATE {L.name} SET last_seen = {{p}} WHERE listing_id IN ({{in}})"
    to_db = L.c.last_seen.type.bind_processor(conn.dialect)  # the driver gets what SQLAlchemy would send
    seen = to_db(now) if to_db else now
    for part in _chunks(sorted(listing_ids)):
        in_list(conn, sql, part, (seen,))
