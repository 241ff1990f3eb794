"""`scanner sweep SOURCE`: re-check a whole catalog against the current rulesets and models.

Incremental (a listing whose content, certificate set, rule exceptions, ruleset version and model
version are unchanged is skipped), resumable (each chunk's verdicts, flags, charges, quarantined
lines and checkpoint commit in one transaction; re-running the same command after a crash finishes
the run), and parallel (a local process pool, or Dask workers). `--shadow` backtests a candidate
ruleset/model against the live one without writing verdicts, flags or points.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from scanner.engine import model_version
from scanner.gc_tuning import relax_gc
from scanner.io import parse_json_line
from scanner.listing import RecordError, parse_listing
from scanner.rulesets import load_rulesets
from scanner.store import Store, apply_exceptions, keys, open_store
from scanner.store.record import Item
from scanner.sweep_certs import flag_thresholds, import_certificates
from scanner.sweep_report import Progress, count_shadow, count_verdict, merge, render, summary
from scanner.sweep_source import count_records, read_source
from scanner.sweep_work import ChunkJob, Spec, init_worker, scan_chunk

DEFAULT_CHUNK = 5000


@dataclass
class SweepOptions:
    source: str
    engine: str = "local"
    scheduler: Any = None                # address, or a distributed.Client
    workers: int | None = None
    rulesets: str | None = None
    models: str | None = None
    shadow: str | None = None            # candidate ruleset dir
    shadow_models: str | None = None
    as_of: dt.date | None = None
    chunk_size: int = DEFAULT_CHUNK
    quarantine: str | None = None
    progress: bool = True


class _Inline:
    """`--workers 0`: scan in this process (small catalogs, tests, debugging)."""

    def submit(self, fn, *args) -> cf.Future:
        fut: cf.Future = cf.Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass


class _Pool:
    """Submit chunks to a local process pool or Dask, with a bound on chunks in flight."""

    def __init__(self, opts: SweepOptions, spec: Spec):
        self.spec = spec
        self.client = None
        if opts.engine == "dask":
            from distributed import Client

            if opts.scheduler is None:
                raise SystemExit("scanner sweep: --engine dask needs --scheduler ADDRESS")
            self.client = opts.scheduler if isinstance(opts.scheduler, Client) else Client(opts.scheduler)
            self.own_client = not isinstance(opts.scheduler, Client)
            self.limit = 2 * max(1, sum(self.client.nthreads().values()))
        elif opts.engine == "local" and opts.workers == 0:
            self.pool = _Inline()
            self.limit = 1
        elif opts.engine == "local":
            n = opts.workers or os.cpu_count() or 1
            self.pool = cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("forkserver"),
                                               initializer=init_worker, initargs=(spec,))
            self.limit = 2 * n
        else:
            raise SystemExit(f"scanner sweep: unknown engine {opts.engine!r} (local or dask)")

    def submit(self, job: ChunkJob):
        if self.client is not None:
            return self.client.submit(scan_chunk, self.spec, job, pure=False, retries=2)
        return self.pool.submit(scan_chunk, self.spec, job)

    def wait_one(self, pending: set) -> tuple[set, set]:
        if self.client is not None:
            from distributed import wait

            done, rest = wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(rest)
        return cf.wait(pending, return_when=cf.FIRST_COMPLETED)

    def close(self) -> None:
        if self.client is not None:
            if self.own_client:
                self.client.close()
        else:
            self.pool.shutdown(cancel_futures=True)


def _has_ids(rec: dict) -> bool:
    lid, mid = rec.get("listing_id"), rec.get("merchant_id")
    return isinstance(lid, str) and isinstance(mid, str) and bool(lid) and bool(mid)


def _chunks(records: Iterator, size: int) -> Iterator[tuple[int, list]]:
    buf: list = []
    n = 0
    for rec in records:
        buf.append(rec)
        if len(buf) >= size:
            yield n, buf
            n, buf = n + 1, []
    if buf:
        yield n, buf


def _run_key(opts: SweepOptions, live_version: tuple[str, str], cand_version: tuple[str, str] | None,
             as_of: dt.date) -> str:
    parts = [_source_id(opts.source), "shadow" if opts.shadow else "live", *live_version,
             *(cand_version or ()), as_of.isoformat(), str(opts.chunk_size)]
    return keys.set_digest(["\x1f".join(parts)])


def _source_id(source: str) -> str:
    return source if source.startswith("table:") else str(Path(source).resolve())


class Sweep:
    def __init__(self, store: Store, opts: SweepOptions, log: Callable[[str], None] | None = None):
        # the coordinator needs the rulesets and the versions, not a Scanner: the workers build theirs
        self.store, self.opts = store, opts
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.rulesets = load_rulesets(opts.rulesets)
        self.live_version = (self.rulesets.version, model_version(opts.models))
        self.cand_version = None
        if opts.shadow or opts.shadow_models:
            self.cand_version = (load_rulesets(opts.shadow).version if opts.shadow else self.rulesets.version,
                                 model_version(opts.shadow_models or opts.models))
        self.mode = "shadow" if self.cand_version is not None else "live"
        self.groups = {k: set(v) for k, v in self.rulesets.markets.groups.items()}
        store.flag_confidence_below = flag_thresholds(self.rulesets)
        relax_gc()

    def versions(self) -> tuple[tuple[str, str], tuple[str, str] | None]:
        return self.live_version, self.cand_version

    def _as_of(self, live, cand) -> dt.date:
        if self.opts.as_of is not None:
            return self.opts.as_of
        # re-running the same command resumes an unfinished run with its as-of date
        prev = self.store.unfinished_run(_source_id(self.opts.source), self.mode)
        if prev is not None and (prev["ruleset_version"], prev["model_version"]) == live:
            return prev["as_of"]
        return dt.date.today()

    def run(self) -> dict[str, Any]:
        opts, store = self.opts, self.store
        live_v, cand_v = self.versions()
        as_of = self._as_of(live_v, cand_v)
        run_id, resumed = store.open_run(
            _run_key(opts, live_v, cand_v, as_of), source=_source_id(opts.source), mode=self.mode,
            engine=opts.engine, ruleset_version=live_v[0], model_version=live_v[1], as_of=as_of,
            chunk_size=opts.chunk_size)
        done = store.done_chunks(run_id)
        if resumed:
            self.log(f"sweep: resuming run {run_id}: {len(done)} chunks already committed")
        self.cert_digests = store.certificate_digests(as_of)
        self.version_key = keys.versions_key(live_v[0], self.rulesets.rules.values(), as_of, store.fda_digest(),
                                             live_v[1])
        self.exceptions = store.active_exceptions_all(as_of)
        self.exc_digests = {m: keys.set_digest(str(e.id) for e in es) for m, es in self.exceptions.items()}
        self._tails: dict[str, str] = {}   # merchant -> the scan key's parts other than the content
        total = count_records(opts.source, store) if opts.progress else None
        progress = Progress(total, sum(c.get("records", 0) for c in done.values())) if opts.progress else None
        pool = None      # started on the first chunk with something to scan
        pending: set = set()
        prepared: dict[int, dict] = {}
        # a chunk with nothing to scan is committed by this thread while the next chunk is read and
        # fingerprinted (the database works without the GIL); one such commit in flight at a time
        committer = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-commit")
        unchanged_commit: cf.Future | None = None
        try:
            for chunk, records in _chunks(read_source(opts.source, store, raw=True), opts.chunk_size):
                if chunk in done:
                    continue
                job, prep = self._prepare(chunk, records, as_of)
                prepared[chunk] = prep
                if not job.records:
                    if unchanged_commit is not None:
                        unchanged_commit.result()   # raises what the last one raised
                    unchanged_commit = committer.submit(self._commit, run_id, (chunk, []), prepared, progress)
                    continue
                if pool is None:
                    pool = _Pool(opts, Spec(opts.rulesets, opts.models, opts.shadow, opts.shadow_models,
                                            store.url))
                pending.add(pool.submit(job))
                while len(pending) >= pool.limit:
                    finished, pending = pool.wait_one(pending)
                    for fut in finished:
                        self._commit(run_id, fut.result(), prepared, progress)
            while pending:
                finished, pending = pool.wait_one(pending)
                for fut in finished:
                    self._commit(run_id, fut.result(), prepared, progress)
            if unchanged_commit is not None:
                unchanged_commit.result()
        finally:
            committer.shutdown(wait=True)
            if pool is not None:
                pool.close()
            if progress is not None:
                progress.close()
        total_counts, examples = merge(store.done_chunks(run_id))
        result = summary(total_counts, examples, store.run(run_id) | {"as_of": as_of})
        store.finish_run(run_id, result)
        self._write_quarantine(run_id)
        return result

    def _prepare(self, chunk: int, records: list, as_of: dt.date) -> tuple[ChunkJob, dict]:
        """Fingerprint the chunk, skip the unchanged, and build the job for the rest. JSONL lines
        come as bytes: a line byte-identical to the one a listing was last read from, whose scan
        key still holds, is unchanged without being parsed."""
        quarantine: list[tuple[int, str]] = []
        todo: list[tuple[int, bytes, str, str]] = []
        candidates = []
        raws: dict[int, str] = {}    # line -> keys.raw_digest of its bytes (JSONL, live runs: shadow runs write nothing)
        touched: list[str] = []
        unchanged: Counter = Counter()   # by current decision; counted once per chunk below
        n_records = len(records)
        if self.mode == "live":
            records = self._skip_identical_lines(records, raws, touched, unchanged)
        for line, rec in records:
            if isinstance(rec, bytes):
                rec = parse_json_line(line, rec)    # (a live run has its digest in `raws` already)
            if not isinstance(rec, RecordError) and not _has_ids(rec):
                try:
                    parse_listing(rec, line)    # names the field that is wrong
                except RecordError as exc:
                    rec = exc
            if isinstance(rec, RecordError):
                quarantine.append((line, str(rec)))
                continue
            canon = keys.canonical_listing(rec)
            fp = keys.fingerprint_bytes(canon)
            candidates.append((line, rec, fp, self._tail_key(fp, rec["merchant_id"]), canon))
        counts = Counter(records=n_records, quarantined=len(quarantine))
        relinked: dict[str, str] = {}   # unchanged listings read from other bytes this time
        if self.mode == "live":
            stored = self.store.scan_state([rec["listing_id"] for _, rec, _, _, _ in candidates])
            for line, rec, fp, key, canon in candidates:
                got = stored.get(rec["listing_id"])
                if got is not None and got[0] == key:
                    touched.append(rec["listing_id"])
                    unchanged[got[1]] += 1
                    if line in raws and got[2] != raws[line]:
                        relinked[rec["listing_id"]] = raws[line]
                else:
                    todo.append((line, canon, fp, key))
        else:
            todo = [(line, canon, fp, key) for line, _, fp, key, canon in candidates]
        if touched:
            counts["unchanged"] += len(touched)
        counts.update({f"unchanged:{decision}": n for decision, n in unchanged.items()})
        scanning = {line for line, _, _, _ in todo}
        merchants = {rec["merchant_id"] for line, rec, _, _, _ in candidates if line in scanning}
        certs = self.store.certificates_for_many(m for m in merchants if m in self.cert_digests)
        job = ChunkJob(chunk, as_of.isoformat(), todo, certs)
        return job, {"records": n_records, "quarantine": quarantine, "counts": counts, "touched": touched,
                     "relinked": relinked, "raws": {line: raws[line] for line in scanning if line in raws}}

    def _tail_key(self, fingerprint: str, merchant_id: str) -> str:
        """The scan key of content with this fingerprint from this merchant, in this run."""
        tail = self._tails.get(merchant_id)
        if tail is None:
            tail = self._tails[merchant_id] = keys.scan_key_tail(
                self.cert_digests.get(merchant_id, ""), self.exc_digests.get(merchant_id, ""), *self.version_key)
        return keys.scan_key_with(fingerprint, tail)

    def _skip_identical_lines(self, records: list, raws: dict[int, str], touched: list[str],
                              unchanged: Counter) -> list:
        """The records left once the JSONL lines that are byte-identical to a stored listing's last
        line, with its scan key unchanged, are counted as unchanged (their digests go to `raws`)."""
        lines = [(line, rec) for line, rec in records if isinstance(rec, bytes)]
        if not lines:
            return records
        for line, rec in lines:
            raws[line] = keys.raw_digest(rec)
        stored = self.store.raw_state(raws.values())
        rest = []
        for line, rec in records:
            got = stored.get(raws.get(line, ""))
            if got is not None and got[3] == self._tail_key(got[2], got[1]):
                touched.append(got[0])
                unchanged[got[4]] += 1
            else:
                rest.append((line, rec))
        return rest

    def _commit(self, run_id: int, result: tuple[int, list], prepared: dict, progress) -> None:
        chunk, scanned = result
        prep = prepared.pop(chunk)
        counts: Counter = prep["counts"]
        quarantine: list = prep["quarantine"]
        items: list[Item] = []
        examples: dict[str, list] = {}
        for s in scanned:
            if s.error is not None:
                quarantine.append((s.line, s.error))
                counts["quarantined"] += 1
                continue
            counts["scanned"] += 1
            excs = self.exceptions.get(s.merchant_id, [])
            v = apply_exceptions(s.verdict, excs, s.target_markets, self.groups)
            if self.mode == "shadow":
                c = apply_exceptions(s.candidate, excs, s.target_markets, self.groups)
                count_verdict(counts, c)
                count_shadow(counts, examples, v, c, s.title)
                continue
            count_verdict(counts, v)
            items.append(Item(s.listing_id, s.merchant_id, v, s.fingerprint, s.scan_key, s.content,
                              prep["raws"].get(s.line)))
        extra: dict[str, Any] = dict(counts)
        if examples:
            extra["examples"] = examples
        self.store.commit_chunk(run_id, chunk, prep["records"], items, prep["touched"], extra, quarantine,
                                prep["relinked"])
        if progress is not None:
            progress.update(prep["records"])

    def _write_quarantine(self, run_id: int) -> None:
        rows = self.store.quarantined(run_id)
        path = self.opts.quarantine
        if not rows and not path:
            return
        if not path:
            name = self.opts.source.replace("table:", "table_")
            path = f"{Path(name).name}.quarantine.jsonl"
        with open(path, "wb") as f:
            f.writelines(orjson.dumps({"source": self.opts.source, "line": line, "reason": reason}) + b"\n" for line, reason in rows)
        self.log(f"sweep: {len(rows)} bad records written to {path}")


def sweep(store: Store, opts: SweepOptions, log=None) -> dict[str, Any]:
    return Sweep(store, opts, log).run()


# --- command line ----------------------------------------------------------------------------------------

def _date(value: str) -> dt.date:
    import argparse

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    import argparse

    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {value!r}")
    return n


def _count(value: str) -> int:
    import argparse

    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number: {value!r}")
    return int(value)


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="re-check a catalog (file or table:NAME) into the store")
    p.add_argument("source", help="JSONL, CSV or Parquet file, or table:NAME in the configured database")
    p.add_argument("--engine", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", help="Dask scheduler address (with --engine dask)")
    p.add_argument("--workers", type=_count, help="local worker processes (default: all cores; 0: scan in "
                                                  "this process)")
    p.add_argument("--rulesets", help="live ruleset directory (default: the bundled rulesets/)")
    p.add_argument("--models", help="live model directory; with --shadow, the candidate's models")
    p.add_argument("--shadow", metavar="RULESET_DIR", help="backtest this candidate ruleset: no writes")
    p.add_argument("--as-of", type=_date, help="scan as of this date (default: today)")
    p.add_argument("--quarantine", metavar="FILE", help="bad records go here (default: SOURCE.quarantine.jsonl)")
    p.add_argument("--checkpoint-every", type=_positive, default=DEFAULT_CHUNK, metavar="N",
                   help=f"commit a checkpoint every N records (default {DEFAULT_CHUNK})")
    p.add_argument("--certificates", help="import these certificates (JSONL/CSV) into the store first")
    p.add_argument("--database", help="database URL (default: $SCANNER_DATABASE_URL or sqlite:///scanner.db)")
    p.add_argument("--report", metavar="FILE", help="also write the summary as JSON here")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    source = args.source
    if not source.startswith("table:") and not Path(source).exists():
        print(f"scanner sweep: error: source file {source} does not exist", file=sys.stderr)
        return 2
    store = open_store(args.database)
    try:
        store.upgrade()
        if args.certificates:
            got = import_certificates(store, args.certificates, rescan_listings=False)
            for line, reason in got["bad"]:
                print(f"{args.certificates}:{line}: {reason}", file=sys.stderr)
        shadow_models = args.models if args.shadow else None
        opts = SweepOptions(source=source, engine=args.engine, scheduler=args.scheduler, workers=args.workers,
                            rulesets=args.rulesets, models=None if args.shadow else args.models,
                            shadow=args.shadow, shadow_models=shadow_models, as_of=args.as_of,
                            chunk_size=args.checkpoint_every, quarantine=args.quarantine)
        result = sweep(store, opts)
    finally:
        store.close()
    render(result, sys.stdout)
    if args.report:
        Path(args.report).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scanner")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
