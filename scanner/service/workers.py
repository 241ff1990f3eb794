"""Several uvicorn worker processes, each with a listening socket of its own on the same port
(SO_REUSEPORT, Linux), so that the kernel spreads new connections evenly across them.

uvicorn's own --workers shares one socket: whichever worker is awake accepts a whole burst of
connections (31 of 32 keep-alive clients on one worker, measured), leaving the other core idle.
The supervisor restarts a worker that dies, forwards SIGTERM/SIGINT as SIGTERM (graceful: in-flight
requests finish and queued verdicts are committed) and waits for the workers before it exits."""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from typing import Any

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("scanner.service")
APP = "scanner.service.app:create_app"
SUPPORTED = hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    try:
        sock = _socket(host, port, reuse_port=True)
    except OSError as exc:
        print(f"scanner serve: cannot listen on {host}:{port}: {exc}", flush=True)
        raise SystemExit(STARTUP_FAILURE) from None
    server = uvicorn.Server(uvicorn.Config(APP, factory=True, **options))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:     # uvicorn re-raises the signal it stopped for
        pass


def _forget_metrics(pid: int) -> None:
    """Drop a dead worker's live gauges (prometheus_client's multiprocess mode); its counters and
    histograms stay: what it served still counts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


def serve(host: str, port: int, workers: int, options: dict[str, Any], stop_timeout: float) -> int:
    """Run `workers` processes until SIGTERM or SIGINT; returns the exit status."""
    try:                          # the port must be free: a socket with SO_REUSEPORT would share it
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        print(f"scanner serve: cannot listen on {host}:{port}: {exc}", flush=True)
        return 1
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start():
        proc = spawn.Process(target=_worker, args=(host, port, options), name="scanner-worker")
        proc.start()
        return proc

    def on_signal(signum, frame):
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    procs = [start() for _ in range(workers)]
    status = 0
    try:
        while not stop.wait(0.5):
            for i, proc in enumerate(procs):
                if proc.is_alive():
                    continue
                if proc.exitcode == STARTUP_FAILURE:
                    log.error("a worker failed to start; stopping")
                    stop.set()
                    status = 1
                    break
                log.error("worker %s exited with %s; starting another", proc.pid, proc.exitcode)
                _forget_metrics(proc.pid)
                procs[i] = start()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()                  # SIGTERM: uvicorn's graceful shutdown
        for proc in procs:
            proc.join(stop_timeout)
            if proc.is_alive():
                log.error("worker %s did not stop within %.0f s; killing it", proc.pid, stop_timeout)
                proc.kill()
                proc.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
