import datetime as dt
import shutil
from pathlib import Path

import pytest

from scanner.rulesets import load_rulesets

AS_OF = dt.date(2022, 2, 1)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory):
    """A copy of the rulesets and models, so edits elsewhere cannot change versions mid-test."""
    root = tmp_path_factory.mktemp("snapshot")
    repo = Path(__file__).resolve().parents[2]
    for name in ("rulesets", "models"):
        if (repo / name).is_dir():
            shutil.copytree(repo / name, root / name)
    return root


@pytest.fixture(scope="session")
def rulesets(snapshot):
    return load_rulesets(snapshot / "rulesets")


@pytest.fixture(scope="session")
def live_scanner(snapshot):
    from scanner import Scanner

    return Scanner.load(snapshot / "rulesets", _models(snapshot))


def _models(snapshot):
    return str(snapshot / "models") if (snapshot / "models").is_dir() else None


@pytest.fixture(scope="session")
def make_opts(snapshot):
    """SweepOptions for tests: scanning in-process, small chunks, a fixed as-of date, the snapshot rulesets."""
    from scanner.sweep import SweepOptions

    def make(source, **kw):
        kw.setdefault("workers", 0)      # in-process: fast; the pool has its own tests
        kw.setdefault("chunk_size", 50)
        kw.setdefault("as_of", AS_OF)
        kw.setdefault("progress", False)
        kw.setdefault("rulesets", str(snapshot / "rulesets"))
        kw.setdefault("models", _models(snapshot))
        return SweepOptions(source=str(source), **kw)

    return make
