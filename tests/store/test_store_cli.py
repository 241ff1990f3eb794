"""`scanner db ...` subcommands against SQLite and PostgreSQL, and SCANNER_DATABASE_URL."""
import orjson

from scanner.cli import main
from scanner.store import open_store


def test_db_upgrade_status_and_exceptions(db_url, capsys):
    assert main(["db", "--database", db_url, "upgrade"]) == 0
    assert "latest schema" in capsys.readouterr().out
    assert main(["db", "--database", db_url, "except", "fam/rule", "M-9", "--reason", "audit",
                 "--author", "ops", "--expires", "2030-01-01", "--market", "DE"]) == 0
    assert "rule exception #1" in capsys.readouterr().out
    with open_store(db_url) as store:
        import datetime as dt
        got = store.active_exceptions("M-9", dt.date(2029, 1, 1))
        assert [(e.rule, e.market, e.author) for e in got] == [("fam/rule", "DE", "ops")]
    assert main(["db", "--database", db_url, "revoke-exception", "1"]) == 0
    assert main(["db", "--database", db_url, "revoke-exception", "1"]) == 1
    assert main(["db", "--database", db_url, "status"]) == 0
    assert "rule_exceptions: 1" in capsys.readouterr().out


def test_env_url_and_certificate_import_reports_bad_lines(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCANNER_DATABASE_URL", db_url)
    certs = tmp_path / "certs.jsonl"
    certs.write_bytes(orjson.dumps({"certificate_id": "C-1", "merchant_id": "M-1", "kind": "ce_certificate"})
                      + b"\n" + orjson.dumps({"certificate_id": "C-2", "merchant_id": "M-1", "kind": "nope"}) + b"\n")
    assert main(["db", "import-certificates", str(certs), "--no-rescan"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out) == {"imported": 1, "merchants_changed": ["M-1"]}
    assert f"{certs}:2:" in err and "kind" in err
    with open_store() as store:                      # the URL comes from the environment
        assert [c.certificate_id for c in store.certificates_for("M-1")] == ["C-1"]
