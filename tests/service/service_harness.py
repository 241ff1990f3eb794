"""Test harness of the service: a real uvicorn server on a free loopback port, in a thread."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import orjson

from scanner.service.apikeys import create_key, revoke_key
from scanner.service.app import create_app
from scanner.service.runtime import Runtime
from scanner.service.settings import Settings
from scanner.service.testing import serve
from scanner.store import open_store

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2022-02-01"
TEST_SETTINGS = Settings(cache_seconds=0.0, rate_limit=0, scan_threads=2,
                         field_chars={**Settings.from_env().field_chars, "title": 500})


@dataclass
class Service:
    url: str
    store: object
    runtime: Runtime
    keys: dict[str, str] = field(default_factory=dict)

    def flush(self) -> None:
        """Wait until the verdicts of earlier scans are committed (record=background)."""
        if self.runtime.recorder is not None:
            assert self.runtime.recorder.flush(30)

    def client(self, key: str | None = "admin", headers: dict | None = None, **kw) -> httpx.Client:
        headers = {**({"X-API-Key": self.keys[key]} if key else {}), **(headers or {})}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)


@contextlib.contextmanager
def running_service(db_url: str, scanner, settings: Settings = TEST_SETTINGS):
    settings = replace(settings, database_url=db_url)
    store = open_store(db_url)
    runtime = Runtime(settings, scanner=scanner, store=store)   # migrates the store
    keys = {}
    for scope in ("admin", "scan", "certificates"):
        keys[scope] = create_key(store.engine, f"test-{scope}", scope)[1]
    keys["limited"] = create_key(store.engine, "test-limited", "scan", rate_limit=2)[1]
    keys["revoked"] = create_key(store.engine, "test-revoked", "admin")[1]
    assert revoke_key(store.engine, "test-revoked") == 1
    try:
        with serve(create_app(settings, runtime), lifespan="on") as url:
            yield Service(url, store, runtime, keys)
    finally:
        runtime.close()


def examples(name: str) -> list[dict]:
    return [orjson.loads(line) for line in (REPO / "examples" / name).read_text().splitlines() if line.strip()]
