import pytest

from scanner.rulesets import load_rulesets
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


@pytest.fixture(scope="session")
def rulesets():
    return load_rulesets()


@pytest.fixture(scope="session")
def live_scanner():
    from scanner import Scanner

    return Scanner.load()
