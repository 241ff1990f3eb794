"""Verdicts recorded in the background (the default): readable after the flush, kept through a store
outage (503 store_busy once the bounded queue is full, committed when the store is back), and the
recorder's own guarantees: a bounded queue, a barrier flush, everything committed on close."""
import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from service_harness import AS_OF, TEST_SETTINGS, running_service

from scanner.service.recorder import QueueFull, Recorder
from scanner.store import open_store

CROSSBOW = {"merchant_id": "M-REC", "title": "Compound crossbow 175 lbs with scope", "target_markets": ["US"]}


def test_background_verdict_is_readable_after_the_flush(service):
    assert service.runtime.settings.record == "background"
    with service.client("scan") as c:
        v = c.post("/v1/scan", json={**CROSSBOW, "listing_id": "REC-1"}, params={"as_of": AS_OF}).json()
        assert v["decision"] == "block"
        service.flush()
        assert service.store.history("REC-1")[-1]["decision"] == "block"
        # a verdict read through the API waits for this process's queue: no flush needed
        c.post("/v1/scan", json={**CROSSBOW, "listing_id": "REC-2"}, params={"as_of": AS_OF})
        h = c.get("/v1/verdicts/REC-2").json()
        assert h["latest"]["decision"] == "block" and len(h["history"]) == 1


def test_store_outage_fills_the_queue_then_503_and_nothing_accepted_is_lost(shared_scanner, tmp_path):
    settings = dataclasses.replace(TEST_SETTINGS, record_queue=3)
    with running_service(f"sqlite:///{tmp_path / 'outage.db'}", shared_scanner, settings) as svc:
        with svc.store.engine.begin() as conn:      # commits fail while the findings table is away
            conn.execute(sa.text("ALTER TABLE findings RENAME TO findings_away"))
        with svc.client("scan") as c:
            codes = [c.post("/v1/scan", json={**CROSSBOW, "listing_id": f"OUT-{i}"}).status_code for i in range(3)]
            assert codes == [200, 200, 200]          # accepted: queued, retried in the background
            r = c.post("/v1/scan", json={**CROSSBOW, "listing_id": "OUT-3"})
            assert r.status_code == 503 and r.json()["error"] == "store_busy"
            assert r.headers["retry-after"] == "1"
            assert c.post("/v1/scan/batch", json={"listings": [{**CROSSBOW, "listing_id": "OUT-4"}]}).status_code == 503
            assert svc.runtime.recorder.failures >= 1
            with svc.store.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE findings_away RENAME TO findings"))
            svc.flush()
            for i in range(3):
                assert c.get(f"/v1/verdicts/OUT-{i}").json()["latest"]["decision"] == "block"
            assert c.get("/v1/verdicts/OUT-3").status_code == 404     # refused, so not recorded
            assert c.post("/v1/scan", json={**CROSSBOW, "listing_id": "OUT-3"}).status_code == 200


def _items(runtime, n, prefix):
    records = [{**CROSSBOW, "listing_id": f"{prefix}-{i}"} for i in range(n)]
    return [s.item for s in runtime.scan_records(records, dt.date(2022, 2, 1))]


def test_recorder_bounds_its_queue_and_commits_everything_on_close(service, tmp_path):
    items = _items(service.runtime, 5, "CLOSE")
    with open_store(f"sqlite:///{tmp_path / 'rec.db'}") as store:
        store.upgrade()
        recorder = Recorder(store, max_pending=4, retry=True)
        with pytest.raises(QueueFull):
            recorder.submit(items)                   # 5 do not fit: none is queued
        futures = [recorder.submit(items[:2]), recorder.submit(items[2:4])]
        with pytest.raises(QueueFull):
            recorder.submit(items[4:])
        assert recorder.close(30)
        assert all(f.done() and f.exception() is None for f in futures)
        assert [bool(store.history(f"CLOSE-{i}")) for i in range(5)] == [True] * 4 + [False]
        assert recorder.pending == 0
        with pytest.raises(QueueFull):               # closed: refuses rather than losing
            recorder.submit(items[4:])
