"""Fixtures shared by the store, sweep and other database tests: every test runs on SQLite
and on the PostgreSQL server, each in a throw-away schema or file."""
import pytest

from scanner.store import open_store
from scanner.store.testing import temp_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with temp_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    s.upgrade()
    yield s
    s.close()
