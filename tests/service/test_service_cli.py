"""`scanner keys` and `scanner serve` as a user runs them: keys printed once and stored hashed;
the served process answers, and on SIGTERM finishes the request in flight before it exits."""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import orjson
import psutil
import pytest
import sqlalchemy as sa
from service_harness import REPO

from scanner.cli import main
from scanner.service.apikeys import T as KEYS
from scanner.service.apikeys import create_key
from scanner.store import open_store


def test_keys_create_list_revoke(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "--database", url, "create", "--name", "publisher", "--scope", "scan",
                 "--rate-limit", "600"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("lcs_") and len(token) > 40 and "shown only now" in out.err
    with open_store(url) as store, store.engine.connect() as conn:
        row = conn.execute(sa.select(KEYS)).one()._mapping
    assert row["key_hash"] == hashlib.sha256(token.encode()).hexdigest() and token not in str(dict(row))
    assert (row["scope"], row["rate_limit"]) == ("scan", 600)
    assert main(["keys", "--database", url, "list"]) == 0
    listed = capsys.readouterr().out
    assert "publisher" in listed and token not in listed and "active" in listed
    assert main(["keys", "--database", url, "revoke", "publisher"]) == 0
    assert main(["keys", "--database", url, "revoke", "publisher"]) == 1     # nothing left to revoke
    capsys.readouterr()
    assert main(["keys", "--database", url, "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["keys", "--database", url, "create", "--name", "x", "--scope", "superuser"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, *args: str) -> tuple[subprocess.Popen, str]:
    """`scanner serve` on a free port, ready; the caller stops it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SCANNER_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "scanner.cli", "serve", "--port", str(port), *args], cwd=REPO,
                            env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


def _key(url: str) -> str:
    with open_store(url) as store:
        store.upgrade()
        return create_key(store.engine, "t", "scan")[1]


def test_serve_finishes_in_flight_requests_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    key = _key(url)
    proc, base = _serve(url)
    try:
        body = orjson.dumps({"listing_id": "SLOW-1", "merchant_id": "M-SLOW", "title": "Electric stun gun baton",
                             "description": "x " * 2000})
        started = threading.Event()

        def slow_body():             # the request is in flight while the server is told to stop
            yield body[:100]
            started.set()
            time.sleep(1.5)
            yield body[100:]

        result = {}

        def send():
            result["r"] = httpx.post(base + "/v1/scan", content=slow_body(), timeout=30,
                                     headers={"X-API-Key": key, "content-type": "application/json"})

        t = threading.Thread(target=send)
        t.start()
        assert started.wait(10)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        t.join(30)
        r = result["r"]
        assert r.status_code == 200 and r.json()["listing_id"] == "SLOW-1" and r.json()["decision"] == "block"
        assert proc.wait(30) in (0, -signal.SIGTERM)   # uvicorn re-raises the signal after a clean shutdown
        with pytest.raises(httpx.TransportError):
            httpx.get(base + "/healthz", timeout=1)
        with open_store(url) as store:     # the verdict of the in-flight request was committed
            assert store.history("SLOW-1")[-1]["decision"] == "block"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_commits_background_verdicts_on_sigterm(tmp_path):
    """Verdicts still queued when the server is told to stop (the store is locked by another writer)
    are committed before the workers exit."""
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    key = _key(url)
    proc, base = _serve(url, "--record", "background", "--workers", "2")
    ids = [f"BG-{i}" for i in range(24)]
    try:
        blocker = sa.create_engine(url).connect()
        blocker.exec_driver_sql("BEGIN IMMEDIATE")       # the recorders' commits wait for this lock
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
            for lid in ids:
                r = c.post("/v1/scan", json={"listing_id": lid, "merchant_id": "M-BG", "title": "Pepper spray 60ml"})
                assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert proc.poll() is None                        # still committing what it queued
        blocker.exec_driver_sql("ROLLBACK")
        blocker.close()
        assert proc.wait(60) in (0, -signal.SIGTERM)
        with open_store(url) as store:
            assert [lid for lid in ids if not store.history(lid)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _listening(proc: psutil.Process, port: int) -> bool:
    return any(k.status == psutil.CONN_LISTEN and k.laddr.port == port for k in proc.net_connections("tcp"))


def test_serve_spreads_connections_and_replaces_a_dead_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    key = _key(url)
    proc, base = _serve(url, "--workers", "2")
    try:
        parent = psutil.Process(proc.pid)

        def workers():
            out = []
            for p in parent.children():
                try:
                    if "spawn_main" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                        out.append(p)
                except psutil.Error:       # a killed worker not yet reaped by the supervisor
                    pass
            return out

        first = workers()
        assert len(first) == 2
        port = int(base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 90
        while not all(_listening(w, port) for w in first):     # both have loaded the scanner
            assert time.monotonic() < deadline, "a worker did not start listening"
            time.sleep(0.2)
        # a burst of 24 connections (as a load balancer or wrk opens them): each worker takes some,
        # where with one shared socket the first worker awake accepted them all
        burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
        time.sleep(0.5)
        holders = {w.pid: sum(1 for k in w.net_connections("tcp") if k.laddr.port == port and k.raddr)
                   for w in first}
        assert sum(holders.values()) == 24 and min(holders.values()) >= 4, holders
        for conn in burst:
            conn.close()
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
            for i in range(6):   # verdicts that the dead worker's metrics may hold
                assert c.post("/v1/scan", json={"listing_id": f"V-{i}", "merchant_id": "M-W",
                                                "title": "Pepper spray 60ml"}).status_code == 200
        first[0].kill()
        deadline = time.monotonic() + 90
        while {w.pid for w in workers()} & {first[0].pid} or len(workers()) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
            r = c.post("/v1/scan", json={"listing_id": "W-1", "merchant_id": "M-W", "title": "Ceramic mug"})
            assert r.status_code == 200
            # every verdict served still counts, the dead worker's too
            metrics = c.get("/metrics").text
        served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("scanner_verdicts_total{"))
        assert served == 7, metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_serve_refuses_a_port_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = {**os.environ, "SCANNER_DATABASE_URL": f"sqlite:///{tmp_path / 'busy.db'}"}
        done = subprocess.run([sys.executable, "-m", "scanner.cli", "serve", "--port", str(port)],
                              check=False, cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "cannot listen" in done.stdout + done.stderr
