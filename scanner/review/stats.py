"""Per-rule statistics for the admin page: hits, confirmed vs dismissed (precision), by detector
and by week."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from scanner.review.auth import utcnow
from scanner.review.models import QUEUE
from scanner.store.store import T

FLAGS, FINDINGS, DECISIONS, EXCEPTIONS = T["review_flags"], T["findings"], T["reviewer_decisions"], \
    T["rule_exceptions"]


def _precision(confirmed: int, dismissed: int) -> float | None:
    return confirmed / (confirmed + dismissed) if confirmed + dismissed else None


def rule_stats(engine: sa.Engine) -> list[dict]:
    rows: dict[str, dict] = defaultdict(lambda: {"hits": 0, "flags": 0, "open": 0, "escalated": 0,
                                                 "confirmed": 0, "dismissed": 0})
    with engine.connect() as conn:
        for rule, n in conn.execute(sa.select(FINDINGS.c.rule, sa.func.count()).group_by(FINDINGS.c.rule)):
            rows[rule]["hits"] = n
        for rule, status, n in conn.execute(sa.select(FLAGS.c.rule, FLAGS.c.status, sa.func.count())
                                            .group_by(FLAGS.c.rule, FLAGS.c.status)):
            rows[rule]["flags"] += n
            rows[rule][status] = rows[rule].get(status, 0) + n
    out = []
    for rule in sorted(rows):
        r = rows[rule]
        out.append({"rule": rule, **r, "precision": _precision(r["confirmed"], r["dismissed"])})
    return out


def detector_stats(engine: sa.Engine) -> list[dict]:
    """Per rule and detector (a flag counts for each detector that gave its evidence)."""
    acc: dict[tuple[str, str], dict] = defaultdict(lambda: {"flags": 0, "confirmed": 0, "dismissed": 0})
    with engine.connect() as conn:
        for rule, detectors, status, n in conn.execute(
                sa.select(QUEUE.c.rule, QUEUE.c.detectors, FLAGS.c.status, sa.func.count())
                .select_from(QUEUE.join(FLAGS, FLAGS.c.id == QUEUE.c.flag_id))
                .group_by(QUEUE.c.rule, QUEUE.c.detectors, FLAGS.c.status)):
            for d in detectors.split() or ["(none)"]:
                a = acc[(rule, d)]
                a["flags"] += n
                if status in ("confirmed", "dismissed"):
                    a[status] += n
    return [{"rule": r, "detector": d, **a, "precision": _precision(a["confirmed"], a["dismissed"])}
            for (r, d), a in sorted(acc.items())]


def weekly_stats(engine: sa.Engine, weeks: int = 12) -> list[dict]:
    """Confirmed and dismissed per rule per ISO week, over the last `weeks` weeks."""
    since = utcnow() - dt.timedelta(weeks=weeks)
    acc: dict[tuple[str, str], dict] = defaultdict(lambda: {"confirmed": 0, "dismissed": 0})
    day = sa.func.date(DECISIONS.c.decided_at)
    with engine.connect() as conn:
        for d, rule, decision, n in conn.execute(
                sa.select(day, FLAGS.c.rule, DECISIONS.c.decision, sa.func.count())
                .select_from(DECISIONS.join(FLAGS, FLAGS.c.id == DECISIONS.c.flag_id))
                .where(DECISIONS.c.decided_at >= since, DECISIONS.c.decision.in_(("confirmed", "dismissed")))
                .group_by(day, FLAGS.c.rule, DECISIONS.c.decision)):
            d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
            year, week, _ = d.isocalendar()
            acc[(f"{year}-W{week:02d}", rule)][decision] += n
    return [{"week": w, "rule": r, **a, "precision": _precision(a["confirmed"], a["dismissed"])}
            for (w, r), a in sorted(acc.items(), reverse=True)]


def exceptions(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(EXCEPTIONS).order_by(EXCEPTIONS.c.id.desc())
                                                       .limit(500))]
