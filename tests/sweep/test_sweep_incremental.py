"""Sweeps into SQLite and PostgreSQL: counts, incremental skips, quarantine, table sources, snoozes."""
import datetime as dt

import orjson
import sqlalchemy as sa

from scanner.store.record import _flag_rules
from scanner.sweep import sweep
from scanner.sweep_catalog import generate, write_jsonl
from scanner.sweep_certs import flag_thresholds

AS_OF = dt.date(2022, 2, 1)


def expected(live_scanner, records):
    """Exact counts a sweep of `records` must leave: verdict rows, flags, ledger rows."""
    verdicts = list(live_scanner.scan_many(records, (), AS_OF))
    thresholds = flag_thresholds(live_scanner.rulesets)
    return {
        "verdicts": len(verdicts),
        "review_flags": sum(len(_flag_rules(v, thresholds)) for v in verdicts),
        "penalty_ledger": sum(1 for v in verdicts for f in v.findings if f.points > 0),
        "decisions": {d: sum(v.decision == d for v in verdicts) for d in {v.decision for v in verdicts}},
    }


def test_sweep_counts_then_skips_unchanged(store, tmp_path, rulesets, live_scanner, make_opts):
    path = write_jsonl(tmp_path / "cat.jsonl", 400, rulesets=rulesets, risky_share=0.3)
    records = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    want = expected(live_scanner, records)
    assert want["penalty_ledger"] > 0 and len(want["decisions"]) > 1     # the catalog exercises rules

    first = sweep(store, make_opts(path, workers=1))            # through a real process pool
    c = store.counts()
    assert (first["scanned"], first["unchanged"], first["quarantined"]) == (400, 0, 0)
    assert {k: c[k] for k in ("verdicts", "review_flags", "penalty_ledger")} == \
        {k: want[k] for k in ("verdicts", "review_flags", "penalty_ledger")}
    assert first["decisions"] == want["decisions"]
    assert c["sweep_checkpoints"] == 8

    second = sweep(store, make_opts(path))
    assert (second["scanned"], second["unchanged"]) == (0, 400)
    assert second["unchanged_decisions"] == want["decisions"]
    assert store.counts()["verdicts"] == want["verdicts"] and store.counts()["penalty_ledger"] == c["penalty_ledger"]

    # five listings change; only they are rescanned, with the same outcome no new history row
    for r in records[:5]:
        r["description"] = (r.get("description") or "") + " Now in blue."
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    third = sweep(store, make_opts(path))
    assert (third["scanned"], third["unchanged"]) == (5, 395)
    assert store.counts()["verdicts"] == want["verdicts"]


def test_bad_records_are_quarantined_with_line_and_field(store, tmp_path, rulesets, make_opts):
    good = list(generate(30, rulesets=rulesets))
    lines = [orjson.dumps(r) for r in good[:10]] + [b"{not json", orjson.dumps({"listing_id": "X-1"}),
                                                     orjson.dumps({**good[10], "title": 7})]
    lines += [orjson.dumps(r) for r in good[10:]]
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    q = tmp_path / "q.jsonl"
    got = sweep(store, make_opts(src, quarantine=str(q)))
    assert (got["scanned"], got["quarantined"]) == (30, 3)
    rows = [orjson.loads(x) for x in q.read_bytes().splitlines()]
    assert [r["line"] for r in rows] == [11, 12, 13]
    assert "not valid JSON" in rows[0]["reason"]
    assert "merchant_id" in rows[1]["reason"] and "X-1" in rows[1]["reason"]
    assert "'title'" in rows[2]["reason"]


def test_table_source_matches_file_source(store, tmp_path, rulesets, make_opts):
    records = list(generate(120, rulesets=rulesets, risky_share=0.3))
    meta = sa.MetaData()
    src = sa.Table("incoming_listings", meta, sa.Column("listing_id", sa.String, primary_key=True),
                   sa.Column("merchant_id", sa.String), sa.Column("title", sa.Text),
                   sa.Column("description", sa.Text), sa.Column("category", sa.Text),
                   sa.Column("attributes", sa.Text), sa.Column("keywords", sa.Text),
                   sa.Column("target_markets", sa.Text))
    meta.create_all(store.engine)
    with store.engine.begin() as conn:
        conn.execute(src.insert(), [{
            "listing_id": r["listing_id"], "merchant_id": r["merchant_id"], "title": r.get("title", ""),
            "description": r.get("description"), "category": r.get("category"),
            "attributes": orjson.dumps(r["attributes"]).decode() if r.get("attributes") else None,
            "keywords": orjson.dumps(r["keywords"]).decode() if r.get("keywords") else None,
            "target_markets": orjson.dumps(r["target_markets"]).decode() if r.get("target_markets") else None,
        } for r in records])
    from_table = sweep(store, make_opts("table:incoming_listings"))
    path = tmp_path / "same.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    from_file = sweep(store, make_opts(path))
    assert from_table["scanned"] == 120
    assert (from_file["scanned"], from_file["unchanged"]) == (0, 120)   # same content, same fingerprints


def test_snoozed_rule_becomes_an_excepted_note(store, tmp_path, live_scanner, rulesets, make_opts):
    records = [r for r in generate(400, rulesets=rulesets, risky_share=0.5)]
    blocked = next(r for r in records
                   if (v := live_scanner.scan(r, as_of=AS_OF)).decision == "block" and len(v.findings) == 1)
    rule = live_scanner.scan(blocked, as_of=AS_OF).findings[0].rule
    record = {**blocked, "merchant_id": "M-snoozed"}
    path = tmp_path / "one.jsonl"
    path.write_bytes(orjson.dumps(record))
    eid = store.add_exception(rule, "M-snoozed", "supplier audit pending", "ops-7", dt.date(2022, 3, 1),
                              starts=dt.date(2022, 1, 1))
    got = sweep(store, make_opts(path))
    assert got["decisions"] == {"pass": 1}
    hist = store.history(record["listing_id"])
    assert hist[-1]["decision"] == "pass"
    assert hist[-1]["findings"][0]["outcome"] == "excepted" and hist[-1]["findings"][0]["excepted_by"] == eid
    assert any(n.startswith(f"excepted: {rule}") for n in hist[-1]["notes"])
    assert store.charges() == [] and store.flags() == []
    # once the exception is revoked the listing is rescanned (its key changed) and blocked
    store.revoke_exception(eid)
    again = sweep(store, make_opts(path))
    assert again["scanned"] == 1 and again["decisions"] == {"block": 1}
    assert len(store.charges("M-snoozed")) == 1


def test_rule_taking_effect_or_certificate_expiring_forces_rescan(store, tmp_path, rulesets, make_opts):
    effective = sorted({r.effective for r in rulesets.rules.values() if r.effective is not None})
    assert effective, "the rulesets have dated rules"
    day = effective[0]
    path = write_jsonl(tmp_path / "cat.jsonl", 60, rulesets=rulesets)
    before = sweep(store, make_opts(path, as_of=day - dt.timedelta(days=1)))
    on_day = sweep(store, make_opts(path, as_of=day))
    after = sweep(store, make_opts(path, as_of=day + dt.timedelta(days=1)))
    assert (before["scanned"], on_day["scanned"], after["scanned"]) == (60, 60, 0)

    # a merchant's certificate expiring between two sweeps rescans that merchant's listings only
    mid = orjson.loads(path.read_bytes().splitlines()[0])["merchant_id"]
    mine = sum(orjson.loads(x)["merchant_id"] == mid for x in path.read_bytes().splitlines())
    until = day + dt.timedelta(days=3)
    store.upsert_certificates([{"certificate_id": "C-exp", "merchant_id": mid, "kind": "ce_certificate",
                                "valid_until": until.isoformat()}])
    first = sweep(store, make_opts(path, as_of=day + dt.timedelta(days=2)))
    same = sweep(store, make_opts(path, as_of=until))
    expired = sweep(store, make_opts(path, as_of=until + dt.timedelta(days=1)))
    assert (first["scanned"], same["scanned"], expired["scanned"]) == (mine, 0, mine)


def test_identical_lines_are_skipped_unparsed_and_rewritten_lines_relinked(store, tmp_path, rulesets, make_opts,
                                                                          monkeypatch):
    import scanner.sweep as sweep_module
    from scanner.store import keys

    parsed = []
    real = sweep_module.parse_json_line
    monkeypatch.setattr(sweep_module, "parse_json_line", lambda i, raw: parsed.append(i) or real(i, raw))
    path = write_jsonl(tmp_path / "cat.jsonl", 120, rulesets=rulesets, risky_share=0.3)
    lines = path.read_bytes().splitlines()

    first = sweep(store, make_opts(path))
    assert (first["scanned"], len(parsed)) == (120, 120)
    assert len(store.raw_state(keys.raw_digest(x) for x in lines)) == 120

    parsed.clear()
    second = sweep(store, make_opts(path))
    assert (second["scanned"], second["unchanged"], parsed) == (0, 120, [])

    # the same listings written with their keys in another order: parsed, found unchanged by
    # content, and linked to their new lines, which the next sweep skips unparsed
    reordered = [orjson.dumps(dict(reversed(orjson.loads(x).items()))) for x in lines]
    assert reordered[0] != lines[0]
    path.write_bytes(b"\n".join(reordered) + b"\n")
    third = sweep(store, make_opts(path))
    assert (third["scanned"], third["unchanged"], len(parsed)) == (0, 120, 120)
    assert len(store.raw_state(keys.raw_digest(x) for x in reordered)) == 120
    parsed.clear()
    assert sweep(store, make_opts(path))["unchanged"] == 120 and parsed == []

    # one listing changes: only its line is parsed and scanned
    changed = orjson.loads(reordered[7])
    changed["title"] += " (new colour)"
    reordered[7] = orjson.dumps(changed)
    path.write_bytes(b"\n".join(reordered) + b"\n")
    fifth = sweep(store, make_opts(path))
    assert (fifth["scanned"], fifth["unchanged"], parsed) == (1, 119, [8])


def test_a_new_engine_release_rescans_unchanged_listings(store, tmp_path, rulesets, make_opts, monkeypatch):
    import scanner

    path = write_jsonl(tmp_path / "cat.jsonl", 40, rulesets=rulesets)
    assert sweep(store, make_opts(path))["scanned"] == 40
    assert sweep(store, make_opts(path))["unchanged"] == 40
    # normalisation and detectors decide verdicts too: a new release of the code rescans everything once
    monkeypatch.setattr(scanner, "ENGINE_VERSION", scanner.ENGINE_VERSION + "+next")
    assert sweep(store, make_opts(path))["scanned"] == 40
    assert sweep(store, make_opts(path))["unchanged"] == 40
