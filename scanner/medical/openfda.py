"""openFDA client: 510(k) by K-number, PMA by P-number, establishment registration by number.

Shapes follow openFDA's field specs (../shared/data/openfda_spec/): `device/510k.json`
results carry `k_number`, `product_code`, `device_name` (often a trade name) and
`openfda.device_name` (FDA's classification name); `device/pma.json` likewise with
`pma_number`; `device/registrationlisting.json` results carry
`registration.registration_number` and `registration.reg_expiry_date_year`.

Configuration: SCANNER_OPENFDA_URL (base URL, no default host is contacted unless set or
passed), SCANNER_OPENFDA_KEY (api_key). Numbers are validated before any request and are
passed as query parameters, never spliced into the URL path.
"""
from __future__ import annotations

import json
import os
import re

from scanner.medical.http import (
    Cache,
    HttpError,
    HttpSettings,
    LookupResult,
    MemoryCache,
    fetch,
    make_session,
)

OFFICIAL_URL = "https://api.fda.gov"
K_NUMBER = re.compile(r"^(K|DEN)\d{6}$")
PMA_NUMBER = re.compile(r"^[PHN]\d{5,6}(/S\d{1,4})?$")
REGISTRATION_NUMBER = re.compile(r"^\d{5,10}$")

ENDPOINTS = {
    "510k": ("/device/510k.json", "k_number", K_NUMBER),
    "pma": ("/device/pma.json", "pma_number", PMA_NUMBER),
    "registration": ("/device/registrationlisting.json", "registration.registration_number",
                     REGISTRATION_NUMBER),
}


def number_error(kind: str, number: str) -> str | None:
    """Why `number` cannot be a `kind` number, or None when it can."""
    pattern = ENDPOINTS[kind][2]
    if not pattern.match(number or ""):
        return {"510k": "expected K and six digits (e.g. K201234)",
                "pma": "expected P and five or six digits (e.g. P180001)",
                "registration": "expected five to ten digits"}[kind]
    return None


class OpenFdaClient:
    """Looks numbers up at openFDA; answers (and clean not-founds) are cached with a TTL."""

    source = "openfda"

    def __init__(self, base_url: str, api_key: str | None = None, cache: Cache | None = None,
                 settings: HttpSettings | None = None, ttl_seconds: int = 7 * 86400,
                 not_found_ttl_seconds: int = 86400):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.cache = cache if cache is not None else MemoryCache()
        self.settings = settings or HttpSettings()
        self.session = make_session(self.settings)
        self.ttl = ttl_seconds
        self.not_found_ttl = not_found_ttl_seconds

    @classmethod
    def from_env(cls, cache: Cache | None = None, settings: HttpSettings | None = None) -> OpenFdaClient | None:
        """A client when SCANNER_OPENFDA_URL is set; None means offline (judge uploaded fields)."""
        url = os.environ.get("SCANNER_OPENFDA_URL")
        if not url:
            return None
        return cls(url, os.environ.get("SCANNER_OPENFDA_KEY") or None, cache=cache, settings=settings)

    def lookup(self, kind: str, number: str) -> LookupResult:
        if kind not in ENDPOINTS:
            raise ValueError(f"unknown openFDA lookup kind {kind!r}")
        number = (number or "").strip().upper()
        result = LookupResult(self.source, kind, number)
        problem = number_error(kind, number)
        if problem:
            result.error = f"number {number!r} is malformed: {problem}"
            return result
        namespace = f"openfda:{kind}"
        cached = self.cache.get(namespace, number)
        if cached is not None:
            result.cached = True
            if cached.get("not_found"):
                result.not_found = True
            else:
                result.record = cached
            return result
        path, field, _ = ENDPOINTS[kind]
        params = {"search": f'{field}:"{number}"', "limit": "1"}
        if self.api_key:
            params["api_key"] = self.api_key
        try:
            status, body, _ = fetch(self.session, self.settings, self.base_url + path, params)
        except HttpError as exc:
            result.error = f"openFDA {kind} lookup of {number} failed: {exc}"
            return result
        if status == 404:
            result.not_found = True
            self.cache.put(namespace, number, {"not_found": True}, self.not_found_ttl)
            return result
        if status != 200:
            result.error = f"openFDA {kind} lookup of {number} failed: HTTP {status}"
            return result
        try:
            data = json.loads(body)
            results = data["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            result.error = f"openFDA {kind} lookup of {number} failed: malformed answer ({_why(exc)})"
            return result
        record = next((r for r in results if isinstance(r, dict) and _number_of(kind, r) == number), None)
        if record is None:
            result.not_found = True
            self.cache.put(namespace, number, {"not_found": True}, self.not_found_ttl)
            return result
        result.record = record
        self.cache.put(namespace, number, record, self.ttl)
        return result


def _why(exc: Exception) -> str:
    return "not JSON" if isinstance(exc, json.JSONDecodeError) else f"{type(exc).__name__}: {exc}"[:120]


def _number_of(kind: str, record: dict) -> str:
    if kind == "registration":
        reg = record.get("registration") or {}
        return str(reg.get("registration_number", "")).upper()
    return str(record.get("k_number" if kind == "510k" else "pma_number", "")).upper()


def facts(kind: str, record: dict) -> dict:
    """What a certificate check needs from an openFDA record."""
    if kind == "registration":
        reg = record.get("registration") or {}
        year = str(reg.get("reg_expiry_date_year", "")).strip()
        return {"registration_year": int(year) if year.isdigit() else None,
                "name": reg.get("name")}
    ofda = record.get("openfda") or {}
    return {"product_code": (record.get("product_code") or "").upper() or None,
            "device_name": ofda.get("device_name") or record.get("generic_name") or record.get("device_name"),
            "trade_name": record.get("device_name") or record.get("trade_name")}
