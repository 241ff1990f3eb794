"""Test harness of the service: a real uvicorn server on a free loopback port, in a thread."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import orjson
import uvicorn

from scanner.service.apikeys import create_key, revoke_key
from scanner.service.app import create_app
from scanner.service.runtime import Runtime
from scanner.service.settings import Settings
from scanner.store import open_store

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2022-02-01"
TEST_SETTINGS = Settings(cache_seconds=0.0, rate_limit=0, scan_threads=2,
                         field_chars={**Settings.from_env().field_chars, "title": 500})


@dataclass
class Service:
    url: str
    store: object
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = "admin", headers: dict | None = None, **kw) -> httpx.Client:
        headers = {**({"X-API-Key": self.keys[key]} if key else {}), **(headers or {})}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)


@contextlib.contextmanager
def serve(app, timeout: float = 60.0):
    """Run `app` under uvicorn in a thread on a socket bound to a free port; yield the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


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
        with serve(create_app(settings, runtime)) as url:
            yield Service(url, store, keys)
    finally:
        runtime.close()


def examples(name: str) -> list[dict]:
    return [orjson.loads(line) for line in (REPO / "examples" / name).read_text().splitlines() if line.strip()]
