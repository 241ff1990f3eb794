"""Kill-and-resume: a real `scanner sweep` subprocess is killed with SIGKILL at random points, then
run again until it finishes; verdicts, flags and ledger rows must come out exact, on both databases."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import sqlalchemy as sa
from test_sweep_incremental import AS_OF, expected

from scanner.store import open_store
from scanner.sweep_catalog import write_jsonl

REPO = Path(__file__).resolve().parents[2]
N, CHUNK, BAD = 900, 10, 3


def _command(src: Path, db_url: str, quarantine: Path, snapshot: Path) -> list[str]:
    models = ["--models", str(snapshot / "models")] if (snapshot / "models").is_dir() else []
    # SQLite: through a worker process (chunks may commit out of order); PostgreSQL: in-process
    workers = "1" if db_url.startswith("sqlite") else "0"
    return [sys.executable, "-m", "scanner.cli", "sweep", str(src), "--database", db_url,
            "--rulesets", str(snapshot / "rulesets"), *models,
            "--as-of", AS_OF.isoformat(), "--checkpoint-every", str(CHUNK), "--workers", workers,
            "--quarantine", str(quarantine)]


def _checkpoints(engine) -> int:
    with engine.connect() as conn:
        try:
            return conn.execute(sa.text("SELECT count(*) FROM sweep_checkpoints")).scalar_one()
        except sa.exc.DatabaseError:
            return 0       # schema not there yet


def test_sigkill_at_random_points_then_resume(db_url, tmp_path, rulesets, live_scanner, snapshot):
    rng = random.Random(int(os.environ.get("SWEEP_KILL_SEED", time.time())))
    src = write_jsonl(tmp_path / "cat.jsonl", N, rulesets=rulesets, risky_share=0.3, seed=11)
    records = [orjson.loads(x) for x in src.read_bytes().splitlines()]
    with src.open("ab") as f:                         # bad lines at the end: quarantined once each
        f.write(b"{broken\n" + orjson.dumps({"listing_id": "B-1"}) + b"\n" + b"[1, 2]\n")
    want = expected(live_scanner, records)
    total_chunks = -(-(N + BAD) // CHUNK)
    quarantine = tmp_path / "q.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    watcher = sa.create_engine(db_url.replace("sqlite:///", "sqlite:///", 1))
    kills_mid_run = 0
    done_at_kill = []
    for _attempt in range(2):
        proc = subprocess.Popen(_command(src, db_url, quarantine, snapshot), cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        before = _checkpoints(watcher)
        target = before + rng.randint(1, max(1, (total_chunks - before) // 3))
        deadline = time.monotonic() + 60
        while proc.poll() is None and _checkpoints(watcher) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))              # land anywhere inside the next chunk
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)       # the sweep and its worker processes
            proc.wait()
            n = _checkpoints(watcher)
            done_at_kill.append(n)
            kills_mid_run += 0 < n < total_chunks
        else:                                         # finished (or failed) before the kill
            assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")[-2000:]
        proc.stderr.close()
    assert kills_mid_run >= 1, f"no kill landed mid-run: {done_at_kill}"

    final = subprocess.run(_command(src, db_url, quarantine, snapshot), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert final.returncode == 0, final.stderr
    assert "resuming run" in final.stderr
    watcher.dispose()

    store = open_store(db_url)
    try:
        c = store.counts()
        assert c["verdicts"] == want["verdicts"] == N
        assert c["review_flags"] == want["review_flags"]
        assert c["penalty_ledger"] == want["penalty_ledger"]
        assert c["findings"] == sum(len(v.findings) for v in live_scanner.scan_many(records, (), AS_OF))
        assert c["sweep_checkpoints"] == total_chunks and c["sweep_runs"] == 1
        run = store.run(1)
        assert run["status"] == "done"
        s = run["summary"]
        assert (s["records"], s["scanned"], s["quarantined"]) == (N + BAD, N, BAD)
        assert s["decisions"] == want["decisions"]
        assert s["charges"]["new"] == want["penalty_ledger"]
    finally:
        store.close()
    lines = [orjson.loads(x)["line"] for x in quarantine.read_bytes().splitlines()]
    assert lines == [N + 1, N + 2, N + 3]
