"""Sweep benchmark: generate N listings, sweep them with the local engine into a fresh store, then
sweep the unchanged catalog again. Prints wall time, listings/s, peak RSS and the speed-up.

    .venv/bin/python bench/bench_sweep.py --n 20000
    .venv/bin/python bench/bench_sweep.py              # 1,000,000 listings (goal: <= 5 min, <= 1 GB)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scanner.rulesets import load_rulesets
from scanner.store import open_store
from scanner.sweep import SweepOptions, sweep
from scanner.sweep_catalog import write_jsonl


class RssSampler:
    """Peak RSS of this process (getrusage) and, sampled, of every descendant (the pool workers
    are the forkserver's children, so RUSAGE_CHILDREN does not see them)."""

    def __init__(self, every: float = 0.5):
        self.every, self.peak_worker, self.peak_total = every, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every):
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_worker = max(self.peak_worker, rss / 2**20)
            self.peak_total = max(self.peak_total, total / 2**20)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def coordinator_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(store, opts: SweepOptions) -> tuple[float, dict, RssSampler]:
    with RssSampler() as rss:
        t = time.perf_counter()
        result = sweep(store, opts, log=lambda m: None)
        return time.perf_counter() - t, result, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--database", help="database URL (default: a SQLite file in the temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (catalog and database)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    src = tmp / "catalog.jsonl"
    t = time.perf_counter()
    write_jsonl(src, args.n, rulesets=load_rulesets(REPO / "rulesets"))
    print(f"generated {args.n:,} listings ({src.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s")
    url = args.database or f"sqlite:///{tmp / 'scanner.db'}"
    # a snapshot of the rulesets and models: edits made meanwhile must not change the versions
    # between the two sweeps (that would, rightly, rescan everything)
    for name in ("rulesets", "models"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tmp / name)
    opts = SweepOptions(source=str(src), workers=args.workers, chunk_size=args.chunk, as_of=dt.date(2022, 2, 1),
                        rulesets=str(tmp / "rulesets"),
                        models=str(tmp / "models") if (tmp / "models").is_dir() else None,
                        progress=sys.stderr.isatty())
    with open_store(url) as store:
        store.upgrade()
        first_s, first, rss1 = timed(store, opts)
        print(f"first sweep:  {first_s:8.1f} s  {args.n / first_s:10,.0f} listings/s  "
              f"scanned {first['scanned']:,}  decisions {first['decisions']}")
        print(f"  peak RSS: coordinator {coordinator_peak_mb():,.0f} MB, largest worker "
              f"{rss1.peak_worker:,.0f} MB, all processes together {rss1.peak_total:,.0f} MB")
        second_s, second, rss2 = timed(store, opts)
        print(f"second sweep: {second_s:8.1f} s  {args.n / second_s:10,.0f} listings/s  "
              f"unchanged {second['unchanged']:,}  scanned {second['scanned']:,}")
        print(f"  peak RSS: coordinator {coordinator_peak_mb():,.0f} MB, all processes {rss2.peak_total:,.0f} MB")
    print(f"speed-up of the unchanged sweep: {first_s / second_s:.1f}x (goal >= 10x)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(other work on the machine slows the sweep)")
    goal_ok = first_s <= 300 and max(coordinator_peak_mb(), rss1.peak_worker) <= 1024
    print(f"goal (<= 300 s, <= 1 GB per process) for n={args.n:,}: {'met' if goal_ok else 'NOT met'}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
