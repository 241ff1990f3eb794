"""Fixtures: the service under a real uvicorn server (see service_harness.py)."""
import pytest
from service_harness import running_service

from scanner.store.testing import temp_database


@pytest.fixture(scope="session")
def shared_scanner():
    from scanner import Scanner
    return Scanner.load()


@pytest.fixture(scope="session")
def service(shared_scanner, tmp_path_factory):
    """The service on SQLite, shared by most tests (they use distinct listing and merchant ids)."""
    with temp_database("sqlite", tmp_path_factory.mktemp("svc")) as url, \
            running_service(url, shared_scanner) as svc:
        yield svc


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_service(request, shared_scanner, tmp_path_factory):
    """The service on SQLite and on the real PostgreSQL."""
    with temp_database(request.param, tmp_path_factory.mktemp("db")) as url, \
            running_service(url, shared_scanner) as svc:
        yield svc
