"""Store behaviour on SQLite and PostgreSQL: verdict history, flags, ledger, certificates, cache."""
import datetime as dt
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scanner.listing import Certificate, Evidence, Finding, Listing, Verdict
from scanner.store import StoreError, open_store
from scanner.store.keys import listing_fingerprint
from scanner.store.models import Base

RULE_A, RULE_B = "fam_a/rule_one", "fam_b/rule_two"


def listing(lid="L-1", merchant="M-1", title="a thing"):
    return Listing(listing_id=lid, merchant_id=merchant, title=title)


def finding(rule=RULE_A, outcome="block", points=6, confidence=0.99, markets=("*",)):
    return Finding(rule=rule, grade="A" if points else None, points=points, blocked_markets=list(markets),
                   confidence=confidence, reason=f"{rule} fired",
                   evidence=[Evidence("title", 0, 1, "a", "keyword")], outcome=outcome)


def verdict(lid="L-1", findings=(), decision=None):
    findings = list(findings)
    decision = decision or (findings[0].outcome if findings else "pass")
    return Verdict(listing_id=lid, decision=decision, blocked_markets=["*"] if decision == "block" else [],
                   points=sum(f.points for f in findings), findings=findings, ruleset_version="rs-1",
                   model_version="m-1", as_of="2022-02-01")


def test_migrations_match_models(store):
    def ours(obj, name, type_, reflected, compare_to):
        # other areas add tables (and migrations) of their own; compare the models that are loaded
        return not (type_ == "table" and reflected and name not in Base.metadata.tables)

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": ours})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
    store.upgrade()   # running it again is a no-op
    assert store.counts()["listings"] == 0


def test_record_is_idempotent(store):
    lst = listing()
    v = verdict(findings=[finding(), finding(RULE_B, outcome="review", points=0)])
    fp = listing_fingerprint(lst)
    for _ in range(3):
        store.record_verdict(lst, v, fp)
    c = store.counts()
    assert (c["verdicts"], c["findings"], c["review_flags"], c["penalty_ledger"]) == (1, 2, 1, 1)
    assert store.merchant_points("M-1") == 6
    hist = store.history("L-1")
    assert hist[0]["decision"] == "block" and [f["rule"] for f in hist[0]["findings"]] == [RULE_A, RULE_B]
    assert hist[0]["findings"][0]["evidence"][0]["text"] == "a"


def test_outcome_change_adds_history_and_resolves_flags(store):
    lst = listing()
    fp = listing_fingerprint(lst)
    store.record_verdict(lst, verdict(findings=[finding(RULE_B, outcome="review", points=0)]), fp)
    assert len(store.flags("L-1")) == 1
    got = store.record_verdict(lst, verdict(), fp)          # cleared
    assert got["verdicts"] == 1 and got["flags_resolved"] == 1
    assert store.flags("L-1") == [] and len(store.flags("L-1", unresolved=False)) == 1
    store.record_verdict(lst, verdict(findings=[finding(RULE_B, outcome="review", points=0)]), fp)
    assert [h["decision"] for h in store.history("L-1")] == ["review", "pass", "review"]
    assert len(store.flags("L-1")) == 1


def test_low_confidence_opens_flag_only_below_configured_threshold(db_url):
    s = open_store(db_url)
    s.upgrade()
    s.flag_confidence_below = 0.5
    s.record_verdict(listing("L-1"), verdict("L-1", [finding(confidence=0.4)]), "f1")
    s.record_verdict(listing("L-2"), verdict("L-2", [finding(confidence=0.9)]), "f2")
    assert [f["listing_id"] for f in s.flags()] == ["L-1"]
    assert s.flags()[0]["reason"].startswith("low confidence 0.40")
    s.close()


def test_dismissed_flag_is_not_reopened_and_decisions_recorded(store):
    lst = listing()
    v = verdict(findings=[finding(outcome="review", points=0)])
    store.record_verdict(lst, v, "f")
    flag = store.flags("L-1")[0]
    store.decide_flag(flag["id"], "rev-1", "dismissed", "fine")
    store.record_verdict(lst, v, "f")
    flags = store.flags("L-1")
    assert len(flags) == 1 and flags[0]["status"] == "dismissed"
    assert store.counts()["reviewer_decisions"] == 1
    with pytest.raises(StoreError, match="decision"):
        store.decide_flag(flag["id"], "rev-1", "maybe")


def test_reversed_charge_is_never_charged_again(store):
    lst = listing()
    v = verdict(findings=[finding()])
    store.record_verdict(lst, v, "f")
    assert store.reverse_charge("L-1", RULE_A, "appeal upheld", "ops-1")
    store.record_verdict(lst, verdict(), "f")       # outcome changes and back
    store.record_verdict(lst, v, "f")
    charges = store.charges("M-1")
    assert len(charges) == 1 and charges[0]["reversal_reason"] == "appeal upheld"
    assert store.merchant_points("M-1") == 0
    with pytest.raises(StoreError, match="reason"):
        store.reverse_charge("L-1", RULE_A, " ", "ops-1")


def test_concurrent_writers_charge_once(db_url):
    first = open_store(db_url)
    first.upgrade()
    lst = listing()
    v = verdict(findings=[finding(), finding(RULE_B, points=2)])
    errors, barrier = [], threading.Barrier(4)

    def write():
        s = open_store(db_url)
        try:
            barrier.wait()
            for _ in range(3):
                s.record_verdict(lst, v, "f")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    c = first.counts()
    assert (c["verdicts"], c["penalty_ledger"], c["findings"]) == (1, 2, 2)
    assert first.merchant_points("M-1") == 8
    first.close()


def cert(cid="C-1", merchant="M-1", **kw):
    return Certificate(certificate_id=cid, merchant_id=merchant, kind=kw.pop("kind", "ce_certificate"), **kw)


def test_certificates_upsert_reports_changed_merchants(store):
    assert store.upsert_certificates([cert(), cert("C-2", "M-2")]) == {"M-1", "M-2"}
    assert store.upsert_certificates([cert(), cert("C-2", "M-2")]) == set()
    assert store.upsert_certificates([cert(scope="contact lenses")]) == {"M-1"}
    assert store.upsert_certificates([cert("C-2", "M-3")]) == {"M-2", "M-3"}   # moved merchant
    got = store.certificates_for("M-1")
    assert got == [cert(scope="contact lenses")]
    assert store.certificates_for("M-2") == []
    digests = store.certificate_digests()
    assert set(digests) == {"M-1", "M-3"}
    with pytest.raises(Exception, match="kind"):
        store.upsert_certificates([{"certificate_id": "C-9", "merchant_id": "M-1", "kind": "bogus"}])


def test_cache_honours_ttl(store):
    store.cache_put("fda", "LYZ", {"class": "2"}, ttl_seconds=3600)
    store.cache_put("fda", "OLD", {"class": "1"}, ttl_seconds=-1)
    assert store.cache_get("fda", "LYZ") == {"class": "2"}
    assert store.cache_get("fda", "OLD") is None
    store.cache_put("fda", "LYZ", {"class": "3"}, ttl_seconds=3600)
    assert store.cache_get("fda", "LYZ") == {"class": "3"}
    assert store.cache_get("other", "LYZ") is None


def test_fda_classification_swap(store):
    row = {"product_code": "LPL", "device_name": "Lenses, soft contact", "device_class": "2",
           "regulation_number": "886.5925", "medical_specialty": "OP", "submission_type": "510(k)",
           "definition": None}
    assert store.replace_fda_classification([row, {**row, "product_code": "AAA"}]) == 2
    assert store.replace_fda_classification([row]) == 1
    assert store.fda_classification() == [row]
    with pytest.raises(StoreError, match="product_code"):
        store.replace_fda_classification([row, {**row, "product_code": ""}])
    assert store.fda_classification() == [row]          # failed swap left the old table


def test_active_exceptions_by_date_and_revocation(store):
    eid = store.add_exception(RULE_A, "M-1", "supplier audit", "ops-1", dt.date(2022, 3, 1),
                              starts=dt.date(2022, 1, 1))
    store.add_exception(RULE_B, "M-1", "old", "ops-1", dt.date(2021, 12, 31), starts=dt.date(2021, 1, 1))
    got = store.active_exceptions("M-1", dt.date(2022, 2, 1))
    assert [(e.id, e.rule) for e in got] == [(eid, RULE_A)]
    assert store.active_exceptions("M-1", dt.date(2022, 3, 2)) == []
    assert store.revoke_exception(eid)
    assert store.active_exceptions("M-1", dt.date(2022, 2, 1)) == []
    with pytest.raises(StoreError, match="author"):
        store.add_exception(RULE_A, "M-1", "why", "", dt.date(2022, 3, 1))


def test_scan_state_and_touch_through_the_driver(store):
    """scan_state and touch build their IN lists for the driver: keys come back, last_seen moves."""
    import sqlalchemy as sa

    from scanner.store.models import ListingRow
    from scanner.store.record import touch
    ids = [f"L-{i}" for i in range(1203)]            # more than one IN chunk
    for lid in ids[:3]:
        store.record_verdict(listing(lid), verdict(lid), listing_fingerprint(listing(lid)))
    state = store.scan_state(ids + ["L-1' OR '1'='1"])  # a hostile id is only ever a parameter
    assert set(state) == set(ids[:3])
    assert all(decision == "pass" and raw is None for _, decision, raw in state.values())
    later = dt.datetime(2031, 5, 6, 7, 8, 9)
    with store.engine.begin() as conn:
        touch(conn, ids[:2] + ["L-missing"], later)
    t = ListingRow.__table__
    with store.engine.connect() as conn:
        seen = dict(conn.execute(sa.select(t.c.listing_id, t.c.last_seen)).all())
    assert seen["L-0"].replace(tzinfo=None) == later and seen["L-1"].replace(tzinfo=None) == later
    assert seen["L-2"].replace(tzinfo=None) != later


def test_raw_digest_follows_the_content_it_was_read_with(store):
    """A listing's raw digest names the line its stored content was read from: a recording from
    elsewhere with other content clears it, one with the same content keeps it; relink moves it."""
    from scanner.store import keys
    from scanner.store.record import Item, relink

    def item(title, raw=None):
        lst = listing("L-7", title=title)
        fp = listing_fingerprint(lst)
        return Item("L-7", "M-1", verdict("L-7"), fp, "key-" + fp, keys.pack_content(lst), raw)

    line = b'{"listing_id": "L-7", "merchant_id": "M-1", "title": "first"}\n'
    d1 = keys.raw_digest(line)
    assert d1 == keys.raw_digest(line.rstrip(b"\n")) != keys.raw_digest(line.replace(b"first", b"First"))
    store.record_items([item("first", d1)])
    assert store.raw_state([d1, "0" * 32]) == {d1: ("L-7", "M-1", listing_fingerprint(listing("L-7", title="first")),
                                                    "key-" + listing_fingerprint(listing("L-7", title="first")), "pass")}
    store.record_items([item("first")])                 # same content, no line: the digest holds
    assert store.scan_state(["L-7"])["L-7"][2] == d1
    store.record_items([item("second")])                # other content from elsewhere: no line read it
    assert store.scan_state(["L-7"])["L-7"][2] is None and store.raw_state([d1]) == {}
    with store.engine.begin() as conn:
        relink(conn, {"L-7": "ab" * 16})
    assert store.scan_state(["L-7"])["L-7"][2] == "ab" * 16
