"""The ranked queue: ranking facts per flag (synced from the store's flags and findings), filters,
pagination and claims that expire."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import sqlalchemy as sa

from scanner.listing import DECISION_ORDER
from scanner.review.auth import utcnow
from scanner.review.models import CLAIMS, QUEUE
from scanner.store import keys
from scanner.store.db import insert
from scanner.store.store import T

FLAGS, FINDINGS, LISTINGS = T["review_flags"], T["findings"], T["listings"]
STATUSES = ("open", "escalated", "confirmed", "dismissed", "all")
SYNC_WINDOW = 5000      # flag ids below the newest synced one that are checked again (late commits)
MAX_FILTER_CHARS = 200
COUNT_CAP = 10_000      # the queue counts matches up to this many ("10000+"): an exact count of 100k costs more


def risk(outcome: str, grade: str | None, points: int, confidence: float) -> float:
    """Higher is riskier: outcome severity, then points, then a graded finding, then confidence
    (ties go to the oldest flag). The grades and points themselves come from the rulesets."""
    return DECISION_ORDER.get(outcome, 0) * 1000.0 + points * 10.0 + (5.0 if grade else 0.0) \
        + max(0.0, min(1.0, confidence))


def sync(engine: sa.Engine, full: bool = False) -> int:
    """Add queue rows for flags that have none; returns how many were added."""
    with engine.begin() as conn:
        low = 0
        if not full:
            top = conn.execute(sa.select(sa.func.max(QUEUE.c.flag_id))).scalar()
            low = max(0, (top or 0) - SYNC_WINDOW)
        q = (sa.select(FLAGS.c.id, FLAGS.c.listing_id, FLAGS.c.merchant_id, FLAGS.c.rule, FLAGS.c.opened_at,
                       FINDINGS.c.outcome, FINDINGS.c.grade, FINDINGS.c.points, FINDINGS.c.confidence,
                       FINDINGS.c.blocked_markets, FINDINGS.c.evidence)
             .select_from(FLAGS.outerjoin(QUEUE, QUEUE.c.flag_id == FLAGS.c.id)
                          .outerjoin(FINDINGS, sa.and_(FINDINGS.c.listing_id == FLAGS.c.listing_id,
                                                       FINDINGS.c.seq == FLAGS.c.seq,
                                                       FINDINGS.c.rule == FLAGS.c.rule)))
             .where(QUEUE.c.flag_id.is_(None), FLAGS.c.id > low).order_by(FLAGS.c.id))
        rows: dict[int, dict] = {}
        for r in conn.execute(q):
            conf = float(r.confidence or 0.0)
            if r.id in rows and rows[r.id]["confidence"] >= conf:
                continue      # the same rule twice in one verdict: rank by the surer finding
            outcome = r.outcome or "review"
            points = int(r.points or 0)
            detectors = sorted({str(e.get("detector", ""))[:20] for e in (r.evidence or []) if isinstance(e, dict)})
            markets = [str(m)[:8] for m in (r.blocked_markets or [])]
            rows[r.id] = {"flag_id": r.id, "listing_id": r.listing_id, "merchant_id": r.merchant_id,
                          "rule": r.rule, "family": r.rule.split("/", 1)[0], "outcome": outcome,
                          "grade": r.grade, "points": points, "confidence": conf,
                          "detectors": (" " + " ".join(detectors) + " ")[:200],
                          "markets": " " + " ".join(markets) + " ",
                          "rank_key": -risk(outcome, r.grade, points, conf), "opened_at": r.opened_at}
        batch = list(rows.values())
        for i in range(0, len(batch), 1000):
            conn.execute(insert(conn, QUEUE).on_conflict_do_nothing(), batch[i:i + 1000])
    return len(rows)


@dataclass
class Filters:
    family: str = ""
    rule: str = ""
    market: str = ""
    merchant: str = ""
    detector: str = ""
    decision: str = ""
    status: str = "open"
    q: str = ""

    @classmethod
    def from_mapping(cls, data) -> Filters:
        f = cls(**{k.name: str(data.get(k.name) or k.default)[:MAX_FILTER_CHARS].strip() for k in fields(cls)})
        if f.status not in STATUSES:
            f.status = "open"
        return f

    def items(self) -> list[tuple[str, str]]:
        return [(k.name, getattr(self, k.name)) for k in fields(self) if getattr(self, k.name)]

    def where(self) -> list:
        out = [FLAGS.c.resolved_at.is_(None)]
        if self.status != "all":
            out.append(FLAGS.c.status == self.status)
        if self.family:
            out.append(QUEUE.c.family == self.family)
        if self.rule:
            out.append(QUEUE.c.rule == self.rule)
        if self.merchant:
            out.append(QUEUE.c.merchant_id == self.merchant)
        if self.decision:
            out.append(QUEUE.c.outcome == self.decision)
        if self.market:
            out.append(QUEUE.c.markets.contains(f" {self.market.upper()} ", autoescape=True))
        if self.detector:
            out.append(QUEUE.c.detectors.contains(f" {self.detector} ", autoescape=True))
        if self.q:
            out.append(sa.or_(QUEUE.c.listing_id.icontains(self.q, autoescape=True),
                              QUEUE.c.merchant_id.icontains(self.q, autoescape=True),
                              FLAGS.c.reason.icontains(self.q, autoescape=True)))
        return out


JOINED = QUEUE.join(FLAGS, FLAGS.c.id == QUEUE.c.flag_id)
ORDER = (QUEUE.c.rank_key, QUEUE.c.opened_at, QUEUE.c.flag_id)


def count(conn: sa.Connection, where: list, cap: int = COUNT_CAP) -> int:
    """Matches under the filters, counted up to `cap` + 1 (more than `cap` means "cap+")."""
    sub = sa.select(QUEUE.c.flag_id).select_from(JOINED).where(*where).limit(cap + 1).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one()


def page(engine: sa.Engine, filters: Filters, number: int, size: int) -> tuple[list[dict], int]:
    """One page of the ranked queue and the count under the filters (up to COUNT_CAP + 1)."""
    now = utcnow()
    where = filters.where()
    with engine.connect() as conn:
        total = count(conn, where)
        ids = [r[0] for r in conn.execute(sa.select(QUEUE.c.flag_id).select_from(JOINED).where(*where)
                                          .order_by(*ORDER).limit(size).offset(max(0, number - 1) * size))]
        if not ids:
            return [], total
        q = (sa.select(QUEUE, FLAGS.c.status, FLAGS.c.reason, CLAIMS.c.reviewer.label("claimed_by"),
                       CLAIMS.c.expires_at.label("claim_expires"), LISTINGS.c.content)
             .select_from(JOINED.outerjoin(CLAIMS, sa.and_(CLAIMS.c.flag_id == QUEUE.c.flag_id,
                                                           CLAIMS.c.expires_at > now))
                          .outerjoin(LISTINGS, LISTINGS.c.listing_id == QUEUE.c.listing_id))
             .where(QUEUE.c.flag_id.in_(ids)))
        rows = {r.flag_id: dict(r._mapping) for r in conn.execute(q)}
    out = []
    for fid in ids:
        r = rows[fid]
        content = r.pop("content")
        r["title"] = _title(content)
        r["age_days"] = (now - r["opened_at"]).days
        out.append(r)
    return out, total


def _title(content: bytes | None) -> str:
    if not content:
        return ""
    try:
        return str(keys.unpack_content(content).get("title") or "")[:200]
    except Exception:      # noqa: BLE001 - a damaged blob must not break the queue page
        return ""


def selection(engine: sa.Engine, filters: Filters, limit: int) -> list[int]:
    """Flag ids under the filters, in queue order (for bulk decisions)."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(QUEUE.c.flag_id).select_from(JOINED)
                                           .where(*filters.where()).order_by(*ORDER).limit(limit))]


def facets(rules: list[str]) -> dict[str, list[str]]:
    """Values offered in the filter drop-downs (the rules are the loaded rulesets')."""
    rules = sorted(rules)
    return {"rule": rules, "family": sorted({r.split("/", 1)[0] for r in rules}), "status": list(STATUSES),
            "decision": sorted(DECISION_ORDER, key=DECISION_ORDER.get, reverse=True)}


# --- claims --------------------------------------------------------------------------------------
def claim(conn: sa.Connection, flag_id: int, reviewer: str, seconds: int) -> tuple[bool, str, dt.datetime]:
    """Take (or extend) a flag's claim unless another reviewer holds an unexpired one.
    Returns (held by `reviewer`, holder, until)."""
    now = utcnow()
    ins = insert(conn, CLAIMS).values(flag_id=flag_id, reviewer=reviewer,
                                      expires_at=now + dt.timedelta(seconds=seconds))
    conn.execute(ins.on_conflict_do_update(
        index_elements=["flag_id"], set_={"reviewer": ins.excluded.reviewer, "expires_at": ins.excluded.expires_at},
        where=sa.or_(CLAIMS.c.expires_at <= now, CLAIMS.c.reviewer == ins.excluded.reviewer)))
    holder, until = conn.execute(sa.select(CLAIMS.c.reviewer, CLAIMS.c.expires_at)
                                 .where(CLAIMS.c.flag_id == flag_id)).one()
    return holder == reviewer, holder, until


def release(conn: sa.Connection, flag_id: int, reviewer: str) -> None:
    conn.execute(CLAIMS.delete().where(CLAIMS.c.flag_id == flag_id, CLAIMS.c.reviewer == reviewer))
