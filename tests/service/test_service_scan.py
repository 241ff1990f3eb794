"""Scans through the real server on SQLite and PostgreSQL: verdicts, recording like the sweep (history,
review flags, one ledger charge), stored certificates, as-of dates, batches with bad items."""
import pytest
from service_harness import AS_OF, examples

CROSSBOW = {"listing_id": "SCAN-1", "merchant_id": "M-SCAN", "title": "Compound crossbow 175 lbs with scope",
            "category": "Sports & Entertainment > Hunting", "target_markets": ["US", "DE"]}
MUG = {"listing_id": "SCAN-2", "merchant_id": "M-SCAN", "title": "Ceramic coffee mug 350ml, dishwasher safe"}


def test_scan_returns_the_contract_verdict(any_service):
    with any_service.client("scan") as c:
        v = c.post("/v1/scan", json=CROSSBOW, params={"as_of": AS_OF}).json()
        assert v["listing_id"] == "SCAN-1" and v["decision"] == "block" and v["as_of"] == AS_OF
        rules = [f["rule"] for f in v["findings"]]
        assert "controlled_instrument/crossbow" in rules
        assert v["points"] == sum(f["points"] for f in v["findings"]) > 0
        for f in v["findings"]:
            for e in f["evidence"]:
                assert CROSSBOW[e["field"]][e["start"]:e["end"]] == e["text"]
        p = c.post("/v1/scan", json=MUG, params={"as_of": AS_OF}).json()
        assert (p["decision"], p["findings"], p["blocked_markets"]) == ("pass", [], [])


def test_verdicts_are_recorded_like_the_sweep(any_service):
    listing = {**CROSSBOW, "listing_id": "SCAN-REC"}
    with any_service.client("scan") as c:
        assert c.get("/v1/verdicts/SCAN-REC").status_code == 404
        first = c.post("/v1/scan", json=listing, params={"as_of": AS_OF}).json()
        c.post("/v1/scan", json=listing, params={"as_of": AS_OF})          # same outcome: no new history
        h = c.get("/v1/verdicts/SCAN-REC").json()
        assert len(h["history"]) == 1 and h["latest"]["decision"] == "block"
        assert [f["rule"] for f in h["latest"]["findings"]] == [f["rule"] for f in first["findings"]]
        charges = any_service.store.charges("M-SCAN")
        mine = [ch for ch in charges if ch["listing_id"] == "SCAN-REC"]
        # points go to the ledger once per listing and rule, however often it is scanned
        assert sorted((ch["rule"], ch["points"]) for ch in mine) == sorted(
            (f["rule"], f["points"]) for f in first["findings"] if f["points"] > 0)
        c.post("/v1/scan", json={**listing, "title": "Archery target stand"}, params={"as_of": AS_OF})
        h = c.get("/v1/verdicts/SCAN-REC").json()
        assert [v["decision"] for v in h["history"]] == ["block", "pass"] and h["latest"]["decision"] == "pass"
        assert len([ch for ch in any_service.store.charges("M-SCAN") if ch["listing_id"] == "SCAN-REC"]) == len(mine)


def _example(listing_id):
    return next(r for r in examples("catalog.jsonl") if r["listing_id"] == listing_id)


def test_stored_certificates_decide_and_review_opens_a_flag(any_service):
    listing = _example("EX-0228")          # class III device of merchant M-25: FDA but no China qualification
    certs = [c for c in examples("certificates.jsonl") if c["merchant_id"] == listing["merchant_id"]]
    assert certs
    url = f"/v1/merchants/{listing['merchant_id']}/certificates"
    with any_service.client("admin") as c:
        none = c.post("/v1/scan", json=listing, params={"as_of": AS_OF}).json()
        assert none["decision"] == "block"
        assert c.put(url, json={"certificates": certs}).status_code == 200
        held = c.post("/v1/scan", json=listing, params={"as_of": AS_OF}).json()
        assert held["decision"] == listing["_expect"]["decision"] == "review"
        assert [f["rule"] for f in held["findings"]] == listing["_expect"]["rules"]
        any_service.flush()
        flags = any_service.store.flags(listing["listing_id"])
        assert [f["rule"] for f in flags] == listing["_expect"]["rules"]
        assert c.delete(url).json()["deleted"] == len(certs)
        assert c.post("/v1/scan", json=listing, params={"as_of": AS_OF}).json()["decision"] == "block"


def test_as_of_date_applies_effective_dates(any_service):
    listing = {**_example("EX-0228"), "listing_id": "SCAN-ASOF", "merchant_id": "M-ASOF"}
    with any_service.client("scan") as c:
        after = c.post("/v1/scan", json=listing, params={"as_of": AS_OF}).json()
        before = c.post("/v1/scan", json=listing, params={"as_of": "2021-06-01"}).json()
    assert "medical_device/class3_unqualified" in [f["rule"] for f in after["findings"]]
    assert "medical_device/class3_unqualified" not in [f["rule"] for f in before["findings"]]
    assert before["as_of"] == "2021-06-01"


def test_batch_with_good_and_bad_items(any_service):
    items = [
        {**MUG, "listing_id": "B-1"},
        {"listing_id": "B-2", "merchant_id": "M-SCAN", "title": 42},
        {"merchant_id": "M-SCAN", "title": "no id"},
        {**MUG, "listing_id": "B-4", "title": "t" * 501},
        "not an object",
        {**CROSSBOW, "listing_id": "B-6"},
    ]
    with any_service.client("scan") as c:
        r = c.post("/v1/scan/batch", json={"listings": items}, params={"as_of": AS_OF})
        assert r.status_code == 200
        body = r.json()
        assert (body["scanned"], body["errors"]) == (2, 4)
        res = body["results"]
        assert [x["index"] for x in res] == list(range(6))
        assert res[0]["verdict"]["decision"] == "pass" and res[5]["verdict"]["decision"] == "block"
        assert [res[i]["error"]["field"] for i in (1, 2, 3, 4)] == [
            "listings[1].title", "listings[2].listing_id", "listings[3].title", "listings[4].(record)"]
        assert res[1]["listing_id"] == "B-2" and res[1]["error"]["record"] == "listing 'B-2'"
        assert c.get("/v1/verdicts/B-6").json()["latest"]["decision"] == "block"
        assert c.get("/v1/verdicts/B-2").status_code == 404      # bad items are not recorded


@pytest.mark.parametrize("body, field", [({"listings": [MUG] * 101}, "listings"), ({"listings": "x"}, "listings"),
                                         ([MUG], "listings"), ({}, "listings")])
def test_batch_shape_errors(any_service, body, field):
    with any_service.client("scan") as c:
        r = c.post("/v1/scan/batch", json=body)
    assert r.status_code == 422 and r.json()["field"] == field
