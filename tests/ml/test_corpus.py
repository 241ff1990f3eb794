"""The committed corpus: provenance on every row, labels per family, nothing from the dev set or the
evaluation-only files, and a builder that is deterministic."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from scanner.ml import corpus
from scanner.ml.corpus import CorpusError, read_corpus, read_corpus_file

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DATA = REPO / "models" / "data"


@pytest.fixture(scope="module")
def rows():
    if not any(DATA.glob("*.jsonl")):
        pytest.skip("no corpus built yet")
    return read_corpus(DATA)


def test_every_row_has_text_labels_and_provenance(rows):
    assert len(rows) > 30000
    assert all(r["provenance"] and r["labels"] for r in rows)
    summary = corpus.summary(rows)
    for fam in corpus.FAMILIES:
        assert summary[fam]["positive"] > 1000 and summary[fam]["negative"] > 20000


def test_no_row_comes_from_the_dev_set_or_evaluation_files(rows):
    texts = {r["text"].split(" \n ")[0].strip().lower() for r in rows}
    dev = SHARED / "devset" / "cases.jsonl"
    if dev.exists():
        titles = {json.loads(l)["listing"]["title"].strip().lower() for l in dev.open(encoding="utf-8") if l.strip()}
        assert not (texts & {t for t in titles if len(t) > 25})
    for name, col in (("amazon_in_2023_products_trimmed.csv", "name"), ("vape_listings_real_2025.csv", "title")):
        path = SHARED / "data" / name
        if path.exists():
            with path.open(encoding="utf-8") as f:
                titles = {r[col].strip().lower() for r in csv.DictReader(f) if r.get(col)}
            assert not (texts & {t for t in titles if len(t) > 25}), name


def test_no_generated_row_repeats_a_title_of_our_eval_sets(rows):
    """evals/ measures generalisation: the hand-written templates must not copy its listings. (The
    rulesets' own examples are rows too, and some repeat an eval title: rounds added examples after
    their fixes; the multilingual rows are short phrases that may coincide with a short title.)"""
    texts = {r["text"].split(" \n ")[0].strip().lower() for r in rows
             if r["provenance"].startswith("generated:") and not r["provenance"].startswith("generated:multilingual")}
    evals = Path(__file__).resolve().parents[2] / "evals"
    titles = {json.loads(line)["listing"].get("title", "").strip().lower()
              for path in evals.glob("*.jsonl") for line in path.open(encoding="utf-8") if line.strip()}
    assert not (texts & {t for t in titles if len(t) > 12})


def test_builder_is_deterministic_and_uses_the_rulesets_examples(tmp_path):
    templates = yaml.safe_load((DATA / "templates.yaml").read_text(encoding="utf-8"))
    for g in templates["groups"]:
        g["count"] = 5
    templates["ordinary"]["count"] = 20
    a = corpus.build_rows(templates, REPO / "rulesets", seed=3)
    b = corpus.build_rows(templates, REPO / "rulesets", seed=3)
    assert a == b
    assert any(r["provenance"].startswith("ruleset:") and r["labels"] for r in a)
    assert corpus.build_rows(templates, REPO / "rulesets", seed=4) != a


def test_unknown_slot_is_a_clear_error():
    templates = {"groups": [{"name": "x", "count": 1, "titles": ["{nope}"]}], "ordinary": {"count": 0, "exclude_paths": [],
                 "titles": ["t"]}}
    with pytest.raises(CorpusError, match="unknown slot 'nope'"):
        corpus.build_rows(templates, REPO / "rulesets")


@pytest.mark.parametrize("line, field", [("not json", "not JSON"), ('{"text": 1}', "'text'"),
                                         ('{"text": "a", "labels": {"x": 2}, "provenance": "p"}', "'labels'"),
                                         ('{"text": "a", "labels": {"x": 1}}', "'provenance'")])
def test_bad_rows_name_file_line_and_field(tmp_path, line, field):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "labels": {"e_cigarette": 0}, "provenance": "t"}\n' + line + "\n")
    with pytest.raises(CorpusError, match=f"bad.jsonl line 2: .*{field}"):
        read_corpus_file(path)
