"""Drive the pre-publish service over loopback: p50/p99 latency and requests/s for POST /v1/scan
at 1, 8 and 32 concurrent clients (closed loop: each client sends its next request when the last
one is answered).

    python bench/bench_service.py [--workers 1] [--requests 3000] [--concurrency 1 8 32] [--record wait]

It starts `scanner serve` (a real uvicorn server) on a free loopback port with a throw-away SQLite
store and an API key, scans listings from bench/generate.py (a new listing id per request, so each
verdict is recorded), and stops the server. The client runs on the same 2 cores as the server:
read the figures as what one box does end to end.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from generate import generate

GOAL_P99_MS, GOAL_RPS = 10.0, 1000.0   # the goal at 32 clients


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, port: int, workers: int, record: str) -> subprocess.Popen:
    env = {**os.environ, "SCANNER_DATABASE_URL": db_url, "SCANNER_RATE_LIMIT": "0", "SCANNER_RECORD": record}
    return subprocess.Popen([sys.executable, "-m", "scanner.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)], env=env, cwd=ROOT, stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            r = httpx.get(url + "/readyz", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


async def drive(url: str, key: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float, int]:
    """`concurrency` clients over keep-alive connections. aiohttp, not httpx: on this machine httpx's
    async client spends ~1.5 ms of CPU per request and caps the run near 600 req/s on its own."""
    latencies: list[float] = []
    errors = 0
    it = iter(bodies)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def worker():
            nonlocal errors
            for body in it:
                t0 = time.perf_counter()
                async with session.post("/v1/scan", data=body) as r:
                    await r.read()
                    status = r.status
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, elapsed, errors


def run(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--requests", type=int, default=3000, help="requests per concurrency level")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--record", default="wait", choices=("wait", "background", "off"),
                    help="wait: the answer comes after the verdict is committed (default)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)

    from scanner.service.apikeys import create_key
    from scanner.store import open_store

    n_total = args.requests * (len(args.concurrency) + 1)
    listings = list(generate(n_total, seed=args.seed))
    bodies = []
    for i, lst in enumerate(listings):
        lst.pop("_risk", None)
        lst["listing_id"] = f"BENCH-{i}"
        bodies.append(orjson.dumps(lst))
    size = statistics.mean(map(len, bodies))

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        with open_store(db_url) as store:
            store.upgrade()
            _, key = create_key(store.engine, "bench", "scan")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(db_url, port, args.workers, args.record)
        try:
            info = wait_ready(url, proc)
            print(f"server: {args.workers} worker(s), record={args.record}, rulesets {info['rulesets']}, "
                  f"{len(bodies)} generated listings of {size:.0f} bytes (JSON)")
            run(drive(url, key, bodies[:args.requests], 8))     # warm-up
            offset = args.requests
            print(f"{'clients':>7} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>6}")
            results = {}
            for c in args.concurrency:
                lat, elapsed, errors = run(drive(url, key, bodies[offset:offset + args.requests], c))
                offset += args.requests
                p50, p99, rps = pct(lat, .5) * 1e3, pct(lat, .99) * 1e3, len(lat) / elapsed
                results[c] = (p50, p99, rps)
                print(f"{c:>7} {len(lat):>8} {p50:>8.2f} {p99:>8.2f} {rps:>8.0f} {errors:>6}")
            with open_store(db_url) as store:
                recorded = store.counts()["verdicts"]
            print(f"verdicts recorded in the store: {recorded}")
            if 32 in results:
                p50, p99, rps = results[32]
                print(f"goal at 32 clients: p99 <= {GOAL_P99_MS} ms and >= {GOAL_RPS:.0f} req/s -> "
                      f"p99 {p99:.1f} ms, {rps:.0f} req/s: {'met' if p99 <= GOAL_P99_MS and rps >= GOAL_RPS else 'NOT met'}"
                      f" (closed loop: 32 clients at p99 10 ms need > 3,200 req/s by Little's law)")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
