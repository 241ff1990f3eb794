"""spaCy reads only windows around numbers before units; what it finds there must be what it
finds reading the whole text."""
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import Scanner
from scanner.listing import parse_listing

ROOT = Path(__file__).resolve().parents[1]
PIECES = ["3", "3.5", "12", "7,5", "250", "ten", "twenty", "mm", "cm", "in", "inch", '"', "″", "mg", "mg/ml", "%",
          "puffs", "70/30", "70vg/30pg", "50%", "blade", "tip", "angle", "overall", "handle", "nicotine", "vg",
          "knife", "steel", "the", "is", " ", " ", " ", "  ", "\n", ",", ".", "-", "/", "(", ")", "毫米", "5000", "°",
          "one", "_", "k", "someone"]
# segment breaks, HTML block tags and text without spaces, which the labels' reach depends on
BREAKS = ["3", "24", "12", "cm", "mm", "厘米", "blade", "overall", "handle", "length", "刃长", "刀刃长度", "总长", "刀",
          "：", "，", "、", "。", ":", ";", "|", ". ", "\t", "\n", "<br>", "<td>", "</td>", "<tr>", "<p>", "<b>", " ", " ",
          "  ", "approx.", "x"]


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return Scanner.load(models_dir=tmp_path_factory.mktemp("no-models"))


def _same(scanner, doc, families):
    whole = scanner.patterns.find(doc, families, None, windowed=False)
    windows = scanner.patterns.find(doc, families, None)
    key = lambda m: (m.name, m.start, m.end, m.value)
    assert sorted(map(key, windows)) == sorted(map(key, whole)), doc.text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_windows_find_what_the_whole_text_gives(scanner, text):
    from scanner.text import normalise
    _same(scanner, normalise(text), set(scanner.patterns.matchers))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(BREAKS), max_size=60).map("".join))
def test_windows_agree_across_breaks_tags_and_unspaced_text(scanner, text):
    from scanner.text import normalise
    _same(scanner, normalise(text, html=True), set(scanner.patterns.matchers))


def test_windows_agree_on_catalog_and_generated_listings(scanner):
    rows = [json.loads(line) for line in (ROOT / "examples" / "catalog.jsonl").read_text().splitlines() if line]
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import generate
    rows += list(generate(400))
    families = set(scanner.patterns.matchers)
    found = 0
    for row in rows:
        listing = parse_listing({k: v for k, v in row.items() if not k.startswith("_")})
        for _, doc in scanner.documents(listing):
            _same(scanner, doc, families)
            found += len(scanner.patterns.find(doc, families, None))
    assert found >= 20  # the comparison covered real measurements
