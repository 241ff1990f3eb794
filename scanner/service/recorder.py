"""Recording pre-publish verdicts in the store with group commit: one writer thread takes every
verdict waiting in the queue and records them in one transaction (history, flags, ledger — the same
`record_items` as the sweep), so many concurrent requests share one commit."""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

from scanner.service import metrics
from scanner.store import Store
from scanner.store.record import Item

MAX_BATCH = 500
_STOP = object()


class Recorder:
    def __init__(self, store: Store, max_batch: int = MAX_BATCH):
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="verdict-recorder", daemon=True)
        self._thread.start()
        self.failures = 0

    def submit(self, items: list[Item]) -> Future:
        """Queue verdicts; the future resolves once they are committed (or fails with the error)."""
        fut: Future = Future()
        self._queue.put((items, fut))
        return fut

    def close(self, timeout: float | None = 30.0) -> None:
        """Commit everything queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            n = len(first[0])
            while n < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
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
        start = time.perf_counter()
        try:
            self.store.record_items(items)
        except Exception as exc:  # noqa: BLE001 - the database is down or refused: every waiting request learns it
            self.failures += 1
            for _, fut in batch:
                fut.set_exception(exc)
            return
        finally:
            metrics.STAGE_SECONDS.labels("record_commit").observe(time.perf_counter() - start)
        for _, fut in batch:
            fut.set_result(len(items))
