"""The lookup clients' shared plumbing: one requests session with timeouts, retries with
backoff (honouring a bounded Retry-After on 429/503), a response-size bound, and a small
cache interface.

A lookup never raises for network trouble: it returns a `LookupResult` whose `error` says
what went wrong, so the caller can send the listing to review with that reason.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class Cache(Protocol):
    """What the clients cache through; Store.cache_get / Store.cache_put have the same shape."""

    def get(self, namespace: str, key: str) -> dict | None: ...

    def put(self, namespace: str, key: str, value: dict, ttl_seconds: int) -> None: ...


class MemoryCache:
    """An in-process cache with per-entry expiry."""

    def __init__(self, clock=time.monotonic):
        self._data: dict[tuple[str, str], tuple[float, dict]] = {}
        self._clock = clock

    def get(self, namespace: str, key: str) -> dict | None:
        hit = self._data.get((namespace, key))
        if hit is None:
            return None
        expires, value = hit
        if self._clock() >= expires:
            del self._data[(namespace, key)]
            return None
        return value

    def put(self, namespace: str, key: str, value: dict, ttl_seconds: int) -> None:
        self._data[(namespace, key)] = (self._clock() + ttl_seconds, value)


class StoreCache:
    """Adapts a store with `cache_get(namespace, key)` / `cache_put(namespace, key, value, ttl)`."""

    def __init__(self, store):
        self.store = store

    def get(self, namespace: str, key: str) -> dict | None:
        return self.store.cache_get(namespace, key)

    def put(self, namespace: str, key: str, value: dict, ttl_seconds: int) -> None:
        self.store.cache_put(namespace, key, value, ttl_seconds)


@dataclass(slots=True)
class LookupResult:
    """One answer from an authority: a record, a clean not-found, or an error."""

    source: str                      # "openfda" | "nmpa"
    kind: str                        # "510k" | "pma" | "registration" | ...
    number: str
    record: dict[str, Any] | None = None
    not_found: bool = False
    error: str | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.record is not None


class _BoundedRetry(Retry):
    """urllib3's Retry, with Retry-After capped so a hostile server cannot park a worker."""

    max_retry_after: float = 30.0

    def get_retry_after(self, response):
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)

    def new(self, **kw):
        new = super().new(**kw)
        new.max_retry_after = self.max_retry_after
        return new


@dataclass(slots=True)
class HttpSettings:
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 30.0
    max_bytes: int = 5_000_000
    user_agent: str = "listing-compliance-scanner/0.1"


class HttpError(Exception):
    """A request that failed after its retries; the message is safe to show a reviewer."""


def make_session(settings: HttpSettings) -> requests.Session:
    retry = _BoundedRetry(
        total=settings.retries, connect=settings.retries, read=settings.retries, status=settings.retries,
        backoff_factor=settings.backoff, status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}), respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.max_retry_after = settings.max_retry_after
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = settings.user_agent
    return session


def fetch(session: requests.Session, settings: HttpSettings, url: str, params: dict | None = None,
          max_bytes: int | None = None) -> tuple[int, bytes, str]:
    """GET `url` (params are encoded by requests); returns (status, body, content type).
    Raises HttpError for timeouts, connection failures and oversized bodies."""
    limit = max_bytes or settings.max_bytes
    try:
        with session.get(url, params=params, timeout=(settings.connect_timeout, settings.read_timeout),
                         stream=True) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise HttpError(f"response of {declared} bytes exceeds the {limit}-byte limit")
            chunks, size = [], 0
            for chunk in resp.iter_content(65536):
                size += len(chunk)
                if size > limit:
                    raise HttpError(f"response exceeds the {limit}-byte limit")
                chunks.append(chunk)
            return resp.status_code, b"".join(chunks), resp.headers.get("Content-Type", "")
    except requests.exceptions.RetryError as exc:
        raise HttpError(f"gave up after {settings.retries} retries: {_short(exc)}") from None
    except requests.exceptions.Timeout:
        raise HttpError(f"timed out after {settings.read_timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        raise HttpError(f"connection failed: {_short(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise HttpError(f"request failed: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = str(exc)
    if "Read timed out" in text or "timed out" in text:
        return "timed out"
    if "too many 429" in text:
        return "rate limited (429)"
    if "too many 5" in text or "too many 500" in text:
        return "server error (5xx)"
    return text[:200]
