"""openFDA client against a real local HTTP server: every failure mode ends in an error
or a not-found, never in an exception or a silent success."""
from __future__ import annotations

import time

import pytest

from scanner.medical.http import HttpSettings, MemoryCache
from scanner.medical.openfda import OpenFdaClient, facts

from .conftest import FIXTURES

FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.5, retries=2, backoff=0.05, max_retry_after=1.5)


def client(server, **kw):
    return OpenFdaClient(server.url, api_key=kw.pop("api_key", None), settings=kw.pop("settings", FAST), **kw)


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_510k_found_and_cached(server):
    server.on("/device/510k.json", (200, {"Content-Type": "application/json"}, body("openfda_510k_K201234.json")))
    c = client(server, api_key="secret-key")
    first = c.lookup("510k", "k201234")
    assert first.ok and not first.cached
    assert facts("510k", first.record) == {"product_code": "LPL", "device_name": "Lenses, Soft Contact, Daily Wear",
                                           "trade_name": "AquaView Daily 1-Day"}
    _path, query = server.requests[0]
    assert query["search"] == ['k_number:"K201234"'] and query["api_key"] == ["secret-key"]
    second = c.lookup("510k", "K201234")
    assert second.ok and second.cached
    assert server.count("/device/510k.json") == 1


def test_pma_and_registration_shapes(server):
    server.on("/device/pma.json", (200, {}, body("openfda_pma_P180001.json")))
    server.on("/device/registrationlisting.json", (200, {}, body("openfda_registration_2021.json")))
    c = client(server)
    pma = c.lookup("pma", "P180001")
    assert facts("pma", pma.record)["product_code"] == "LMH"
    reg = c.lookup("registration", "3012345678")
    assert facts("registration", reg.record)["registration_year"] == 2021


def test_404_is_not_found_and_cached(server):
    c = client(server)
    r = c.lookup("510k", "K999999")
    assert r.not_found and r.error is None and r.record is None
    assert c.lookup("510k", "K999999").cached
    assert server.count("/device/510k.json") == 1


def test_429_honours_retry_after(server):
    server.on("/device/510k.json", (429, {"Retry-After": "1"}, b'{"error": "slow down"}'),
              (200, {}, body("openfda_510k_K201234.json")))
    t0 = time.monotonic()
    r = client(server).lookup("510k", "K201234")
    assert r.ok
    assert time.monotonic() - t0 >= 0.9
    assert server.count("/device/510k.json") == 2


def test_429_forever_gives_up_with_reason(server):
    server.on("/device/510k.json", (429, {"Retry-After": "0"}, b"{}"))
    r = client(server).lookup("510k", "K201234")
    assert not r.ok and not r.not_found
    assert "429" in r.error or "rate limited" in r.error
    assert server.count("/device/510k.json") == 3  # first try + 2 retries


def test_500_is_an_error_after_retries(server):
    server.on("/device/pma.json", (500, {}, b"oops"))
    r = client(server).lookup("pma", "P180001")
    assert not r.ok and r.error and "P180001" in r.error
    assert server.count("/device/pma.json") == 3


def test_500_then_success_recovers(server):
    server.on("/device/pma.json", (500, {}, b"oops"), (200, {}, body("openfda_pma_P180001.json")))
    assert client(server).lookup("pma", "P180001").ok


@pytest.mark.parametrize("payload", [b"{not json", b'{"results": "nope"}', b'{"meta": {}}'])
def test_malformed_json_is_an_error(server, payload):
    server.on("/device/510k.json", (200, {}, payload))
    r = client(server).lookup("510k", "K201234")
    assert not r.ok and "malformed" in r.error
    assert not client(server).cache.get("openfda:510k", "K201234")


def test_timeout_is_an_error(server):
    server.on("/device/registrationlisting.json", (200, {}, body("openfda_registration_2021.json"), 1.5))
    settings = HttpSettings(connect_timeout=1.0, read_timeout=0.3, retries=0, backoff=0.0)
    t0 = time.monotonic()
    r = client(server, settings=settings).lookup("registration", "3012345678")
    assert not r.ok and "timed out" in r.error
    assert time.monotonic() - t0 < 1.4


def test_answer_for_another_number_is_not_trusted(server):
    server.on("/device/510k.json", (200, {}, body("openfda_510k_K201234.json")))
    r = client(server).lookup("510k", "K201299")
    assert r.not_found and not r.ok


def test_malformed_number_sends_no_request(server):
    r = client(server).lookup("510k", "K20-12")
    assert r.error and "malformed" in r.error
    assert server.requests == []


def test_oversized_answer_is_refused(server):
    server.on("/device/510k.json", (200, {}, b"x" * 5000))
    settings = HttpSettings(connect_timeout=1.0, read_timeout=1.0, retries=0, max_bytes=1000)
    r = client(server, settings=settings).lookup("510k", "K201234")
    assert not r.ok and "limit" in r.error


def test_from_env(monkeypatch, server):
    monkeypatch.delenv("SCANNER_OPENFDA_URL", raising=False)
    assert OpenFdaClient.from_env() is None
    monkeypatch.setenv("SCANNER_OPENFDA_URL", server.url)
    monkeypatch.setenv("SCANNER_OPENFDA_KEY", "k")
    c = OpenFdaClient.from_env(cache=MemoryCache())
    assert c.base_url == server.url and c.api_key == "k"


def test_memory_cache_expires():
    now = [0.0]
    cache = MemoryCache(clock=lambda: now[0])
    cache.put("ns", "k", {"a": 1}, ttl_seconds=10)
    assert cache.get("ns", "k") == {"a": 1}
    now[0] = 11.0
    assert cache.get("ns", "k") is None
