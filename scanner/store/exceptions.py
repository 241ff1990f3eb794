"""Rule exceptions ("snoozes"): an active exception for a rule and a merchant (optionally one
market) turns that rule's finding into a recorded 'excepted' finding and a note, instead of a
block. Pure functions: the store supplies the exceptions, the sweep applies them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

from scanner.listing import DECISION_ORDER, Finding, Verdict

EXCEPTED = "excepted"
ALL = "*"


@dataclass(frozen=True, slots=True)
class ActiveException:
    id: int
    rule: str
    merchant_id: str
    market: str | None
    reason: str
    author: str
    expires: dt.date


def _expand(markets, groups: Mapping[str, frozenset[str] | set[str]]) -> set[str]:
    out: set[str] = set()
    for m in markets:
        out |= set(groups.get(m, ())) or {m}
    return out


def _excepts(finding: Finding, exc: ActiveException, targets: list[str] | None,
             groups: Mapping) -> bool:
    """Whether exception `exc` removes all of what `finding` blocks for this listing."""
    if exc.rule != finding.rule:
        return False
    if exc.market is None:
        return True
    allowed = _expand([exc.market], groups)
    blocked = set(finding.blocked_markets)
    if ALL in blocked or not blocked:
        # a market snooze clears a blanket finding only when the listing targets nothing else
        return bool(targets) and _expand(targets, groups) <= allowed
    return _expand(blocked, groups) <= allowed


def apply_exceptions(verdict: Verdict, exceptions: list[ActiveException],
                     target_markets: list[str] | None = None,
                     groups: Mapping[str, set[str]] | None = None) -> Verdict:
    """Return `verdict` with excepted findings marked, and decision/markets/points recomputed."""
    if not exceptions or not verdict.findings:
        return verdict
    groups = groups or {}
    findings, notes, changed = [], list(verdict.notes), False
    for f in verdict.findings:
        exc = next((e for e in exceptions if _excepts(f, e, target_markets, groups)), None)
        if exc is None:
            findings.append(f)
            continue
        changed = True
        notes.append(f"excepted: {f.rule} by exception #{exc.id} ({exc.reason}; {exc.author}; "
                     f"until {exc.expires.isoformat()})")
        findings.append(replace(f, outcome=EXCEPTED, points=0, blocked_markets=[], grade=None))
    if not changed:
        return verdict
    live = [f for f in findings if f.outcome != EXCEPTED]
    decision = max((f.outcome for f in live), key=DECISION_ORDER.__getitem__, default="pass")
    markets: set[str] = set()
    for f in live:
        markets |= set(f.blocked_markets)
    blocked = [ALL] if ALL in markets else sorted(markets)
    return replace(verdict, decision=decision, blocked_markets=blocked,
                   points=sum(f.points for f in live), findings=findings, notes=notes)
