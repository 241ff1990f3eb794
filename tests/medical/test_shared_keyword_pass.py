"""The engine finds the medical identifier's terms in its own keyword pass; identification from
those matches must equal identification by the identifier's own search."""
import json
import sys
from pathlib import Path

import pytest

from scanner import Scanner
from scanner.listing import parse_listing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return Scanner.load(models_dir=tmp_path_factory.mktemp("no-models"))


def _listings():
    rows = [json.loads(line) for line in (ROOT / "examples" / "catalog.jsonl").read_text().splitlines() if line]
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import generate
    rows += list(generate(300))
    return [parse_listing({k: v for k, v in r.items() if not k.startswith("_")}) for r in rows]


def _summary(ident):
    return (ident.is_device, ident.device_class, sorted(t.id for t in ident.types), ident.claim, ident.category,
            sorted((e.field, e.start, e.end, e.text) for e in ident.evidence))


def test_identification_from_the_shared_pass_equals_its_own_search(scanner):
    identifier = scanner.medical.identifier
    devices = 0
    for listing in _listings():
        docs = scanner.documents(listing)
        extra: list = []
        scanner.signals(listing, docs, extra)
        found = [(name, m.start, m.end, *m.ref.group, m.obfuscated) for name, m in extra]
        shared = identifier.identify(listing, dict(docs), found)
        own = identifier.identify(listing, dict(docs))
        assert _summary(shared) == _summary(own), listing.listing_id
        devices += own.is_device
    assert devices >= 20  # the comparison covered real device listings
