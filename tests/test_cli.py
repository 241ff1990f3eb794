import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCANNER = [sys.executable, "-m", "scanner.cli"]
ROWS = [
    {"listing_id": "A", "merchant_id": "M", "title": "Compound crossbow 175 lbs"},
    {"listing_id": "B", "merchant_id": "M", "title": "Cotton socks 10 pairs", "keywords": ["socks"]},
    {"listing_id": "C", "merchant_id": "M", "title": "Nic salt e-liquid 30ml", "target_markets": ["US"]},
]


def run(*args, cwd=None):
    return subprocess.run([*SCANNER, *args], capture_output=True, text=True, cwd=cwd, check=False)


def verdicts(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_in_order_with_bad_lines_reported(tmp_path):
    src = tmp_path / "l.jsonl"
    lines = [json.dumps(ROWS[0]), "{not json", json.dumps({"listing_id": "X", "title": "no merchant"}),
             json.dumps(ROWS[1]), "", json.dumps(ROWS[2])]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "v.jsonl"
    r = run("scan", str(src), "--as-of", "2022-02-01", "--output", str(out))
    assert r.returncode == 0, r.stderr
    got = verdicts(out)
    assert [v["listing_id"] for v in got] == ["A", "B", "C"]
    assert [v["decision"] for v in got] == ["block", "pass", "block"]
    assert f"{src}:2:" in r.stderr and "not valid JSON" in r.stderr
    assert f"{src}:3:" in r.stderr and "merchant_id" in r.stderr and "'X'" in r.stderr
    assert "scanned 3 listings, 2 bad records skipped" in r.stderr
    assert "controlled_instrument/crossbow: 1" in r.stderr


def test_stdout_is_the_default(tmp_path):
    src = tmp_path / "l.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n")
    r = run("scan", str(src), "--as-of", "2022-02-01")
    assert r.returncode == 0
    assert json.loads(r.stdout)["findings"][0]["rule"] == "controlled_instrument/crossbow"


def test_csv_and_parquet_inputs(tmp_path):
    c = tmp_path / "l.csv"
    with c.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["listing_id", "merchant_id", "title", "keywords", "target_markets"])
        w.writeheader()
        w.writerow({"listing_id": "A", "merchant_id": "M", "title": "Police handcuffs", "keywords": "",
                    "target_markets": "US|DE"})
        w.writerow({"listing_id": "B", "merchant_id": "M", "title": "Socks", "keywords": '["socks"]',
                    "target_markets": ""})
    p = tmp_path / "l.parquet"
    pq.write_table(pa.Table.from_pylist([{"listing_id": "P", "merchant_id": "M", "title": "Stun gun 50kv"}]), p)
    for src, expected in [(c, ["block", "pass"]), (p, ["block"])]:
        out = tmp_path / (src.stem + src.suffix + ".out")
        r = run("scan", str(src), "--as-of", "2022-02-01", "--output", str(out))
        assert r.returncode == 0, r.stderr
        assert [v["decision"] for v in verdicts(out)] == expected


def test_unusable_arguments_exit_2(tmp_path):
    assert run("scan", str(tmp_path / "missing.jsonl")).returncode == 2
    src = tmp_path / "l.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n")
    assert run("scan", str(src), "--as-of", "yesterday").returncode == 2


def test_invalid_ruleset_exit_2(tmp_path):
    bad = tmp_path / "rs"
    bad.mkdir()
    (bad / "markets.yaml").write_text("version: x\ngroups: {EU: [DE]}\n")
    (bad / "f.yaml").write_text("family: f\nversion: '1'\nrules:\n  - id: f/a\n    grade: Z\n")
    src = tmp_path / "l.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n")
    r = run("scan", str(src), "--rulesets", str(bad))
    assert r.returncode == 2 and "f.yaml" in r.stderr and "f/a" in r.stderr


def test_rules_test_command():
    r = run("rules", "test")
    assert r.returncode == 0 and r.stdout.strip().endswith(" passed, 0 failed"), r.stdout[-2000:]


def test_bad_csv_cells_are_reported_with_line_and_field(tmp_path):
    src = tmp_path / "l.csv"
    src.write_text("listing_id,merchant_id,title,attributes\n"
                   "A,M,Police handcuffs,\n"
                   'B,M,Socks,"{not json"\n'
                   "C,M,Taser 50kv,,extra\n"
                   "D,M,Stun gun,\n")
    out = tmp_path / "v.jsonl"
    r = run("scan", str(src), "--as-of", "2022-02-01", "--output", str(out))
    assert r.returncode == 0
    assert [v["listing_id"] for v in verdicts(out)] == ["A", "D"]
    assert f"{src}:3:" in r.stderr and "'attributes'" in r.stderr
    assert f"{src}:4:" in r.stderr and "more cells than header columns" in r.stderr


def test_byte_order_marks_are_read_past(tmp_path):
    j = tmp_path / "bom.jsonl"
    j.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROWS[0]).encode() + b"\n")
    c = tmp_path / "bom.csv"
    c.write_bytes(b"\xef\xbb\xbflisting_id,merchant_id,title\nA,M,Police handcuffs\n")
    for src in (j, c):
        r = run("scan", str(src), "--as-of", "2022-02-01")
        assert r.returncode == 0 and "0 bad records" in r.stderr, r.stderr
        assert json.loads(r.stdout)["decision"] == "block"


def test_a_csv_row_that_is_not_utf8_is_reported_and_the_rest_scanned(tmp_path):
    src = tmp_path / "l.csv"
    src.write_bytes(b'listing_id,merchant_id,title\nA,M,Police handcuffs\nB,M,"Soc\xffks\nsecond line"\nC,M,Stun gun\n')
    r = run("scan", str(src), "--as-of", "2022-02-01")
    assert r.returncode == 0
    assert [json.loads(v)["listing_id"] for v in r.stdout.splitlines()] == ["A", "C"]
    assert f"{src}:4:" in r.stderr and "not UTF-8" in r.stderr
    header = tmp_path / "h.csv"
    header.write_bytes(b"listing_id,merchant_id,ti\xfftle\nA,M,Police handcuffs\n")
    r = run("scan", str(header))
    assert r.returncode == 2 and "header" in r.stderr and r.stdout == ""


def test_a_file_that_is_not_parquet_is_named_and_exits_2(tmp_path):
    src = tmp_path / "l.parquet"
    src.write_text("listing_id,merchant_id,title\n")
    r = run("scan", str(src))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(src) in r.stderr and "not a readable Parquet file" in r.stderr


def test_parquet_map_attributes_and_batches(tmp_path, monkeypatch):
    from scanner import io
    monkeypatch.setattr(io, "PARQUET_BATCH", 2)   # several batches in one small file
    rows = [{"listing_id": f"P{i}", "merchant_id": "M", "title": "Folding knife",
             "attributes": [("Blade Length", "25 cm")] if i == 3 else None} for i in range(5)]
    src = tmp_path / "l.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
        ("listing_id", pa.string()), ("merchant_id", pa.string()), ("title", pa.string()),
        ("attributes", pa.map_(pa.string(), pa.string()))])), src)
    got = list(io.read_records(src))
    assert [n for n, _ in got] == [1, 2, 3, 4, 5]
    assert got[3][1]["attributes"] == {"Blade Length": "25 cm"} and "attributes" not in got[0][1]
