"""The review pages served by a real uvicorn on a free loopback port, over a real store
(SQLite, and the local PostgreSQL where a test asks for it), with flags recorded the way the
sweep and the service record them (Store.record_items)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi import FastAPI

from scanner.listing import Evidence, Finding, Verdict
from scanner.review import auth
from scanner.review.app import create_review_router
from scanner.review.settings import ReviewSettings
from scanner.rulesets import load_rulesets
from scanner.service.testing import serve
from scanner.store import keys
from scanner.store.record import Item
from scanner.store.store import Store
from scanner.store.testing import temp_database

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "review"          # ignored by git (.gitignore: artifacts/)
PASSWORD = "correct horse battery"
SETTINGS = ReviewSettings(max_failed_logins=3, lockout_seconds=60, claim_seconds=120, page_size=25,
                          sync_seconds=0, secure_cookies="auto")
CONFIDENCE_BELOW = 0.9       # findings below this confidence open a flag (the store's setting)


@pytest.fixture(scope="session")
def rulesets():
    return load_rulesets()


def finding(rule: str, field: str, text: str, needle: str, *, outcome: str = "review", points: int = 0,
            grade: str | None = None, confidence: float = 0.6, detector: str = "keyword",
            markets=("*",)) -> Finding:
    start = text.index(needle)
    return Finding(rule, grade, points, list(markets), confidence, f"{rule} looks likely",
                   [Evidence(field, start, start + len(needle), needle, detector)], outcome)


def record(store, listing: dict, findings: list[Finding], as_of: str = "2022-02-01") -> None:
    order = {"pass": 0, "review": 1, "restrict": 2, "block": 3}
    decision = max((f.outcome for f in findings), key=order.get, default="pass")
    v = Verdict(listing["listing_id"], decision, ["*"] if decision == "block" else [],
                sum(f.points for f in findings), findings, "test-rules-1", "test-models-1", as_of)
    fp = keys.listing_fingerprint(listing)
    store.record_items([Item(listing["listing_id"], listing["merchant_id"], v, fp, fp, keys.pack_content(listing))])


@dataclass
class Site:
    url: str
    store: object
    settings: ReviewSettings


def make_site(url: str, settings: ReviewSettings, rulesets):
    store = Store(url, flag_confidence_below=CONFIDENCE_BELOW)
    store.upgrade()
    auth.create_user(store.engine, "rita", PASSWORD, "reviewer")
    auth.create_user(store.engine, "rob", PASSWORD, "reviewer")
    auth.create_user(store.engine, "ada", PASSWORD, "admin")
    app = FastAPI()
    app.include_router(create_review_router(store=store, settings=settings, rulesets=rulesets))
    return store, app


@contextlib.contextmanager
def running_site(kind: str, directory, rulesets, settings: ReviewSettings = SETTINGS):
    with temp_database(kind, directory) as url:
        store, app = make_site(url, settings, rulesets)
        try:
            with serve(app) as base:
                yield Site(base + "/review", store, settings)
        finally:
            store.close()


@pytest.fixture(scope="module")
def site(rulesets, tmp_path_factory):
    with running_site("sqlite", tmp_path_factory.mktemp("review"), rulesets) as s:
        yield s


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_site(request, rulesets, tmp_path_factory):
    with running_site(request.param, tmp_path_factory.mktemp("review"), rulesets) as s:
        yield s


def with_settings(**kw) -> ReviewSettings:
    return replace(SETTINGS, **kw)
