"""Sweep benchmark: generate N listings, sweep them with the local engine into a fresh store, then
sweep the unchanged catalog again. Prints wall time, listings/s, peak RSS and the speed-up.

    .venv/bin/python bench/bench_sweep.py --n 20000
    .venv/bin/python bench/bench_sweep.py              # 1,000,000 listings (goal: <= 5 min, <= 1 GB)
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.rulesets import load_rulesets
from scanner.store import open_store
from scanner.sweep import SweepOptions, sweep
from scanner.sweep_catalog import write_jsonl


def peak_rss_mb() -> tuple[float, float]:
    """(this process, largest child process) peak resident set size in MB."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def timed(store, opts: SweepOptions) -> tuple[float, dict]:
    t = time.perf_counter()
    result = sweep(store, opts, log=lambda m: None)
    return time.perf_counter() - t, result


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
    write_jsonl(src, args.n, rulesets=load_rulesets())
    print(f"generated {args.n:,} listings ({src.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f}s")
    url = args.database or f"sqlite:///{tmp / 'scanner.db'}"
    opts = SweepOptions(source=str(src), workers=args.workers, chunk_size=args.chunk, as_of=dt.date(2022, 2, 1),
                        progress=sys.stderr.isatty())
    with open_store(url) as store:
        store.upgrade()
        first_s, first = timed(store, opts)
        me1, kids1 = peak_rss_mb()
        print(f"first sweep:  {first_s:8.1f} s  {args.n / first_s:10,.0f} listings/s  "
              f"scanned {first['scanned']:,}  decisions {first['decisions']}")
        print(f"  peak RSS: coordinator {me1:,.0f} MB, largest worker {kids1:,.0f} MB")
        second_s, second = timed(store, opts)
        me2, _ = peak_rss_mb()
        print(f"second sweep: {second_s:8.1f} s  {args.n / second_s:10,.0f} listings/s  "
              f"unchanged {second['unchanged']:,}  scanned {second['scanned']:,}")
        print(f"  peak RSS: coordinator {me2:,.0f} MB")
    print(f"speed-up of the unchanged sweep: {first_s / second_s:.1f}x (goal >= 10x)")
    goal_ok = first_s <= 300 and max(me2, kids1) <= 1024
    print(f"goal (<= 300 s, <= 1 GB per process) for n={args.n:,}: {'met' if goal_ok else 'NOT met'}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
