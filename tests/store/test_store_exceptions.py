"""apply_exceptions: pure, no database."""
import datetime as dt

from scanner.listing import Finding, Verdict
from scanner.store import ActiveException, apply_exceptions

GROUPS = {"EU": {"DE", "FR"}}


def exc(rule, market=None, eid=1):
    return ActiveException(eid, rule, "M-1", market, "audit", "ops", dt.date(2030, 1, 1))


def f(rule, outcome, markets, points=0):
    return Finding(rule, "A" if points else None, points, markets, 0.9, "r", [], outcome)


def verdict(*findings):
    fs = list(findings)
    return Verdict("L-1", fs[0].outcome, sorted({m for x in fs for m in x.blocked_markets}),
                   sum(x.points for x in fs), fs, "rs", "m", "2022-02-01")


def test_rule_exception_recomputes_decision_markets_points():
    v = verdict(f("a/block", "block", ["*"], 6), f("b/restrict", "restrict", ["EU"]))
    got = apply_exceptions(v, [exc("a/block")], None, GROUPS)
    assert (got.decision, got.blocked_markets, got.points) == ("restrict", ["EU"], 0)
    assert [x.outcome for x in got.findings] == ["excepted", "restrict"]
    assert got.notes == ["excepted: a/block by exception #1 (audit; ops; until 2030-01-01)"]
    assert v.decision == "block"                       # the input is not modified


def test_market_exception_only_covers_its_market():
    v = verdict(f("b/restrict", "restrict", ["EU"]))
    assert apply_exceptions(v, [exc("b/restrict", "DE")], ["DE", "FR"], GROUPS).decision == "restrict"
    assert apply_exceptions(v, [exc("b/restrict", "EU")], ["DE", "FR"], GROUPS).decision == "pass"
    blanket = verdict(f("a/block", "block", ["*"], 6))
    assert apply_exceptions(blanket, [exc("a/block", "DE")], ["DE", "US"], GROUPS).decision == "block"
    assert apply_exceptions(blanket, [exc("a/block", "DE")], ["DE"], GROUPS).decision == "pass"
    assert apply_exceptions(blanket, [exc("a/block", "DE")], None, GROUPS).decision == "block"


def test_other_rules_untouched():
    v = verdict(f("a/block", "block", ["*"], 6))
    assert apply_exceptions(v, [exc("z/other")], None, GROUPS) is v
