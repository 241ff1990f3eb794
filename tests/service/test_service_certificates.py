"""Certificates round trip through the real server, on SQLite and PostgreSQL."""
CERT = {"certificate_id": "RT-1", "kind": "fda_establishment_registration", "number": "3000000001",
        "scope": "contact lenses", "registration_year": 2022, "status": "approved"}
BASE = "/v1/merchants/M-RT/certificates"


def test_certificate_round_trip(any_service):
    with any_service.client("certificates") as c:
        assert c.get(BASE).json() == {"merchant_id": "M-RT", "certificates": []}
        r = c.put(f"{BASE}/RT-1", json=CERT)
        assert r.status_code == 200
        stored = r.json()
        assert stored["merchant_id"] == "M-RT" and stored["scope"] == "contact lenses"
        assert c.get(f"{BASE}/RT-1").json() == stored
        assert c.put(f"{BASE}/RT-1", json={**CERT, "scope": "soft contact lenses"}).json()["scope"] == \
            "soft contact lenses"
        assert [x["scope"] for x in c.get(BASE).json()["certificates"]] == ["soft contact lenses"]
        # replacing the set deletes what is not listed
        two = [{**CERT, "certificate_id": "RT-2"}, {**CERT, "certificate_id": "RT-3", "kind": "fda_510k",
                                                    "number": "K123456", "device_name": "Lenses, Soft Contact"}]
        assert c.put(BASE, json={"certificates": two}).status_code == 200
        assert [x["certificate_id"] for x in c.get(BASE).json()["certificates"]] == ["RT-2", "RT-3"]
        assert c.get(f"{BASE}/RT-1").status_code == 404
        assert any_service.store.certificates_for("M-RT")[1].device_name == "Lenses, Soft Contact"
        assert c.delete(f"{BASE}/RT-2").json() == {"merchant_id": "M-RT", "deleted": 1}
        assert c.delete(f"{BASE}/RT-2").status_code == 404
        assert c.delete(BASE).json()["deleted"] == 1
        assert c.get(BASE).json()["certificates"] == []


def test_certificate_errors_name_the_field(any_service):
    with any_service.client("certificates") as c:
        def err(r):
            assert r.status_code == 422, r.text
            return r.json()["field"]
        def conflict(r):
            assert r.status_code == 409, r.text
            return r.json()["field"]
        assert conflict(c.put(f"{BASE}/RT-1", json={**CERT, "merchant_id": "M-OTHER"})) == "merchant_id"
        assert conflict(c.put(f"{BASE}/RT-9", json={**CERT, "certificate_id": "RT-8"})) == "certificate_id"
        assert err(c.put(f"{BASE}/RT-1", json={**CERT, "valid_until": 0})) == "valid_until"
        assert err(c.put(f"{BASE}/RT-1", json={**CERT, "kind": "ouija_board"})) == "kind"
        assert err(c.put(f"{BASE}/RT-1", json={**CERT, "registration_year": "2022"})) == "registration_year"
        assert err(c.put(f"{BASE}/RT-1", json={**CERT, "scope": "s" * 1001})) == "scope"
        assert err(c.put(f"{BASE}/RT-1", json=[CERT])) == "(body)"
        assert err(c.put(BASE, json={"certificates": [CERT, {**CERT, "kind": 3}]})) == "certificates[1].kind"
        assert conflict(c.put(BASE, json={"certificates": [CERT, CERT]})) == "certificate_id"
        assert err(c.put(BASE, json={"certs": []})) == "certificates"
        # a certificate id that belongs to another merchant is not taken over
        owned = {**CERT, "certificate_id": "RT-OWNED"}
        assert c.put("/v1/merchants/M-OWNER/certificates/RT-OWNED", json=owned).status_code == 200
        assert conflict(c.put(f"{BASE}/RT-OWNED", json=owned)) == "certificate_id"
        assert c.get(BASE).json()["certificates"] == []
