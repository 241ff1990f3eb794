"""Micro-batching of single-listing scans (POST /v1/scan).

Requests that arrive while a batch is being scanned wait for it to finish and are then scanned
together, in one call off the event loop (one classifier matrix product, one thread hand-off and
one recorder submission per batch instead of per request). An idle scanner takes a request at
once, or after `wait` seconds when that is set, to gather more. One batch is in flight per process:
the scan holds the GIL, so a second one would only interleave with the first."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

# scan(jobs) -> (one result per job, a future shared by the batch or None), run in the executor
ScanFn = Callable[[list[Any]], tuple[list[Any], Future | None]]


class ScanBatcher:
    def __init__(self, scan: ScanFn, executor: Executor, max_size: int = 64, wait: float = 0.0):
        self._scan, self._executor = scan, executor
        self.max_size, self.wait = max_size, wait
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False

    async def submit(self, job: Any) -> tuple[Any, asyncio.Future | None]:
        """The job's result and the batch's shared future (wrapped for this loop), once scanned."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((job, fut))
        if not self._busy:
            if self.wait <= 0 or len(self._pending) >= self.max_size:
                self._dispatch()
            elif self._timer is None:
                self._timer = loop.call_later(self.wait, self._dispatch)
        return await fut

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy or not self._pending:
            return
        batch, self._pending = self._pending[:self.max_size], self._pending[self.max_size:]
        self._busy = True
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._scan, [job for job, _ in batch])
        work.add_done_callback(lambda w: self._done(batch, w))

    def _done(self, batch: list[tuple[Any, asyncio.Future]], work: asyncio.Future) -> None:
        self._busy = False
        try:
            results, shared = work.result()
        except BaseException as exc:  # noqa: BLE001 - every request of the batch learns it
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
        else:
            wrapped = None
            if shared is not None:
                wrapped = asyncio.wrap_future(shared)
                wrapped.add_done_callback(_retrieve)   # no "never retrieved" noise if every client left
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():          # done: the client went away (cancelled)
                    fut.set_result((result, wrapped))
        if self._pending:                   # what arrived during this batch goes now
            self._dispatch()


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()
