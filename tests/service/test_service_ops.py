"""Health, readiness and Prometheus metrics through the real server."""
import re

from service_harness import AS_OF

CROSSBOW = {"listing_id": "OPS-1", "merchant_id": "M-OPS", "title": "Pistol crossbow 80 lbs"}


def _value(text: str, sample: str) -> float:
    m = re.search(r"^" + re.escape(sample) + r" ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_healthz_and_readyz(service):
    with service.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready" and body["database"] == "ok" and body["rules"] > 0
        assert body["rulesets"] and body["models"]


def test_metrics_count_routes_verdicts_rules_and_stages(service):
    with service.client(None) as c:
        before = c.get("/metrics").text
    with service.client("scan") as c:
        v = c.post("/v1/scan", json=CROSSBOW, params={"as_of": AS_OF}).json()
        c.get("/v1/verdicts/OPS-1")
        c.get("/no/such/path/123")
    with service.client(None) as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = r.text
    count = 'scanner_http_request_duration_seconds_count{method="POST",route="/v1/scan"}'
    assert _value(after, count) == _value(before, count) + 1
    assert 'route="/v1/verdicts/{listing_id}"' in after and "OPS-1" not in after
    assert 'route="(unmatched)"' in after and "/no/such/path" not in after
    decision = f'scanner_verdicts_total{{decision="{v["decision"]}"}}'
    assert _value(after, decision) == _value(before, decision) + 1
    rule = v["findings"][0]["rule"]
    assert _value(after, f'scanner_findings_total{{rule="{rule}"}}') >= 1
    for stage in ("auth", "scan", "record_commit"):     # "record" (waiting for the commit): record=wait only
        assert _value(after, f'scanner_stage_seconds_count{{stage="{stage}"}}') >= 1, stage
    assert _value(after, "scanner_scan_batch_size_count") > _value(before, "scanner_scan_batch_size_count")
    assert 'scanner_http_requests_total{method="POST",route="/v1/scan",status="200"}' in after
