"""`scanner train` with reviewer feedback: compare on the same held-out rows, replace only when not worse,
keep the old version for rollback; `scanner models --use` rolls back."""
import argparse
import json

import pytest

from scanner.ml import cli, corpus, load_classifiers, train


def run(*argv) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="cmd"))
    argv = list(argv) + (["--bits", "12"] if argv[0] == "train" else [])  # small, fast test models
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def workdir(tmp_path, make_rows):
    data, models = tmp_path / "data", tmp_path / "models"
    data.mkdir()
    corpus.write_corpus(make_rows(), data)
    return data, models


def test_train_then_feedback_then_rollback(workdir, tmp_path, capsys):
    data, models = workdir
    assert run("train", "--models", str(models), "--data", str(data)) == 0
    first = load_classifiers(models).version
    assert (models / "MODEL_CARD.md").read_text().count("held out") == 1
    thresholds = json.loads((models / "thresholds.json").read_text())
    assert set(thresholds["families"]) == set(corpus.FAMILIES)

    fb = tmp_path / "feedback.jsonl"
    rows = [{"listing": {"listing_id": f"F-{i}", "title": f"turbo night capsules for him {i}"},
             "rule": "sexual_health/enhancement_claim", "decision": "confirmed", "flag_id": i} for i in range(30)]
    rows += [{"listing": {"listing_id": "F-x", "title": "cotton t-shirt for men"},
              "rule": "sexual_health/enhancement_claim", "decision": "dismissed"}]
    fb.write_text("\n".join(json.dumps(r) for r in rows))
    capsys.readouterr()
    assert run("train", "--models", str(models), "--data", str(data), "--feedback", str(fb)) == 0
    out = capsys.readouterr().out
    assert "new models" in out and f"current models {first}" in out  # both printed
    added = corpus.read_corpus_file(data / "feedback.jsonl")
    assert len(added) == 31
    assert added[0]["provenance"] == "feedback:sexual_health/enhancement_claim:confirmed:F-0:flag 0"
    assert added[0]["labels"] == {"sexual_health": 1} and added[-1]["labels"] == {"sexual_health": 0}
    second = load_classifiers(models).version
    assert second != first and "kept for rollback" in out
    # the old version stays loadable, and can be made current again
    assert load_classifiers(models, first).version == first
    assert run("models", "--models", str(models), "--use", first) == 0
    assert load_classifiers(models).version == first
    # the same feedback again adds nothing
    assert run("train", "--models", str(models), "--data", str(data), "--feedback", str(fb)) == 0
    assert len(corpus.read_corpus_file(data / "feedback.jsonl")) == 31


def test_worse_models_do_not_replace_current(workdir, capsys):
    data, models = workdir
    assert run("train", "--models", str(models), "--data", str(data)) == 0
    first = load_classifiers(models).version
    # poison the training side only: flip e_cigarette labels of rows that are not held out
    rows = corpus.read_corpus(data)
    for r in rows:
        if not train.held_out(r["text"]):
            r["labels"]["e_cigarette"] = 1 - r["labels"]["e_cigarette"]
    for p in data.glob("*.jsonl"):
        p.unlink()
    corpus.write_corpus(rows, data)
    capsys.readouterr()
    assert run("train", "--models", str(models), "--data", str(data)) == 0
    out = capsys.readouterr().out
    assert f"kept current {first}" in out
    assert load_classifiers(models).version == first
    assert train.not_worse({"f": {"average_precision": 0.9, "f1": 0.9}}, {"f": {"average_precision": 0.9, "f1": 0.9}}, 0.0)


def test_bad_feedback_names_line_and_field(tmp_path, workdir, capsys):
    data, models = workdir
    fb = tmp_path / "fb.jsonl"
    fb.write_text(json.dumps({"listing": {"title": "x"}, "rule": "sexual_health/enhancement_claim",
                              "decision": "maybe"}) + "\n")
    assert run("train", "--models", str(models), "--data", str(data), "--feedback", str(fb)) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "'decision'" in err
    assert not (models / "current.json").exists()


def test_training_is_deterministic(tmp_path, make_rows):
    from scanner.ml.features import FeatureParams

    small = FeatureParams(char_bits=10, word_bits=10)
    a, _ = train.train(make_rows(), tmp_path / "a", small, log=lambda *x: None)
    b, _ = train.train(make_rows(), tmp_path / "b", small, log=lambda *x: None)
    assert a.version == b.version
    assert (a._W == b._W).all() and (a._c == b._c).all()
    c, _ = train.train(make_rows(seed=2), tmp_path / "c", small, log=lambda *x: None)
    assert c.version != a.version
