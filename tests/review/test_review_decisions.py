"""Decisions, the ledger, claims, the queue's ranking and filters, statistics and the feedback export,
on SQLite and the real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from review_harness import CONFIDENCE_BELOW, PASSWORD, finding, record

from scanner.cli import main as scanner_main
from scanner.review import auth, decisions, queue, stats
from scanner.review.feedback import feedback_rows
from scanner.store.store import Store
from scanner.store.testing import temp_database

CLAIM = "sexual_health/enhancement_claim"
OUTSIDE = "e_cigarette/outside_category"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    with temp_database(request.param, tmp_path) as url:
        store = Store(url, flag_confidence_below=CONFIDENCE_BELOW)
        store.upgrade()
        yield url, store
        store.close()


def user(store, name="rita", role="reviewer"):
    uid = auth.create_user(store.engine, name, PASSWORD, role)
    return auth.User(uid, name, role)


def kw(rulesets):
    return {"rule_points": {r: x.points for r, x in rulesets.rules.items()}, "claim_seconds": 60}


def seed(store, rulesets):
    t = "Herbal drops: long lasting"
    record(store, {"listing_id": "A", "merchant_id": "M1", "title": t}, [finding(CLAIM, "title", t, "long lasting")])
    t = "Pod kit"
    rule = rulesets.rules[OUTSIDE]
    record(store, {"listing_id": "B", "merchant_id": "M2", "title": t, "target_markets": ["US"]},
           [finding(OUTSIDE, "title", t, "Pod kit", outcome="block", grade=rule.grade, points=rule.points,
                    confidence=0.7, markets=["US"], detector="ml")])
    queue.sync(store.engine)
    return {f["listing_id"]: f["id"] for f in store.flags()}


def test_confirm_charges_once_and_dismiss_reverses(db, rulesets):
    _, store = db
    ids = seed(store, rulesets)
    rita, ada = user(store), user(store, "ada", "admin")
    with pytest.raises(decisions.DecisionError, match="reason"):
        decisions.decide(store.engine, rita, ids["A"], "confirm", "  ", **kw(rulesets))
    out = decisions.decide(store.engine, rita, ids["A"], "confirm", "edible, sexual claim", **kw(rulesets))
    assert out.charge == f"charged {rulesets.rules[CLAIM].points} points"
    assert store.merchant_points("M1") == rulesets.rules[CLAIM].points
    with pytest.raises(decisions.DecisionError, match="already confirmed"):
        decisions.decide(store.engine, ada, ids["A"], "confirm", "again", **kw(rulesets))
    assert len(store.charges("M1")) == 1
    # B was charged when recorded (a block finding); dismissing it reverses that charge
    assert store.merchant_points("M2") == rulesets.rules[OUTSIDE].points
    out = decisions.decide(store.engine, rita, ids["B"], "dismiss", "kitchen item", **kw(rulesets),
                           exception_expires=dt.date.today() + dt.timedelta(days=7))
    assert store.merchant_points("M2") == 0 and out.exception_id is not None
    assert [e.rule for e in store.active_exceptions("M2", dt.date.today())] == [OUTSIDE]
    log = decisions.flag_audit(store.engine, ids["B"])
    assert log[-1]["action"] == "dismiss" and log[-1]["actor"] == "rita"
    assert log[-1]["before"]["charge"] == {"points": rulesets.rules[OUTSIDE].points, "reversed": False}
    assert log[-1]["after"]["charge"]["reversed"] is True and log[-1]["after"]["status"] == "dismissed"
    # a rescan of the same listing neither re-opens the flag nor charges again
    t = "Herbal drops: long lasting"
    record(store, {"listing_id": "A", "merchant_id": "M1", "title": t},
           [finding(CLAIM, "title", t, "long lasting", confidence=0.55)])
    assert len(store.charges("M1")) == 1 and len(store.flags("A")) == 1


def test_escalated_flags_are_for_admins(db, rulesets):
    _, store = db
    ids = seed(store, rulesets)
    rita, ada = user(store), user(store, "ada", "admin")
    decisions.decide(store.engine, rita, ids["A"], "escalate", "unsure", **kw(rulesets))
    with pytest.raises(decisions.DecisionError, match="an admin decides"):
        decisions.decide(store.engine, rita, ids["A"], "dismiss", "x", **kw(rulesets))
    decisions.decide(store.engine, ada, ids["A"], "dismiss", "not edible", **kw(rulesets))
    assert store.flags("A")[0]["status"] == "dismissed"


def test_claims_expire_and_exclude(db, rulesets):
    _, store = db
    ids = seed(store, rulesets)
    rita, rob = user(store), user(store, "rob")
    with store.engine.begin() as conn:
        assert queue.claim(conn, ids["A"], "rita", 60)[0]
        held, holder, _ = queue.claim(conn, ids["A"], "rob", 60)
        assert not held and holder == "rita"
    with pytest.raises(decisions.DecisionError, match="held by rita"):
        decisions.decide(store.engine, rob, ids["A"], "confirm", "x", **kw(rulesets))
    with store.engine.begin() as conn:
        assert queue.claim(conn, ids["A"], "rita", 0)[0]           # rita's claim now expires at once
        assert queue.claim(conn, ids["A"], "rob", 60)[0]            # so rob may take it
    decisions.decide(store.engine, rob, ids["A"], "confirm", "ok", **kw(rulesets))
    assert rita.username != rob.username


def test_queue_ranking_filters_and_search(db, rulesets):
    _, store = db
    ids = seed(store, rulesets)
    rows, total = queue.page(store.engine, queue.Filters(), 1, 10)
    assert total == 2 and [r["listing_id"] for r in rows] == ["B", "A"]      # a block outranks a review
    assert rows[0]["title"] == "Pod kit"
    f = queue.Filters.from_mapping
    assert queue.page(store.engine, f({"market": "us"}), 1, 10)[1] == 1
    assert queue.page(store.engine, f({"detector": "ml"}), 1, 10)[0][0]["flag_id"] == ids["B"]
    assert queue.page(store.engine, f({"family": "sexual_health"}), 1, 10)[0][0]["flag_id"] == ids["A"]
    assert queue.page(store.engine, f({"decision": "review", "merchant": "M1"}), 1, 10)[1] == 1
    assert queue.page(store.engine, f({"q": "m2"}), 1, 10)[1] == 1
    assert queue.page(store.engine, f({"q": "100%_"}), 1, 10)[1] == 0          # LIKE wildcards are escaped
    assert queue.page(store.engine, f({"status": "escalated"}), 1, 10)[1] == 0
    assert queue.page(store.engine, queue.Filters(), 2, 1)[0][0]["listing_id"] == "A"   # pagination
    assert queue.sync(store.engine) == 0                                       # nothing new


def test_stats_and_feedback_export(db, rulesets, tmp_path):
    url, store = db
    ids = seed(store, rulesets)
    rita = user(store)
    decisions.decide(store.engine, rita, ids["A"], "confirm", "yes", **kw(rulesets))
    decisions.decide(store.engine, rita, ids["B"], "dismiss", "no", **kw(rulesets))
    by_rule = {r["rule"]: r for r in stats.rule_stats(store.engine)}
    assert by_rule[CLAIM]["confirmed"] == 1 and by_rule[CLAIM]["precision"] == 1.0
    assert by_rule[OUTSIDE]["dismissed"] == 1 and by_rule[OUTSIDE]["precision"] == 0.0
    assert {(r["rule"], r["detector"]) for r in stats.detector_stats(store.engine)} == {(CLAIM, "keyword"),
                                                                                        (OUTSIDE, "ml")}
    weekly = stats.weekly_stats(store.engine)
    assert sum(w["confirmed"] + w["dismissed"] for w in weekly) == 2
    rows = list(feedback_rows(store.engine))
    assert [(r["listing"]["listing_id"], r["rule"], r["decision"]) for r in rows] == [
        ("A", CLAIM, "confirmed"), ("B", OUTSIDE, "dismissed")]
    # the CLI writes the same rows, in the shape `scanner train --feedback` reads
    out = tmp_path / "feedback.jsonl"
    assert scanner_main(["feedback", "--database", url, "export", str(out)]) == 0
    from scanner.ml.cli import feedback_rows as training_rows
    labelled = training_rows(out)
    assert [r["labels"] for r in labelled] == [{"sexual_health": 1}, {"e_cigarette": 0}]
    assert json.loads(out.read_text().splitlines()[0])["listing"]["title"] == "Herbal drops: long lasting"


def test_users_cli(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    monkeypatch.setenv("SCANNER_REVIEW_PASSWORD", PASSWORD)
    assert scanner_main(["users", "--database", url, "create", "nina", "--role", "admin"]) == 0
    assert scanner_main(["users", "--database", url, "create", "nina", "--role", "admin"]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setenv("SCANNER_REVIEW_PASSWORD", "short")
    assert scanner_main(["users", "--database", url, "create", "omar", "--role", "reviewer"]) == 1
    assert "field 'password'" in capsys.readouterr().err
    assert scanner_main(["users", "--database", url, "disable", "nina"]) == 0
    assert scanner_main(["users", "--database", url, "list"]) == 0
    assert "nina\tadmin\tdisabled" in capsys.readouterr().out
    store = Store(url)
    from scanner.review.settings import ReviewSettings
    with pytest.raises(auth.AuthError):
        auth.login(store.engine, ReviewSettings(), "nina", PASSWORD)
    assert scanner_main(["users", "--database", url, "enable", "nina"]) == 0
    assert auth.login(store.engine, ReviewSettings(), "nina", PASSWORD).user.role == "admin"
    row = auth.list_users(store.engine)[0]
    assert row["username"] == "nina"
    store.close()
