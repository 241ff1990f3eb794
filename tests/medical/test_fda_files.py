"""FDA classification readers on the real files, and the CLI that stores them
(SQLite and the local PostgreSQL), including `fda sync` against a local server."""
from __future__ import annotations

import collections
import io
import json
import zipfile

import pytest

from scanner.cli import main
from scanner.medical.fda_files import FdaFileError, read_any, read_path
from scanner.store import open_store
from scanner.store.testing import temp_database

from .conftest import FIXTURES, SHARED_DATA

FOICLASS = SHARED_DATA / "fda_foiclass_2020-11_raw.txt"
PRODUCT_CODES = SHARED_DATA / "fda_product_codes_2026-08-18.csv"


def test_foiclass_all_rows_read():
    rows = read_path(FOICLASS)
    data_lines = FOICLASS.read_bytes().count(b"\r\n") - 1   # minus the header
    assert len(rows) == 6617 == data_lines
    assert len({r["product_code"] for r in rows}) == 6617
    brw = next(r for r in rows if r["product_code"] == "BRW")
    assert brw == {"product_code": "BRW", "device_name": "Protector, Dental", "device_class": "1",
                   "regulation_number": "868.5820", "medical_specialty": "AN", "submission_type": "510(k) Exempt",
                   "definition": ""}
    # rows with stray quote characters survive intact
    assert any('"' in r["device_name"] or '"' in r["definition"] for r in rows)


def test_product_code_csv_counts_match_sources():
    rows = read_path(PRODUCT_CODES)
    assert len(rows) == 7088
    assert collections.Counter(r["device_class"] for r in rows) == {"2": 3636, "1": 2401, "3": 531, "N": 383,
                                                                   "U": 86, "F": 51}
    lmh = next(r for r in rows if r["product_code"] == "LMH")
    assert lmh["device_class"] == "3" and lmh["regulation_number"] == ""


def test_openfda_json_shape():
    rows = read_path(FIXTURES / "openfda_classification.json")
    assert [(r["product_code"], r["device_class"], r["submission_type"]) for r in rows] == \
        [("LPL", "2", "510(k)"), ("LPM", "3", "PMA"), ("NIV", "F", "PMA")]


def test_bad_rows_name_line_and_field():
    head = FOICLASS.read_bytes().split(b"\r\n")[:3]
    broken = head[0] + b"\r\n" + head[1] + b"\r\n" + head[2].replace(b"|1|", b"|7|", 1) + b"\r\n"
    with pytest.raises(FdaFileError) as err:
        read_any(broken, "foiclass.txt")
    assert "line 3" in str(err.value) and "device_class" in str(err.value)
    short = head[0] + b"\r\nAN|AN|BRW\r\n"
    with pytest.raises(FdaFileError, match="line 2.*columns"):
        read_any(short, "foiclass.txt")
    with pytest.raises(FdaFileError, match="results"):
        read_any(b'{"results": {"a": 1}}', "x.json")
    with pytest.raises(FdaFileError, match="not a foiclass"):
        read_any(b"hello world\n", "x")


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with temp_database(request.param, tmp_path) as url:
        yield url


def _stored(url: str) -> list[dict]:
    with open_store(url) as store:
        return store.fda_classification()


def test_cli_import_and_sync_keep_previous_table_on_failure(db_url, server, capsys):
    assert main(["fda", "import", str(FOICLASS), "--database", db_url]) == 0
    assert len(_stored(db_url)) == 6617
    assert "imported 6617" in capsys.readouterr().out

    # a failing server: nothing changes
    server.on("/foiclass.zip", (500, {}, b"down"))
    rc = main(["fda", "sync", "--url", server.url + "/foiclass.zip", "--database", db_url, "--retries", "1",
               "--timeout", "2"])
    assert rc == 1
    assert "unchanged" in capsys.readouterr().err
    assert len(_stored(db_url)) == 6617

    # a truncated download: too small, nothing changes
    server.on("/foiclass.zip", (200, {}, b"PK\x03\x04truncated"))
    assert main(["fda", "sync", "--url", server.url + "/foiclass.zip", "--database", db_url]) == 1
    assert len(_stored(db_url)) == 6617

    # a good download of the newer table swaps it in
    server.on("/foiclass.zip", (200, {"Content-Type": "application/zip"},
                                _zip("product_codes.csv", PRODUCT_CODES.read_bytes())))
    assert main(["fda", "sync", "--url", server.url + "/foiclass.zip", "--database", db_url]) == 0
    rows = _stored(db_url)
    assert len(rows) == 7088
    assert collections.Counter(r["device_class"] for r in rows)["3"] == 531


def test_cli_certificates_import(tmp_path, capsys):
    path = tmp_path / "certs.jsonl"
    good = {"certificate_id": "C-1", "merchant_id": "M-1", "kind": "ce_certificate", "number": "CE-1",
            "scope": "pulse oximeters", "valid_until": "2025-01-01"}
    bad = {"certificate_id": "C-2", "merchant_id": "M-1", "kind": "passport"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    rc = main(["certificates", "import", str(path), "--database", url])
    out = capsys.readouterr()
    assert rc == 1
    assert "line 2" in out.err and "kind" in out.err
    with open_store(url) as store:
        certs = store.certificates_for("M-1")
    assert [c.certificate_id for c in certs] == ["C-1"]
