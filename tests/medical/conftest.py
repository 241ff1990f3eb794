"""Fixtures for the medical tests: the medical ruleset, and a real local HTTP server whose
answers each test scripts (status, headers, body, delay) per path."""
from __future__ import annotations

import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scanner.rulesets import load_rulesets

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "medical"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def rulesets(tmp_path_factory):
    """Only the medical family and the market groups, so other families' work cannot break these tests."""
    d = tmp_path_factory.mktemp("rulesets")
    for name in ("medical_devices.yaml", "markets.yaml"):
        shutil.copy(REPO / "rulesets" / name, d / name)
    return load_rulesets(d)


@pytest.fixture(scope="session")
def family(rulesets):
    return rulesets.families["medical_device"]


@pytest.fixture(scope="session")
def fda_rows():
    from scanner.medical.fda_files import read_path
    return read_path(SHARED_DATA / "fda_product_codes_2026-08-18.csv")


class Script:
    """Answers per path: a list of (status, headers, body, delay) consumed in order; the last repeats."""

    def __init__(self):
        self.routes: dict[str, list[tuple[int, dict, bytes, float]]] = {}
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def on(self, path: str, *answers):
        self.routes[path] = [(a[0], a[1] if len(a) > 1 else {}, a[2] if len(a) > 2 else b"",
                              a[3] if len(a) > 3 else 0.0) for a in answers]

    def answer(self, path: str):
        with self.lock:
            answers = self.routes.get(path)
            if not answers:
                return 404, {}, b'{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}', 0.0
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            with script.lock:
                script.requests.append((parts.path, parse_qs(parts.query)))
            status, headers, body, delay = script.answer(parts.path)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield script
    httpd.shutdown()
    httpd.server_close()
