"""Reviewer decisions as labelled rows for `scanner train --feedback`:
{"listing": {...}, "rule": ..., "decision": "confirmed"|"dismissed", ...}, one JSON object a line."""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from scanner.store import keys
from scanner.store.store import T

FLAGS, DECISIONS, LISTINGS = T["review_flags"], T["reviewer_decisions"], T["listings"]
LABELS = ("confirmed", "dismissed")


def feedback_rows(engine: sa.Engine, families: set[str] | None = None) -> Iterator[dict]:
    """The latest confirm/dismiss decision of each flag whose listing content is stored, oldest first.
    Flags whose listing has no stored content are reported by raising: nothing is dropped silently."""
    latest = (sa.select(sa.func.max(DECISIONS.c.id)).where(DECISIONS.c.decision.in_(LABELS))
              .group_by(DECISIONS.c.flag_id))
    q = (sa.select(DECISIONS.c.id, DECISIONS.c.flag_id, DECISIONS.c.decision, DECISIONS.c.reviewer,
                   DECISIONS.c.note, DECISIONS.c.decided_at, FLAGS.c.rule, FLAGS.c.listing_id, FLAGS.c.status,
                   LISTINGS.c.content)
         .select_from(DECISIONS.join(FLAGS, FLAGS.c.id == DECISIONS.c.flag_id)
                      .outerjoin(LISTINGS, LISTINGS.c.listing_id == FLAGS.c.listing_id))
         .where(DECISIONS.c.id.in_(latest)).order_by(DECISIONS.c.id))
    with engine.connect() as conn:
        for r in conn.execute(q).yield_per(1000):
            if families is not None and r.rule.split("/", 1)[0] not in families:
                continue
            if r.status != r.decision:
                continue     # decided, then re-opened by an admin: not a settled label
            if not r.content:
                raise ValueError(f"flag {r.flag_id}: field 'listing': listing {r.listing_id!r} has no stored content")
            yield {"listing": keys.unpack_content(r.content), "rule": r.rule, "decision": r.decision,
                   "flag_id": r.flag_id, "reviewer": r.reviewer, "reason": r.note,
                   "decided_at": r.decided_at.isoformat(timespec="seconds")}
