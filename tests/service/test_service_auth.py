"""API keys through the real server: 401 without or with an unknown/revoked key, 403 on the wrong
scope, per-key rate limits with 429 and Retry-After."""
import hashlib

import sqlalchemy as sa

from scanner.service.apikeys import T as KEYS

LISTING = {"listing_id": "AUTH-1", "merchant_id": "M-AUTH", "title": "Stainless steel water bottle 500ml"}


def test_no_key_is_401(service):
    with service.client(None) as c:
        r = c.post("/v1/scan", json=LISTING)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/merchants/M-AUTH/certificates").status_code == 401


def test_unknown_and_revoked_keys_are_401(service):
    for token in ("lcs_not-a-real-key", service.keys["revoked"], "x" * 5000):
        with service.client(None, headers={"X-API-Key": token}) as c:
            r = c.post("/v1/scan", json=LISTING)
            assert r.status_code == 401, token[:20]
            assert r.json()["message"] == "unknown or revoked API key"


def test_bearer_header_is_accepted(service):
    with service.client(None, headers={"Authorization": f"Bearer {service.keys['scan']}"}) as c:
        r = c.post("/v1/scan", json=LISTING)
        assert r.status_code == 200
        assert r.json()["decision"] == "pass"


def test_scopes(service):
    with service.client("certificates") as c:
        r = c.post("/v1/scan", json=LISTING)
        assert r.status_code == 403 and "scope 'certificates'" in r.json()["message"]
        assert c.get("/v1/merchants/M-AUTH/certificates").status_code == 200
    with service.client("scan") as c:
        assert c.post("/v1/scan", json=LISTING).status_code == 200
        assert c.get("/v1/merchants/M-AUTH/certificates").status_code == 403
        assert c.delete("/v1/merchants/M-AUTH/certificates").status_code == 403
    with service.client("admin") as c:
        assert c.post("/v1/scan", json=LISTING).status_code == 200
        assert c.get("/v1/merchants/M-AUTH/certificates").status_code == 200


def test_rate_limit_per_key(service):
    # the "limited" key allows 2 requests a minute; other keys are unaffected
    with service.client("limited") as c:
        codes = [c.post("/v1/scan", json=LISTING).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/v1/scan", json=LISTING)
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
    with service.client("scan") as c:
        assert c.post("/v1/scan", json=LISTING).status_code == 200


def test_only_the_hash_is_stored(service):
    token = service.keys["admin"]
    with service.store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(KEYS))]
    assert rows and not any(token in str(v) for row in rows for v in row.values())
    assert hashlib.sha256(token.encode()).hexdigest() in {r["key_hash"] for r in rows}
