"""Micro-batching of POST /v1/scan and the cached API-key check.

The batcher is tested on its own with a plain scan function, then through the real server: batched
verdicts equal the scanner's own, each to its own request; a key is looked up once per cache period
(not per request) and a revoked key is refused within that period."""
import asyncio
import dataclasses
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from service_harness import AS_OF, TEST_SETTINGS, examples, running_service

from scanner.service.apikeys import create_key, revoke_key
from scanner.service.batcher import ScanBatcher


def _batcher(calls: list, wait: float = 0.0, fail=(), pause: float = 0.05):
    def scan(jobs):
        calls.append(list(jobs))
        time.sleep(pause)              # a batch takes a while: others arrive meanwhile
        if set(jobs) & set(fail):
            raise ValueError("scan failed")
        done: Future = Future()
        done.set_result(len(jobs))
        return [j * 10 for j in jobs], done
    return ScanBatcher(scan, ThreadPoolExecutor(1), max_size=4, wait=wait)


def test_requests_arriving_during_a_batch_are_scanned_together_in_order():
    calls: list = []

    async def main():
        b = _batcher(calls)
        first = asyncio.ensure_future(b.submit(0))
        await asyncio.sleep(0.01)                       # job 0 is being scanned alone
        rest = [asyncio.ensure_future(b.submit(j)) for j in range(1, 7)]
        return [(r, await shared) for r, shared in await asyncio.gather(first, *rest)]

    out = asyncio.run(main())
    assert calls == [[0], [1, 2, 3, 4], [5, 6]]         # at most max_size a batch
    assert [r for r, _ in out] == [j * 10 for j in range(7)]
    assert [size for _, size in out] == [1, 4, 4, 4, 4, 2, 2]   # each request gets its batch's commit


def test_an_idle_batcher_waits_for_more_when_told_to():
    calls: list = []

    async def main():
        b = _batcher(calls, wait=0.05)
        futs = [asyncio.ensure_future(b.submit(j)) for j in range(3)]
        return await asyncio.gather(*futs)

    assert [r for r, _ in asyncio.run(main())] == [0, 10, 20]
    assert calls == [[0, 1, 2]]


def test_a_failing_batch_fails_its_requests_and_the_batcher_goes_on():
    calls: list = []

    async def main():
        b = _batcher(calls, fail=(1,))
        first = asyncio.ensure_future(b.submit(0))
        await asyncio.sleep(0.01)
        bad = [asyncio.ensure_future(b.submit(j)) for j in (1, 2)]
        results = await asyncio.gather(first, *bad, return_exceptions=True)
        return results, await b.submit(3)

    (first, e1, e2), later = asyncio.run(main())
    assert first[0] == 0 and isinstance(e1, ValueError) and isinstance(e2, ValueError)
    assert later[0] == 30


def _metric(text: str, name: str) -> float:
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_batched_verdicts_are_the_scanners_own_each_to_its_request(shared_scanner, tmp_path):
    listings = [{k: v for k, v in r.items() if not k.startswith("_")} for r in examples("catalog.jsonl")[:40]]
    settings = dataclasses.replace(TEST_SETTINGS, batch_wait=0.02)
    with running_service(f"sqlite:///{tmp_path / 'batch.db'}", shared_scanner, settings) as svc:
        def metrics():
            return httpx.get(svc.url + "/metrics").text
        before = metrics()
        with svc.client("scan") as c, ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda lst: c.post("/v1/scan", json=lst, params={"as_of": AS_OF}).json(), listings))
        after = metrics()
    for listing, verdict in zip(listings, got, strict=True):
        alone = shared_scanner.scan(listing, [], AS_OF)
        assert verdict["listing_id"] == listing["listing_id"]
        assert (verdict["decision"], [f["rule"] for f in verdict["findings"]], verdict["points"]) == (
            alone.decision, [f.rule for f in alone.findings], alone.points), listing["listing_id"]
    batches = _metric(after, "scanner_scan_batch_size_count") - _metric(before, "scanner_scan_batch_size_count")
    scanned = _metric(after, "scanner_scan_batch_size_sum") - _metric(before, "scanner_scan_batch_size_sum")
    assert scanned == len(listings) and batches < len(listings)


def test_key_is_checked_once_per_cache_period_and_revocation_takes_effect(shared_scanner, tmp_path):
    ttl = 3.0
    settings = dataclasses.replace(TEST_SETTINGS, cache_seconds=ttl)
    with running_service(f"sqlite:///{tmp_path / 'keys.db'}", shared_scanner, settings) as svc:
        queries = []
        lock = threading.Lock()

        def count(conn, cursor, statement, *args):
            if "api_keys" in statement:
                with lock:
                    queries.append(statement)

        engine = svc.store.reader
        sa.event.listen(engine, "before_cursor_execute", count)
        _, token = create_key(svc.store.engine, "short-lived", "scan")
        listing = {"listing_id": "KEY-1", "merchant_id": "M-KEY", "title": "Bamboo cutting board"}
        with svc.client(None, headers={"X-API-Key": token}) as c:
            assert [c.post("/v1/scan", json=listing).status_code for _ in range(20)] == [200] * 20
            assert len(queries) == 1                      # a hash lookup in the cache, not a query per request
            assert revoke_key(svc.store.engine, "short-lived") == 1
            revoked = time.monotonic()
            while c.post("/v1/scan", json=listing).status_code == 200:
                assert time.monotonic() - revoked <= ttl + 1.0, "the revoked key is still accepted"
                time.sleep(0.05)
            r = c.post("/v1/scan", json=listing)
            assert r.status_code == 401 and r.json()["message"] == "unknown or revoked API key"
        sa.event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("value", ["20220201", "2022-02-30", "2022-02-01T00:00", " 2022-02-01"])
def test_as_of_must_be_a_plain_date(service, value):
    with service.client("scan") as c:
        r = c.post("/v1/scan", json={"listing_id": "D-1", "merchant_id": "M", "title": "mug"},
                   params={"as_of": value})
    assert r.status_code == 422 and r.json()["field"] == "as_of"
