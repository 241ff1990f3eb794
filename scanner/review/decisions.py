"""Reviewer decisions: confirm (charges the rule's points once, in the ledger), dismiss (a negative
example; reverses a charge; optionally a rule exception for the merchant), escalate (to admins).
Each decision is one transaction with its audit entry, so the log never misses an action."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from scanner.review import queue
from scanner.review.auth import User, utcnow
from scanner.review.models import AUDIT, QUEUE
from scanner.store.db import insert
from scanner.store.store import T

FLAGS, DECISIONS, LEDGER, EXCEPTIONS = T["review_flags"], T["reviewer_decisions"], T["penalty_ledger"], \
    T["rule_exceptions"]
ACTIONS = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}


class DecisionError(ValueError):
    """A decision that cannot be made; names the flag and the field."""

    def __init__(self, flag_id: int | None, field: str, message: str, status: int = 422):
        self.flag_id, self.field, self.message, self.status = flag_id, field, message, status
        super().__init__(f"flag {flag_id}: field '{field}': {message}")


@dataclass
class Outcome:
    flag_id: int
    status: str
    charge: str = ""
    exception_id: int | None = None
    audit_id: int | None = None


@dataclass
class BulkResult:
    done: list[Outcome] = field(default_factory=list)
    skipped: list[DecisionError] = field(default_factory=list)


def audit(conn: sa.Connection, actor: str, action: str, target: str, reason: str,
          before: dict | None = None, after: dict | None = None, flag_id: int | None = None) -> int:
    return conn.execute(AUDIT.insert().values(at=utcnow(), actor=actor, action=action, flag_id=flag_id,
                                              target=target[:400], before=before, after=after,
                                              reason=reason).returning(AUDIT.c.id)).scalar_one()


def _points(conn: sa.Connection, flag, rule_points: dict[str, int]) -> int:
    """The finding's points, or the rule's own (a review finding costs none until a person confirms)."""
    found = conn.execute(sa.select(QUEUE.c.points).where(QUEUE.c.flag_id == flag.id)).scalar()
    return int(found) if found else int(rule_points.get(flag.rule, 0))


def decide(engine: sa.Engine, user: User, flag_id: int, action: str, reason: str, *, rule_points: dict[str, int],
           claim_seconds: int, max_reason: int = 2000, exception_expires: dt.date | None = None) -> Outcome:
    if action not in ACTIONS:
        raise DecisionError(flag_id, "action", f"must be one of {', '.join(ACTIONS)}")
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError(flag_id, "reason", "a reason is required")
    if len(reason) > max_reason:
        raise DecisionError(flag_id, "reason", f"at most {max_reason} characters")
    if exception_expires is not None:
        if action != "dismiss":
            raise DecisionError(flag_id, "exception_expires", "an exception goes with a dismissal only")
        if exception_expires < utcnow().date():
            raise DecisionError(flag_id, "exception_expires", "the expiry is in the past")
    new = ACTIONS[action]
    with engine.begin() as conn:
        flag = conn.execute(sa.select(FLAGS).where(FLAGS.c.id == flag_id)).first()
        if flag is None:
            raise DecisionError(flag_id, "flag_id", "no such flag", 404)
        if flag.resolved_at is not None:
            raise DecisionError(flag_id, "status", "the finding is gone since a rescan: nothing to decide", 409)
        if flag.status not in ("open", "escalated") or (flag.status == "escalated" and not user.is_admin):
            raise DecisionError(flag_id, "status", f"already {flag.status}" +
                                ("" if flag.status != "escalated" else ": an admin decides it"), 409)
        if flag.status == "escalated" and action == "escalate":
            raise DecisionError(flag_id, "action", "already escalated", 409)
        held, holder, until = queue.claim(conn, flag_id, user.username, claim_seconds)
        if not held:
            raise DecisionError(flag_id, "claim", f"held by {holder} until {until:%H:%M:%S} UTC", 409)
        charge = conn.execute(sa.select(LEDGER).where(LEDGER.c.listing_id == flag.listing_id,
                                                      LEDGER.c.rule == flag.rule)).first()
        before = {"status": flag.status, "charge": _charge_state(charge)}
        out = Outcome(flag_id, new)
        now = utcnow()
        if action == "confirm":
            out.charge = _confirm_charge(conn, flag, charge, _points(conn, flag, rule_points), user, now)
        elif action == "dismiss":
            if charge is not None and charge.reversed_at is None:
                conn.execute(LEDGER.update().where(LEDGER.c.id == charge.id).values(
                    reversed_at=now, reversed_by=user.username, reversal_reason=f"dismissed: {reason}"[:2000]))
                out.charge = f"reversed {charge.points} points"
            if exception_expires is not None:
                out.exception_id = conn.execute(EXCEPTIONS.insert().values(
                    rule=flag.rule, merchant_id=flag.merchant_id, market=None, reason=reason,
                    author=user.username, created_at=now, starts=now.date(), expires=exception_expires)
                    .returning(EXCEPTIONS.c.id)).scalar_one()
        conn.execute(FLAGS.update().where(FLAGS.c.id == flag_id).values(status=new))
        conn.execute(DECISIONS.insert().values(flag_id=flag_id, reviewer=user.username, decision=new,
                                               note=reason, decided_at=now))
        queue.release(conn, flag_id, user.username)
        after_charge = conn.execute(sa.select(LEDGER).where(LEDGER.c.listing_id == flag.listing_id,
                                                            LEDGER.c.rule == flag.rule)).first()
        after = {"status": new, "charge": _charge_state(after_charge)}
        if out.exception_id is not None:
            after["exception"] = {"id": out.exception_id, "expires": exception_expires.isoformat()}
        out.audit_id = audit(conn, user.username, action, f"{flag.listing_id} {flag.rule}", reason,
                             before, after, flag_id)
    return out


def _confirm_charge(conn, flag, charge, points: int, user: User, now: dt.datetime) -> str:
    if charge is not None and charge.reversed_at is None:
        return f"already charged {charge.points} points"
    if charge is not None:     # reversed earlier (a dismissal overturned by an admin): reinstate it
        conn.execute(LEDGER.update().where(LEDGER.c.id == charge.id)
                     .values(reversed_at=None, reversed_by=None, reversal_reason=None))
        return f"reinstated {charge.points} points"
    if points <= 0:
        return "no points for this rule"
    res = conn.execute(insert(conn, LEDGER).on_conflict_do_nothing().values(
        listing_id=flag.listing_id, merchant_id=flag.merchant_id, rule=flag.rule, points=points,
        seq=flag.seq, charged_at=now).returning(LEDGER.c.id)).first()
    return f"charged {points} points" if res is not None else "already charged"


def _charge_state(charge) -> dict | None:
    if charge is None:
        return None
    return {"points": charge.points, "reversed": charge.reversed_at is not None}


def decide_many(engine: sa.Engine, user: User, flag_ids: list[int], action: str, reason: str,
                **kw) -> BulkResult:
    """A decision on each flag of a selection; flags that cannot take it are skipped with the reason."""
    result = BulkResult()
    for fid in flag_ids:
        try:
            result.done.append(decide(engine, user, fid, action, reason, **kw))
        except DecisionError as exc:
            if exc.field in ("reason", "action", "exception_expires"):
                raise
            result.skipped.append(exc)
    return result


def flag_audit(engine: sa.Engine, flag_id: int) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(AUDIT).where(AUDIT.c.flag_id == flag_id).order_by(AUDIT.c.id))]


def recent_audit(engine: sa.Engine, limit: int = 100) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit))]
