"""Dask and local engines give identical verdicts; shadow runs report differences and write nothing;
certificate changes re-scan the merchant's medical-device listings."""
import datetime as dt
import shutil

import orjson
import pytest
import sqlalchemy as sa
from test_sweep_incremental import AS_OF

from scanner.listing import Certificate
from scanner.rulesets import load_rulesets
from scanner.store import open_store
from scanner.store.testing import temp_database
from scanner.sweep import sweep
from scanner.sweep_catalog import write_jsonl
from scanner.sweep_certs import import_certificates
from scanner.sweep_report import shadow_kind

S = orjson.OPT_SORT_KEYS


def dump(store):
    """Every verdict and finding, in a comparable form."""
    with store.reader.connect() as conn:
        v = conn.execute(sa.text("SELECT listing_id, seq, decision, blocked_markets, points, ruleset_version, "
                                 "model_version, as_of, notes FROM verdicts ORDER BY listing_id, seq")).all()
        f = conn.execute(sa.text("SELECT listing_id, seq, idx, rule, outcome, grade, points, blocked_markets, "
                                 "confidence, reason, evidence FROM findings ORDER BY listing_id, seq, idx")).all()
        ledger = conn.execute(sa.text("SELECT listing_id, rule, points FROM penalty_ledger "
                                      "ORDER BY listing_id, rule")).all()
    norm = lambda rows: sorted(tuple(orjson.dumps(x, option=S) if isinstance(x, list | dict)
                                     else orjson.dumps(orjson.loads(x), option=S) if isinstance(x, str) and x[:1] in "[{"
                                     else x.isoformat() if isinstance(x, dt.date) else x for x in r) for r in rows)
    return norm(v), norm(f), norm(ledger)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_and_local_engines_agree(db_url, tmp_path, rulesets, dask_client, make_opts):
    src = write_jsonl(tmp_path / "cat.jsonl", 600, rulesets=rulesets, risky_share=0.3, seed=5)
    with open_store(db_url) as dask_store:
        dask_store.upgrade()
        got = sweep(dask_store, make_opts(src, engine="dask", scheduler=dask_client, chunk_size=60))
        assert got["scanned"] == 600
        # a retried partition changes nothing: run the same chunks again through Dask
        again = sweep(dask_store, make_opts(src, engine="dask", scheduler=dask_client, chunk_size=60))
        assert again["unchanged"] == 600
        from_dask = dump(dask_store)
    with temp_database("sqlite", tmp_path) as url, open_store(url) as local_store:
        local_store.upgrade()
        sweep(local_store, make_opts(src, engine="local", workers=2, chunk_size=60))
        from_local = dump(local_store)
    assert from_dask == from_local
    assert len(from_dask[0]) == 600 and from_dask[2]                     # verdicts, and some charges


def _candidate_without_family(tmp_path, rulesets):
    """A candidate ruleset directory: the live one with one (non-medical) family file removed."""
    fam = next(f for name, f in sorted(rulesets.families.items()) if f.extra == {} and f.rules)
    cand = tmp_path / "candidate"
    shutil.copytree(rulesets.directory, cand)
    for path in cand.glob("*.yaml"):
        if path.read_text(encoding="utf-8").find(f"family: {fam.family}") >= 0:
            path.unlink()
    return cand, fam


def test_shadow_run_reports_differences_and_writes_nothing(store, tmp_path, rulesets, live_scanner, make_opts):
    cand_dir, fam = _candidate_without_family(tmp_path, rulesets)
    candidate = load_rulesets(cand_dir)
    assert fam.family not in candidate.families and candidate.version != rulesets.version
    src = write_jsonl(tmp_path / "cat.jsonl", 500, rulesets=rulesets, risky_share=0.4, seed=3)
    records = [orjson.loads(x) for x in src.read_bytes().splitlines()]
    from scanner import Scanner

    cand_scanner = Scanner.load(cand_dir, make_opts("-").models)
    want: dict[str, int] = {}
    for r in records:
        kind = shadow_kind(live_scanner.scan(r, as_of=AS_OF), cand_scanner.scan(r, as_of=AS_OF))
        if kind:
            want[kind] = want.get(kind, 0) + 1
    assert want.get("cleared", 0) > 0

    got = sweep(store, make_opts(src, shadow=str(cand_dir)))
    changes = {k: v for k, v in got["shadow"]["changes"].items() if k in want or k.startswith(("newly", "relaxed",
                                                                                                 "cleared"))}
    assert changes == want
    removed = got["shadow"]["rules_removed"]
    assert removed and all(k.startswith(fam.family + "/") for k in removed)
    assert got["shadow"]["examples"]["cleared"][0]["candidate"] == "pass"
    c = store.counts()
    assert (c["verdicts"], c["findings"], c["review_flags"], c["penalty_ledger"], c["listings"]) == (0, 0, 0, 0, 0)


def _certificate_case(live_scanner):
    """A device example whose decision depends on its certificates (from the rulesets' own examples)."""
    for rule in live_scanner.rulesets.rules.values():
        for ex in list(rule.examples.fire) + list(rule.examples.pass_):
            if not ex.certificates:
                continue
            data = {k: getattr(ex, k) for k in ("title", "description", "category", "attributes", "keywords",
                                                "image_texts", "target_markets") if getattr(ex, k) is not None}
            data = {**(ex.listing or {}), **data, "listing_id": "MED-1", "merchant_id": "M-med"}
            certs = [Certificate.model_validate({**c, "merchant_id": "M-med",
                                                 "certificate_id": c.get("certificate_id", f"C-{i}")})
                     for i, c in enumerate(ex.certificates)]
            as_of = ex.as_of or AS_OF
            without = live_scanner.scan(data, as_of=as_of)
            with_certs = live_scanner.scan(data, certs, as_of=as_of)
            if without.decision != with_certs.decision:
                return data, certs, as_of, without, with_certs
    pytest.skip("no ruleset example whose decision depends on certificates")


def test_certificate_change_rescans_medical_listings(store, tmp_path, live_scanner, make_opts):
    data, certs, as_of, without, with_certs = _certificate_case(live_scanner)
    other = {"listing_id": "PLAIN-1", "merchant_id": "M-med", "title": "Cotton towel 70x140"}
    src = tmp_path / "med.jsonl"
    src.write_bytes(orjson.dumps(data) + b"\n" + orjson.dumps(other) + b"\n")
    sweep(store, make_opts(src, as_of=as_of))
    assert store.history("MED-1")[-1]["decision"] == without.decision
    cert_file = tmp_path / "certs.jsonl"
    cert_file.write_bytes(b"\n".join(orjson.dumps(c.model_dump(mode="json")) for c in certs))
    o = make_opts("-")
    got = import_certificates(store, str(cert_file), as_of=as_of, rulesets=o.rulesets, models=o.models)
    assert got["merchants_changed"] == ["M-med"]
    assert got["rescan"]["medical_listings_rescanned"] == 1            # the towel is not a device
    hist = store.history("MED-1")
    assert [h["decision"] for h in hist] == [without.decision, with_certs.decision]
    # the next sweep sees both listings as up to date
    again = sweep(store, make_opts(src, as_of=as_of))
    assert (again["scanned"], again["unchanged"]) == (0, 2)
    # importing the same certificates again changes nothing
    assert import_certificates(store, str(cert_file), as_of=as_of, rulesets=o.rulesets,
                               models=o.models)["merchants_changed"] == []



def test_unusable_models_stop_the_sweep_naming_the_file(store, tmp_path, snapshot, rulesets, make_opts, capsys):
    """The coordinator checks the model files against their manifest without loading them; what only
    loading finds (a type outside the trusted list) stops the sweep from the worker, with its message."""
    import hashlib
    import json

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from scanner.cli import main
    from scanner.ml import ModelError

    if not (snapshot / "models").is_dir():
        pytest.skip("no committed models")
    models = tmp_path / "models"
    shutil.copytree(snapshot / "models", models)
    vdir = models / "versions" / json.loads((models / "current.json").read_text())["version"]
    path = write_jsonl(tmp_path / "cat.jsonl", 20, rulesets=rulesets)

    target = vdir / "e_cigarette.skops"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="e_cigarette.skops: SHA-256 does not match"):
        sweep(store, make_opts(path, models=str(models)))
    assert main(["sweep", str(path), "--database", store.url, "--models", str(models), "--workers", "0",
                 "--as-of", "2022-02-01"]) == 2
    assert "e_cigarette.skops: SHA-256 does not match" in capsys.readouterr().err

    sio.dump(Pipeline([("f", FunctionTransformer(json.loads))]), target)   # hash made to match
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"]["e_cigarette"]["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="trusted list"):
        sweep(store, make_opts(path, models=str(models), workers=1))      # found in the pool's worker
    assert store.counts()["verdicts"] == 0


def test_a_source_that_is_not_parquet_stops_the_sweep_naming_it(store, tmp_path, snapshot, capsys):
    from scanner.cli import main

    source = tmp_path / "catalog.parquet"
    source.write_text("listing_id,merchant_id,title\n")
    assert main(["sweep", str(source), "--database", store.url, "--rulesets", str(snapshot / "rulesets"),
                 "--workers", "0", "--as-of", "2022-02-01"]) == 2
    err = capsys.readouterr().err
    assert str(source) in err and "not a readable Parquet file" in err and "Traceback" not in err
    assert store.counts()["verdicts"] == 0
