"""Readers for FDA's device classification in its three published shapes, to one row shape.

- `foiclass.txt` (FDA's download): pipe-delimited, cp1252, CRLF, 18 columns, stray `"`
  characters, so it is read with quoting off (csv.QUOTE_NONE) or rows vanish.
- openFDA classification JSON (`device/classification.json` answers or the bulk download):
  {"results": [{product_code, device_name, device_class, regulation_number, ...}]}.
- The product-code CSV (bjoleary/fdadata's conversion): header with `device_type_name`.

Each reader yields `FdaRow` dicts: product_code, device_name, device_class ("1","2","3",
"N","U","F"), regulation_number, medical_specialty, submission_type, definition. A row
that cannot be read raises FdaFileError naming the file, the line and the field.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROW_FIELDS = ("product_code", "device_name", "device_class", "regulation_number", "medical_specialty",
              "submission_type", "definition")
CLASSES = {"1", "2", "3", "N", "U", "F"}
FOICLASS_COLUMNS = 18
MAX_FIELD = 20_000
# FDA's SUBMISSION_TYPE_ID codes (openFDA deviceclass.yaml)
SUBMISSION_TYPES = {"1": "510(k)", "2": "PMA", "3": "Contact ODE", "4": "510(k) Exempt", "5": "Enforcement Discretion",
                    "6": "Unclassified", "7": "Contact ODE", "8": "Contact ODE"}


class FdaFileError(ValueError):
    def __init__(self, source: str, line: int | None, field: str, message: str):
        self.source, self.line, self.field = source, line, field
        where = f"{source}" + (f" line {line}" if line is not None else "")
        super().__init__(f"{where}: field '{field}': {message}")


def _row(source: str, line: int | None, code: str, name: str, cls: str, regulation: str = "",
         specialty: str = "", submission: str = "", definition: str = "") -> dict:
    code = (code or "").strip().upper()
    if not (len(code) == 3 and code.isalnum()):
        raise FdaFileError(source, line, "product_code", f"{code!r} is not a 3-character product code")
    cls = (cls or "").strip().upper()
    if cls not in CLASSES:
        raise FdaFileError(source, line, "device_class", f"{cls!r} is not one of {sorted(CLASSES)}")
    name = (name or "").strip()
    if not name:
        raise FdaFileError(source, line, "device_name", "is empty")
    return {"product_code": code, "device_name": name[:MAX_FIELD], "device_class": cls,
            "regulation_number": (regulation or "").strip(), "medical_specialty": (specialty or "").strip(),
            "submission_type": (submission or "").strip(), "definition": (definition or "").strip()[:MAX_FIELD]}


def read_foiclass(data: bytes, source: str = "foiclass.txt") -> Iterator[dict]:
    text = data.decode("cp1252", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="|", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header or "PRODUCTCODE" not in [h.strip().upper() for h in header]:
        raise FdaFileError(source, 1, "(header)", "not a foiclass.txt header (no PRODUCTCODE column)")
    idx = {h.strip().upper(): i for i, h in enumerate(header)}
    for line, fields in enumerate(reader, start=2):
        if not fields or fields == [""]:
            continue
        if len(fields) != len(header):
            raise FdaFileError(source, line, "(row)", f"has {len(fields)} columns, expected {len(header)}")

        def get(col: str, fields: list[str] = fields) -> str:
            i = idx.get(col)
            return fields[i] if i is not None else ""

        sub = get("SUBMISSION_TYPE_ID").strip()
        yield _row(source, line, get("PRODUCTCODE"), get("DEVICENAME"), get("DEVICECLASS"),
                   get("REGULATIONNUMBER"), get("MEDICALSPECIALTY"), SUBMISSION_TYPES.get(sub, sub),
                   get("DEFINITION"))


def read_product_code_csv(data: bytes, source: str = "product_codes.csv") -> Iterator[dict]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    if not reader.fieldnames or "product_code" not in reader.fieldnames:
        raise FdaFileError(source, 1, "(header)", "no product_code column")
    name_col = "device_type_name" if "device_type_name" in reader.fieldnames else "device_name"
    for row in reader:
        yield _row(source, reader.line_num, row.get("product_code"), row.get(name_col), row.get("device_class"),
                   row.get("regulation") or row.get("regulation_number") or "", row.get("medical_specialty") or "",
                   row.get("submission_type") or "", row.get("definition") or "")


def read_openfda_json(data: bytes, source: str = "classification.json") -> Iterator[dict]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise FdaFileError(source, None, "(file)", f"not JSON: {exc}") from None
    results = doc.get("results") if isinstance(doc, dict) else doc
    if not isinstance(results, list):
        raise FdaFileError(source, None, "results", "expected a list of classification records")
    for i, rec in enumerate(results):
        if not isinstance(rec, dict):
            raise FdaFileError(source, None, f"results[{i}]", "expected an object")
        sub = str(rec.get("submission_type_id", "")).strip()
        try:
            yield _row(source, None, rec.get("product_code"), rec.get("device_name"), str(rec.get("device_class", "")),
                       rec.get("regulation_number") or "", rec.get("medical_specialty_description")
                       or rec.get("medical_specialty") or "", SUBMISSION_TYPES.get(sub, sub), rec.get("definition") or "")
        except FdaFileError as exc:
            raise FdaFileError(source, None, f"results[{i}].{exc.field}", str(exc).split(": ", 2)[-1]) from None


def sniff(data: bytes) -> str:
    """'zip', 'foiclass', 'csv' or 'json' from the first bytes."""
    if data[:4] == b"PK\x03\x04":
        return "zip"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \r\n\t")
    if head[:1] in (b"{", b"["):
        return "json"
    first = head.split(b"\n", 1)[0]
    if b"|" in first and b"PRODUCTCODE" in first.upper():
        return "foiclass"
    if b"," in first and b"product_code" in first:
        return "csv"
    raise FdaFileError("(input)", 1, "(header)", "not a foiclass.txt, product-code CSV, openFDA JSON or zip of one")


def read_any(data: bytes, source: str = "(input)") -> list[dict]:
    kind = sniff(data)
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [n for n in zf.namelist() if n.lower().endswith((".txt", ".json", ".csv"))]
            if len(members) != 1:
                raise FdaFileError(source, None, "(zip)", f"expected one classification file, found {members}")
            info = zf.getinfo(members[0])
            if info.file_size > 200_000_000:
                raise FdaFileError(source, None, "(zip)", "member is implausibly large")
            return read_any(zf.read(members[0]), f"{source}:{members[0]}")
    reader = {"foiclass": read_foiclass, "csv": read_product_code_csv, "json": read_openfda_json}[kind]
    return list(reader(data, source))


def read_path(path: str | Path) -> list[dict]:
    path = Path(path)
    return read_any(path.read_bytes(), path.name)
