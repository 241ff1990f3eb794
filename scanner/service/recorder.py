"""Recording pre-publish verdicts in the store with group commit: one writer thread takes every
verdict waiting in the queue and records them in one transaction (history, flags, ledger — the same
`record_items` as the sweep), so many concurrent requests share one commit.

The queue is bounded (`max_pending` verdicts): `submit` raises QueueFull rather than let memory
grow while the database is slow or down. With `retry=True` (background recording: the caller has
already answered) a failed commit is retried until it succeeds or the recorder is closed, so a
verdict that was accepted is not dropped; `close` commits everything queued before it returns."""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, wait

from scanner.service import metrics
from scanner.store import Store
from scanner.store.record import Item

log = logging.getLogger("scanner.service")
MAX_BATCH = 500
RETRY_SECONDS = (0.05, 2.0)   # first and longest wait between attempts of a failed commit
_STOP = object()


class QueueFull(Exception):
    """More verdicts are waiting to be committed than the recorder holds."""


class Recorder:
    def __init__(self, store: Store, max_pending: int = 10_000, retry: bool = False, linger: float = 0.0,
                 max_batch: int = MAX_BATCH):
        self.store = store
        self.max_pending, self.retry, self.max_batch = max_pending, retry, max_batch
        self.linger = linger      # seconds to gather more verdicts into a commit (when nobody waits for it)
        self.failures = 0
        self._pending = 0                      # verdicts submitted and not yet committed
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="verdict-recorder", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, items: list[Item]) -> Future:
        """Queue verdicts; the future resolves once they are committed (or fails with the error).
        Raises QueueFull, queueing nothing, when they do not fit."""
        with self._lock:
            if self._closing.is_set():
                raise QueueFull("the recorder is closed")
            if self._pending + len(items) > self.max_pending:
                raise QueueFull(f"{self._pending} verdicts are waiting to be recorded")
            self._pending += len(items)
        fut: Future = Future()
        self._queue.put((items, fut))
        return fut

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted before this call is committed (or settled); False on timeout."""
        fut: Future = Future()
        self._queue.put(([], fut))        # the writer takes the queue in order: a barrier
        done, _ = wait([fut], timeout)
        return bool(done)

    def close(self, timeout: float | None = 60.0) -> bool:
        """Commit everything queued, then stop. False if that did not finish within `timeout`."""
        with self._lock:
            self._closing.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive() or self._pending:
            log.error("verdict recorder stopped with %d verdicts not recorded", self._pending)
            return False
        return True

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            n = len(first[0])
            deadline = time.monotonic() + self.linger
            while n < self.max_batch and batch[-1][0]:      # a flush barrier (no items) commits at once
                left = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
                n += len(nxt[0])
            self._commit(batch)

    def _commit(self, batch: list[tuple[list[Item], Future]]) -> None:
        items = [it for its, _ in batch for it in its]
        wait = RETRY_SECONDS[0]
        while True:
            start = time.perf_counter()
            try:
                self.store.record_items(items)
                break
            except Exception as exc:  # noqa: BLE001 - the database is down or refused
                self.failures += 1
                metrics.RECORD_FAILURES.inc()
                if not self.retry or self._closing.is_set():
                    self._settle(batch, len(items), exc)
                    return
                log.error("recording %d verdicts failed, retrying in %.2f s: %s", len(items), wait, exc)
            finally:
                metrics.STAGE_SECONDS.labels("record_commit").observe(time.perf_counter() - start)
            time.sleep(wait)
            wait = min(wait * 2, RETRY_SECONDS[1])
        self._settle(batch, len(items))

    def _settle(self, batch: list[tuple[list[Item], Future]], n: int, exc: Exception | None = None) -> None:
        with self._lock:
            self._pending -= n
        if exc is not None and self.retry:
            log.error("%d verdicts were not recorded (the recorder is closing): %s", n, exc)
        for _, fut in batch:
            if exc is None:
                fut.set_result(n)
            else:
                fut.set_exception(exc)
