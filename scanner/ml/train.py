"""Train one calibrated linear classifier per family, deterministically, and save it with skops.

Held-out split: a row is held out when the SHA-256 of its text falls in the lowest 20 %:
independent of its labels (so the split is stratified in expectation), identical texts
never straddle the split, and a row keeps its side when rows are added (feedback), so an
old and a new model are compared on the same held-out rows.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from scanner.ml.corpus import FAMILIES
from scanner.ml.features import BatchHasher, FeatureParams, reference_features
from scanner.ml.runtime import CURRENT, Classifiers, load_pipeline, sha256

SEED = 0
N_JOBS = 2  # cross-validation folds fit in parallel on big corpora (the result does not depend on it)
PARALLEL_ROWS = 10_000
HELD_OUT_PERCENT = 20
PARAMS = {"C": 20.0, "tol": 1e-4, "class_weight": "balanced", "solver": "liblinear", "cv_folds": 3, "calibration": "sigmoid"}
PRECISION_TARGETS = (0.99, 0.95)
DEFAULT_FEATURES = FeatureParams()


def held_out(text: str) -> bool:
    return int(hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8], 16) % 100 < HELD_OUT_PERCENT


def featurise(texts: list[str], params: FeatureParams, chunk: int = 2048) -> sp.csr_matrix:
    hasher = BatchHasher(params)
    return sp.vstack([hasher.transform(texts[i:i + chunk]) for i in range(0, len(texts), chunk)]).tocsr()


def fit_family(X: sp.csr_matrix, y: np.ndarray, params: FeatureParams) -> Pipeline:
    base = LogisticRegression(C=PARAMS["C"], tol=PARAMS["tol"], class_weight=PARAMS["class_weight"], solver=PARAMS["solver"],
                              random_state=SEED, max_iter=1000)
    cv = StratifiedKFold(PARAMS["cv_folds"], shuffle=True, random_state=SEED)
    clf = CalibratedClassifierCV(base, method=PARAMS["calibration"], cv=cv, ensemble=False,
                                 n_jobs=N_JOBS if X.shape[0] >= PARALLEL_ROWS else None)
    clf.fit(X, y)
    features = reference_features(params).fit(["fit is a no-op for hashing"])
    return Pipeline([("features", features), ("clf", clf)])


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """Precision/recall/F1 at 0.5, average precision, and the lowest threshold reaching each precision target."""
    pred = p >= 0.5
    prec, rec, f1, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    out = {"n": len(y), "positives": int(y.sum()), "precision": round(float(prec), 4), "recall": round(float(rec), 4),
           "f1": round(float(f1), 4), "average_precision": round(float(average_precision_score(y, p)), 4) if y.any() else 0.0}
    P, R, T = precision_recall_curve(y, p)
    for target in PRECISION_TARGETS:
        ok = np.flatnonzero(P[:-1] >= target)
        key = f"at_precision_{target}"
        out[key] = ({"threshold": round(float(T[ok[0]]), 4), "recall": round(float(R[ok[0]]), 4)} if len(ok)
                    else {"threshold": None, "recall": 0.0})
    return out


def evaluate(clf: Classifiers, rows: list[dict]) -> dict[str, dict]:
    """Metrics per family of `clf` on the held-out rows labelled for that family."""
    test = [r for r in rows if held_out(r["text"])]
    probs = clf.predict([r["text"] for r in test]) if test else np.zeros((0, len(clf.families)))
    out = {}
    for j, fam in enumerate(clf.families):
        idx = [i for i, r in enumerate(test) if fam in r["labels"]]
        y = np.array([test[i]["labels"][fam] for i in idx])
        out[fam] = metrics(y, probs[idx, j]) if len(idx) else {}
    return out


def data_hash(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows):
        h.update(r.encode("utf-8"))
    return h.hexdigest()


def spec(params: FeatureParams = DEFAULT_FEATURES) -> dict:
    return {"features": asdict(params), "model": PARAMS, "seed": SEED, "held_out_percent": HELD_OUT_PERCENT,
            "sklearn": sklearn.__version__}


def version_for(rows: list[dict], params: FeatureParams = DEFAULT_FEATURES) -> str:
    """The model version: a hash of the training data and every training parameter."""
    return hashlib.sha256((data_hash(rows) + json.dumps(spec(params), sort_keys=True)).encode()).hexdigest()[:16]


def train(rows: list[dict], models_dir: Path, params: FeatureParams = DEFAULT_FEATURES, log=print) -> tuple[Classifiers, dict]:
    """Fit every family on the training side of `rows`; save as a new version (not yet current)."""
    t0 = time.perf_counter()
    texts = [r["text"] for r in rows]
    test = np.array([held_out(t) for t in texts])
    X = featurise(texts, params)
    log(f"featurised {len(texts)} rows in {time.perf_counter() - t0:.1f}s ({int(test.sum())} held out)")
    version = version_for(rows, params)
    pipelines = {}
    for fam in FAMILIES:
        idx = np.array([i for i, r in enumerate(rows) if fam in r["labels"] and not test[i]])
        y = np.array([rows[i]["labels"][fam] for i in idx])
        t1 = time.perf_counter()
        pipelines[fam] = fit_family(X[idx], y, params)
        log(f"  {fam}: {len(idx)} training rows ({int(y.sum())} positive) in {time.perf_counter() - t1:.1f}s")
    clf = Classifiers(version, pipelines)
    report = evaluate(clf, rows)
    vdir = models_dir / "versions" / version
    vdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for fam, pipe in pipelines.items():
        path = vdir / f"{fam}.skops"
        sio.dump(pipe, path, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        load_pipeline(path)  # refuses at once if a type outside the trusted list was saved
        files[fam] = {"file": path.name, "sha256": sha256(path)}
    manifest = {"version": version, "families": list(FAMILIES), "files": files, "spec": spec(params), "rows": len(rows),
                "held_out_rows": int(test.sum()), "held_out": report, "train_seconds": round(time.perf_counter() - t0, 1)}
    (vdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    clf.manifest = manifest
    return clf, manifest


def not_worse(new: dict, old: dict, tolerance: float) -> bool:
    """New metrics are not worse than old for any family (average precision and F1, within tolerance)."""
    for fam, m in old.items():
        n = new.get(fam)
        if not n:
            return False
        if n["average_precision"] < m.get("average_precision", 0) - tolerance or n["f1"] < m.get("f1", 0) - tolerance:
            return False
    return True


def make_current(models_dir: Path, version: str) -> None:
    (models_dir / CURRENT).write_text(json.dumps({"version": version}) + "\n")


def remove_version(models_dir: Path, version: str) -> None:
    shutil.rmtree(models_dir / "versions" / version, ignore_errors=True)
