"""Bad input through the real server: 413 for big bodies, 422 naming the field, 400 for broken JSON,
never a 500."""
import orjson

GOOD = {"listing_id": "LIM-1", "merchant_id": "M-LIM", "title": "Cotton t-shirt, plain white"}


def _err(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status
    return body


def test_body_over_256kb_is_413(service):
    big = {**GOOD, "description": "a" * (256 * 1024)}
    with service.client() as c:
        body = _err(c.post("/v1/scan", json=big), 413)
        assert body["field"] == "(body)" and "262144" in body["message"]
        # just under the limit is scanned (the description bound is the contract's 100,000 characters)
        ok = {**GOOD, "description": "cotton " * 14_000}
        assert len(orjson.dumps(ok)) < 256 * 1024
        assert c.post("/v1/scan", json=ok).status_code == 200


def test_chunked_body_over_limit_is_413(service):
    def chunks():
        for _ in range(40):
            yield b"x" * 8192              # no Content-Length: the limit is counted while streaming
    with service.client() as c:
        r = c.post("/v1/scan", content=chunks(), headers={"content-type": "application/json"})
        assert _err(r, 413)["error"] == "body_too_large"


def test_field_lengths_are_422_naming_the_field(service):
    with service.client() as c:
        body = _err(c.post("/v1/scan", json={**GOOD, "title": "t" * 501}), 422)   # configured: 500
        assert body["field"] == "title" and "500" in body["message"] and body["record"] == "listing 'LIM-1'"
        body = _err(c.post("/v1/scan", json={**GOOD, "attributes": {"Material": "m" * 1001}}), 422)
        assert body["field"] == "attributes.Material"
        body = _err(c.post("/v1/scan", json={**GOOD, "keywords": ["k"] * 201}), 422)
        assert body["field"] == "keywords"
        body = _err(c.post("/v1/scan", json={**GOOD, "keywords": ["ok", "k" * 1001]}), 422)
        assert body["field"] == "keywords[1]"


def test_contract_errors_name_the_field(service):
    with service.client() as c:
        assert _err(c.post("/v1/scan", json={**GOOD, "title": 5}), 422)["field"] == "title"
        assert _err(c.post("/v1/scan", json={"merchant_id": "M", "title": "x"}), 422)["field"] == "listing_id"
        assert _err(c.post("/v1/scan", json={**GOOD, "attributes": {"a": 1}}), 422)["field"] == "attributes.a"
        assert _err(c.post("/v1/scan", json=[GOOD]), 422)["field"] == "(record)"
        assert _err(c.post("/v1/scan", json=GOOD, params={"as_of": "yesterday"}), 422)["field"] == "as_of"
        assert _err(c.get("/v1/verdicts/" + "v" * 201), 422)["field"] == "listing_id"


def test_broken_json_is_400(service):
    with service.client() as c:
        for raw in (b"{", b"", b"\xff\xfe", b'{"title": "\\ud800"}', b"[" * 5000):
            body = _err(c.post("/v1/scan", content=raw, headers={"content-type": "application/json"}), 400)
            assert body["field"] == "(body)"


def test_hostile_text_is_scanned_not_executed(service):
    hostile = {**GOOD, "listing_id": "LIM-<script>", "title": "<script>alert(1)</script>{{7*7}} ${jndi:x}",
               "description": "<img src=x onerror=alert(1)>" + "\u200b" * 50 + "\x00"}
    with service.client() as c:
        r = c.post("/v1/scan", json=hostile)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.json()["listing_id"] == "LIM-<script>"


def test_unknown_route_and_method_are_json(service):
    with service.client() as c:
        assert _err(c.get("/v1/nope"), 404)["error"] == "http_error"
        assert _err(c.get("/v1/scan"), 405)["error"] == "http_error"


def test_a_failing_store_is_503_not_500(shared_scanner, tmp_path):
    import dataclasses

    import sqlalchemy as sa
    from service_harness import TEST_SETTINGS, running_service

    waiting = dataclasses.replace(TEST_SETTINGS, record="wait")     # the answer waits for the commit
    with running_service(f"sqlite:///{tmp_path / 'broken.db'}", shared_scanner, waiting) as svc:
        with svc.store.engine.begin() as conn:            # the verdict tables are gone: recording fails
            conn.execute(sa.text("DROP TABLE findings"))
            conn.execute(sa.text("DROP TABLE verdicts"))
        with svc.client("scan") as c:
            body = _err(c.post("/v1/scan", json=GOOD), 503)
            assert body["error"] == "store_unavailable"
            r = c.post("/v1/scan/batch", json={"listings": [GOOD]})
            assert r.status_code == 503
        with svc.store.engine.begin() as conn:            # and when the keys cannot be read either
            conn.execute(sa.text("DROP TABLE api_keys"))
        with svc.client("scan") as c:
            assert _err(c.post("/v1/scan", json=GOOD), 503)["error"] == "store_unavailable"
