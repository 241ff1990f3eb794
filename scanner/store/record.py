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
from dataclasses import dataclass
from typing import Mapping, Sequence

import sqlalchemy as sa

from scanner.listing import Listing, Verdict
from scanner.store import keys
from scanner.store.db import insert
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


def record_items(conn: sa.Connection, items: list[Item], now: dt.datetime, run_id: int | None = None,
                 flag_below: float | Mapping[str, float] | None = None) -> Counter:
    """Record a batch inside the caller's transaction; returns counts (verdict rows, flags, charges)."""
    counts: Counter = Counter()
    if not items:
        return counts
    by_id = {it.listing_id: it for it in items}          # last one wins for duplicate ids in a batch
    ids = sorted(by_id)
    ins = insert(conn, L)
    conn.execute(ins.on_conflict_do_update(index_elements=["listing_id"],
                                           set_={"last_seen": ins.excluded.last_seen}),
                 [{"listing_id": i, "merchant_id": by_id[i].merchant_id, "fingerprint": by_id[i].fingerprint,
                   "scan_key": "", "seq": 0, "first_seen": now, "last_seen": now} for i in ids])
    state: dict[str, tuple[int, str | None]] = {}
    open_flags: dict[str, dict[str, int]] = {}
    charged: set[tuple[str, str]] = set()
    for part in _chunks(ids):
        for lid, seq, ok in conn.execute(sa.select(L.c.listing_id, L.c.seq, L.c.outcome_key)
                                         .where(L.c.listing_id.in_(part))):
            state[lid] = (seq, ok)
        for fid, lid, rule in conn.execute(sa.select(FLAGS.c.id, FLAGS.c.listing_id, FLAGS.c.rule)
                                           .where(FLAGS.c.listing_id.in_(part), FLAGS.c.resolved_at.is_(None))):
            open_flags.setdefault(lid, {})[rule] = fid
        charged.update((a, b) for a, b in conn.execute(sa.select(LEDGER.c.listing_id, LEDGER.c.rule)
                                                       .where(LEDGER.c.listing_id.in_(part))))

    verdict_rows, finding_rows, listing_updates = [], [], []
    flag_rows, resolve_ids, charge_rows = [], [], []
    for lid in ids:
        it, v = by_id[lid], by_id[lid].verdict
        seq, old_outcome = state[lid]
        outcome = _outcome(v)
        if outcome != old_outcome:
            seq += 1
            counts["verdicts"] += 1
            verdict_rows.append({
                "listing_id": lid, "seq": seq, "decision": v.decision, "blocked_markets": list(v.blocked_markets),
                "points": v.points, "ruleset_version": v.ruleset_version, "model_version": v.model_version,
                "as_of": dt.date.fromisoformat(str(v.as_of)), "fingerprint": it.fingerprint,
                "outcome_key": outcome, "notes": list(v.notes), "run_id": run_id, "created_at": now})
            for idx, f in enumerate(v.findings):
                finding_rows.append({
                    "listing_id": lid, "seq": seq, "idx": idx, "rule": f.rule, "outcome": f.outcome,
                    "grade": f.grade, "points": f.points, "blocked_markets": list(f.blocked_markets),
                    "confidence": float(f.confidence), "reason": f.reason,
                    "evidence": [{"field": e.field, "start": e.start, "end": e.end, "text": e.text,
                                  "detector": e.detector} for e in f.evidence],
                    "excepted_by": _excepted_by(v, f)})
        upd = {"b_id": lid, "merchant_id": it.merchant_id, "fingerprint": it.fingerprint,
               "scan_key": it.scan_key, "seq": seq, "outcome_key": outcome, "decision": v.decision,
               "last_seen": now}
        if it.content is not None:
            upd["content"] = it.content
        listing_updates.append(upd)
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

    if verdict_rows:
        conn.execute(insert(conn, V).on_conflict_do_nothing(), verdict_rows)
    if finding_rows:
        conn.execute(insert(conn, F).on_conflict_do_nothing(), finding_rows)
    _update_listings(conn, listing_updates)
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


def _update_listings(conn: sa.Connection, rows: list[dict]) -> None:
    with_content = [r for r in rows if "content" in r]
    without = [r for r in rows if "content" not in r]
    cols = ["merchant_id", "fingerprint", "scan_key", "seq", "outcome_key", "decision", "last_seen"]
    for batch, extra in ((with_content, ["content"]), (without, [])):
        if batch:
            stmt = (L.update().where(L.c.listing_id == sa.bindparam("b_id"))
                    .values({c: sa.bindparam(c) for c in cols + extra}))
            conn.execute(stmt, batch)


def touch(conn: sa.Connection, listing_ids: list[str], now: dt.datetime) -> None:
    """Mark unchanged (skipped) listings as seen."""
    for part in _chunks(sorted(listing_ids)):
        conn.execute(L.update().where(L.c.listing_id.in_(part)).values(last_seen=now))
