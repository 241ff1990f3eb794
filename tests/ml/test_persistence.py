"""Models are saved with skops and loaded with an explicit list of trusted types; changed files are refused."""
import json
import shutil

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from scanner.engine import model_version
from scanner.ml import ModelError, listing_text, load_classifiers
from scanner.ml.runtime import active_version, load_pipeline


def test_load_and_predict_equals_the_pipelines(tiny_models):
    models, version = tiny_models
    clf = load_classifiers(models)
    assert clf.version == version
    assert clf.families == ["e_cigarette", "sexual_health", "controlled_instrument", "medical_device"]
    texts = ["salt nic 20mg mango ice pod juice", "police cuffs double lock steel", "cotton t-shirt for men", "",
             "colored contact lenses yearly 2 pairs", "电子烟"]
    fast = clf.predict(texts)
    assert fast.shape == (len(texts), 4)
    for j, fam in enumerate(clf.families):
        ref = clf.pipelines[fam].predict_proba(texts)[:, 1]
        np.testing.assert_allclose(fast[:, j], ref, rtol=1e-9, atol=1e-12)
    assert fast[0, 0] > 0.5 and fast[1, 2] > 0.5 and fast[2].max() < 0.5


def test_no_models_gives_none(tmp_path):
    assert load_classifiers(tmp_path) is None
    assert active_version(tmp_path) is None and model_version(tmp_path) == "none"


def test_active_version_is_the_loaded_version_and_checks_the_files(tiny_models, tmp_path):
    models, version = tiny_models
    assert active_version(models) == load_classifiers(models).version == version == model_version(models)
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    (copy / "versions" / version / "sexual_health.skops").write_bytes(b"changed")
    with pytest.raises(ModelError, match="sexual_health.skops: SHA-256 does not match"):
        active_version(copy)
    (copy / "versions" / version / "sexual_health.skops").unlink()
    with pytest.raises(ModelError, match="sexual_health.skops: model file is missing"):
        active_version(copy)


def test_tampered_file_is_refused(tiny_models, tmp_path):
    models, version = tiny_models
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    path = copy / "versions" / version / "e_cigarette.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256 does not match"):
        load_classifiers(copy)


def test_damaged_archive_is_refused_even_without_a_manifest(tmp_path):
    path = tmp_path / "x.skops"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError, match="not a readable skops file"):
        load_pipeline(path)


def test_unknown_type_is_refused(tmp_path, tiny_models):
    path = tmp_path / "evil.skops"
    sio.dump(Pipeline([("f", FunctionTransformer(json.loads))]), path)
    with pytest.raises(ModelError, match="outside the trusted list.*json.loads.*FunctionTransformer"):
        load_pipeline(path)
    # and a manifest that points at it, with a matching hash, is refused all the same
    models, version = tiny_models
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    vdir = copy / "versions" / version
    shutil.copy(path, vdir / "e_cigarette.skops")
    manifest = json.loads((vdir / "manifest.json").read_text())
    import hashlib
    manifest["files"]["e_cigarette"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="trusted list"):
        load_classifiers(copy)


def test_bad_version_name_is_refused(tiny_models, tmp_path):
    models, _ = tiny_models
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    (copy / "current.json").write_text(json.dumps({"version": "../../etc"}))
    with pytest.raises(ModelError, match="bad model version"):
        load_classifiers(copy)


def test_explain_points_at_the_words_that_matter(tiny_models):
    clf = load_classifiers(tiny_models[0])
    listing = {"title": "Blue cotton case", "description": "<p>keeps him going all night, herbal capsules</p>"}
    text = listing_text(listing)
    spans = clf.explain(text, "sexual_health", k=3)
    assert spans and all(0 <= s < e <= len(text) for s, e, _ in spans)
    assert [c for _, _, c in spans] == sorted((c for _, _, c in spans), reverse=True)
    words = " ".join(text[s:e] for s, e, _ in spans).lower()
    assert any(w in words for w in ("night", "going", "herbal", "capsules", "keeps"))
    assert clf.explain("", "sexual_health") == []


def test_features_the_fast_path_cannot_reproduce_are_refused(tiny_models):
    from scanner.ml.runtime import Classifiers

    clf = load_classifiers(tiny_models[0])
    pipe = clf.pipelines["e_cigarette"]
    pipe.steps[0][1].transformer_list[1][1].set_params(binary=True)
    with pytest.raises(ModelError, match="word features differ"):
        Classifiers("x", {"e_cigarette": pipe})
