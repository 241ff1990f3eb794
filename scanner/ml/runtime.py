"""Load the saved classifiers safely and run them fast.

Layout: models/current.json names the active version; models/versions/<version>/ holds
manifest.json (families, feature parameters, file hashes, metrics) and one
<family>.skops Pipeline per family. Files are loaded with skops and an explicit list of
trusted types; a file whose SHA-256 differs from the manifest, or that holds any other
type, is refused with a ModelError. Older versions stay on disk for rollback.

Prediction does not call the Pipelines: the batch is hashed once (BatchHasher, the same
features as the Pipelines' FeatureUnion) and every family's linear model and sigmoid
calibration are applied as one sparse x dense product.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skops.io as sio
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from scanner.ml.features import BatchHasher, FeatureParams, clean, reference_features

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models"
CURRENT = "current.json"

# Every type a saved Pipeline may contain. Anything else in a file is refused.
TRUSTED_TYPES = [
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType", "builtins.slice",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.int64", "numpy.int32", "numpy.bool_",
    "sklearn.pipeline.Pipeline", "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._split.StratifiedKFold",
]


class ModelError(ValueError):
    """A model directory or file that cannot be used; the message names the file and why."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _schema_types(path: Path) -> set[str]:
    """Every module.name a skops file refers to (objects, types, functions), from its schema.

    skops itself trusts all scikit-learn types by default; this check holds a file to our
    own, shorter list."""
    with zipfile.ZipFile(path) as z:
        schema = json.loads(z.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _check_file(path: Path, expected_sha256: str | None) -> None:
    if not path.exists():
        raise ModelError(f"{path}: model file is missing")
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise ModelError(f"{path}: SHA-256 does not match the manifest: the file was changed or damaged; refused")


def load_pipeline(path: Path, expected_sha256: str | None = None) -> Pipeline:
    _check_file(path, expected_sha256)
    try:
        untrusted = sorted(_schema_types(path) - set(TRUSTED_TYPES))
    except Exception as exc:  # noqa: BLE001 - a damaged archive raises zipfile, json or key errors
        raise ModelError(f"{path}: not a readable skops file ({type(exc).__name__}: {exc})") from None
    if untrusted:
        raise ModelError(f"{path}: holds types outside the trusted list, refused: {', '.join(sorted(untrusted))}")
    try:
        model = sio.load(path, trusted=TRUSTED_TYPES)
    except Exception as exc:  # noqa: BLE001 - whatever skops raises, the file is refused
        raise ModelError(f"{path}: cannot be loaded ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, Pipeline):
        raise ModelError(f"{path}: expected a scikit-learn Pipeline, found {type(model).__name__}")
    return model


def version_dir(models_dir: Path, version: str | None = None) -> Path:
    if version is None:
        pointer = models_dir / CURRENT
        if not pointer.exists():
            raise ModelError(f"{pointer}: missing")
        version = json.loads(pointer.read_text())["version"]
    if not re.fullmatch(r"[0-9a-f]{8,64}", version):
        raise ModelError(f"{models_dir}: bad model version {version!r}")
    return models_dir / "versions" / version


@dataclass
class _Linear:
    coef: np.ndarray       # (n_features,)
    intercept: float
    a: float               # sigmoid calibration: p = 1 / (1 + exp(a * f + b))
    b: float


def _linear_parts(family: str, pipe: Pipeline) -> list[_Linear]:
    clf = pipe.steps[-1][1]
    if not isinstance(clf, CalibratedClassifierCV) or clf.method != "sigmoid":
        raise ModelError(f"{family}: the last step must be CalibratedClassifierCV(method='sigmoid')")
    parts = []
    for cc in clf.calibrated_classifiers_:
        est = cc.estimator
        cal = cc.calibrators[0]
        parts.append(_Linear(np.asarray(est.coef_, dtype=np.float64).ravel(), float(est.intercept_[0]),
                             float(cal.a_), float(cal.b_)))
    return parts


def _feature_params(family: str, pipe: Pipeline) -> FeatureParams:
    union = pipe.steps[0][1]
    char, word = (dict(union.transformer_list)[k] for k in ("char", "word"))
    p = FeatureParams(tuple(char.ngram_range), tuple(word.ngram_range),
                      int(char.n_features).bit_length() - 1, int(word.n_features).bit_length() - 1)
    reference = dict(reference_features(p).transformer_list)
    for name, vec in (("char", char), ("word", word)):
        if vec.get_params() != reference[name].get_params():
            raise ModelError(f"{family}: the {name} features differ from the ones BatchHasher reproduces")
    return p


class Classifiers:
    """All families' classifiers of one version, stacked for batch prediction."""

    def __init__(self, version: str, pipelines: dict[str, Pipeline], manifest: dict | None = None):
        self.version = version
        self.families = list(pipelines)
        self.pipelines = pipelines
        self.manifest = manifest or {}
        params = {_feature_params(f, p) for f, p in pipelines.items()}
        if len(params) != 1:
            raise ModelError("all families must share one feature definition")
        self.params = params.pop()
        self.hasher = BatchHasher(self.params)
        members = [(i, part) for i, f in enumerate(self.families) for part in _linear_parts(f, pipelines[f])]
        self._owner = np.array([i for i, _ in members])
        self._W = np.stack([m.coef for _, m in members], axis=1)
        self._b = np.array([m.intercept for _, m in members])
        self._a = np.array([m.a for _, m in members])
        self._c = np.array([m.b for _, m in members])
        self._share = np.zeros((len(members), len(self.families)))
        self._share[np.arange(len(members)), self._owner] = 1.0 / np.bincount(self._owner)[self._owner]

    def predict(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, shape (len(texts), len(families)), columns in `families` order."""
        if not texts:
            return np.zeros((0, len(self.families)))
        scores = self.hasher.dot(texts, self._W) + self._b
        return expit(-(self._a * scores + self._c)) @ self._share

    def explain(self, text: str, family: str, k: int = 5) -> list[tuple[int, int, float]]:
        """The (start, end, contribution) spans of `text` — words, or pieces of long unspaced
        runs (CJK) — whose n-grams pushed it most towards `family`; largest first."""
        col = self.families.index(family)
        w = self._W[:, self._owner == col].mean(axis=1)
        b = self.hasher.ngrams([text], spans=True)
        if not len(b.cols):
            return []
        sign = np.where(b.positive, 1.0, -1.0)
        block = (b.cols >= self.hasher.n_char).astype(int)
        norm = np.ones(2)
        for blk in (0, 1):
            m = block == blk
            if m.any():
                _, inv = np.unique(b.cols[m], return_inverse=True)
                norm[blk] = np.sqrt((np.bincount(inv, weights=sign[m]) ** 2).sum()) or 1.0
        contrib = sign * w[b.cols] / norm[block]
        starts, ends = _map_back(text, b.starts, b.ends)
        words = _words_of(text)
        if not words:
            return []
        w_start = np.array([s for s, _ in words])
        w_end = np.array([e for _, e in words])
        # share each n-gram's contribution among the words it overlaps
        first = np.searchsorted(w_end, starts, side="right")
        last = np.searchsorted(w_start, ends, side="left") - 1
        score = np.zeros(len(words))
        for c, a, z in zip(contrib, first, last):
            if z >= a:
                score[a:z + 1] += c / (z - a + 1)
        top = [i for i in np.argsort(-score, kind="stable")[:k] if score[i] > 0]
        return [(int(w_start[i]), int(w_end[i]), round(float(score[i]), 6)) for i in top]


_WORD_RUN = re.compile(r"\w+")
MAX_WORD = 12  # unspaced runs (CJK) are cut into pieces of this many characters


def _words_of(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _WORD_RUN.finditer(text):
        for s in range(m.start(), m.end(), MAX_WORD):
            out.append((s, min(s + MAX_WORD, m.end())))
    return out


def _map_back(text: str, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets in the cleaned, whitespace-collapsed text -> offsets in `text`."""
    origin: list[int] = []
    lowered: list[str] = []
    for i, ch in enumerate(text):
        lo = clean(ch)
        lowered.append(lo)
        origin += [i] * len(lo)
    low = "".join(lowered)
    keep_origin: list[int] = []
    keep_end: list[int] = []
    i = 0
    while i < len(low):
        j = i + 1
        if low[i].isspace():
            while j < len(low) and low[j].isspace():
                j += 1
        keep_origin.append(origin[i])
        keep_end.append(origin[j - 1] + 1)
        i = j
    o, e = np.array(keep_origin + [len(text)]), np.array(keep_end + [len(text)])
    return o[starts], e[np.maximum(ends - 1, 0)]


def _manifest(vdir: Path) -> tuple[str, dict[str, tuple[Path, str]], dict]:
    """(version, {family: (model file, its SHA-256)}, the manifest) of a version directory."""
    manifest_path = vdir / "manifest.json"
    if not manifest_path.exists():
        raise ModelError(f"{manifest_path}: missing")
    manifest = json.loads(manifest_path.read_text())
    try:
        files = {fam: (vdir / manifest["files"][fam]["file"], manifest["files"][fam]["sha256"])
                 for fam in manifest["families"]}
        return manifest["version"], files, manifest
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{manifest_path}: incomplete manifest (missing {exc})") from None


def load_version(models_dir: Path, version: str | None = None) -> Classifiers:
    version, files, manifest = _manifest(version_dir(models_dir, version))
    return Classifiers(version, {fam: load_pipeline(path, digest) for fam, (path, digest) in files.items()}, manifest)


def active_version(models_dir: Path | None = None) -> str | None:
    """The version load_classifiers(models_dir) loads (None: no models), its files checked against
    the manifest's digests, without loading them: for a sweep's coordinator, which only needs the
    version to know what is unchanged (its workers load the models)."""
    models_dir = Path(models_dir) if models_dir is not None else DEFAULT_DIR
    if not (models_dir / CURRENT).exists():
        return None
    version, files, _ = _manifest(version_dir(models_dir))
    for path, digest in files.values():
        _check_file(path, digest)
    return version


def load_classifiers(models_dir: Path | None = None, version: str | None = None) -> Classifiers | None:
    """The active (or the named) version's classifiers; None when the directory holds no models."""
    models_dir = Path(models_dir) if models_dir is not None else DEFAULT_DIR
    if version is None and not (models_dir / CURRENT).exists():
        return None
    return load_version(models_dir, version)
