"""Content fingerprints and the keys that make sweeps incremental.

A listing is rescanned only when one of these changes: its content, its merchant's
certificate set, its merchant's active rule exceptions, the ruleset version (and the rules in
effect), the imported FDA table, the code's release or the model version. Everything is
hashed from a canonical JSON form (sorted keys).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

import scanner
from scanner.listing import Listing

LISTING_FIELDS = tuple(Listing.model_fields)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def canonical_listing(data: dict[str, Any]) -> bytes:
    """The contract fields of a raw listing dict (or a model_dump), empty values dropped."""
    # empty lists and mappings say nothing; an empty string (a blank title) does
    kept = {k: v for k in LISTING_FIELDS
            if (v := data.get(k)) is not None and (v or not isinstance(v, (list, dict)))}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def raw_digest(line: bytes) -> str:
    """Digest of a source line's bytes, its end of line aside (see ListingRow.raw_digest)."""
    return _digest(line.rstrip(b"\r\n"))


def fingerprint_bytes(canonical: bytes) -> str:
    return _digest(canonical)


def listing_fingerprint(data: dict[str, Any] | Listing) -> str:
    if isinstance(data, Listing):
        data = data.model_dump()
    return _digest(canonical_listing(data))


def pack_content(data: dict[str, Any] | Listing) -> bytes:
    if isinstance(data, Listing):
        data = data.model_dump()
    return pack_canonical(canonical_listing(data))


def pack_canonical(canonical: bytes) -> bytes:
    """The stored form of a listing's canonical bytes."""
    return zlib.compress(canonical, 1)


def fingerprint_and_content(data: dict[str, Any]) -> tuple[str, bytes]:
    """listing_fingerprint and pack_content of a raw listing dict, canonicalised once."""
    canonical = canonical_listing(data)
    return fingerprint_bytes(canonical), pack_canonical(canonical)


def unpack_content(blob: bytes) -> dict[str, Any]:
    return orjson.loads(zlib.decompress(blob))


def certificate_digest(data: dict[str, Any]) -> str:
    return _digest(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


def as_of_relation(data: dict[str, Any], as_of: dt.date) -> str:
    """How the as-of date relates to a certificate's dates: a verdict can depend on as_of through
    these only, so a sweep must rescan when one of them flips (a licence expires, a year turns)."""
    def cmp(a, b) -> int:
        return (a > b) - (a < b)
    start, until = data.get("valid_from"), data.get("valid_until")
    out = ["" if start is None else str(int(as_of >= dt.date.fromisoformat(str(start)))),
           "" if until is None else str(int(as_of <= dt.date.fromisoformat(str(until))))]
    year = data.get("registration_year")
    out.append("" if year is None else str(cmp(int(year), as_of.year)))
    return ",".join(out)


def rules_in_effect(rules: Iterable[Any], as_of: dt.date) -> str:
    """Digest of the rule ids whose effective date has come: part of every scan key."""
    return set_digest(r.id for r in rules if getattr(r, "effective", None) is None or r.effective <= as_of)


def versions_key(ruleset_version: str, rules: Iterable[Any], as_of: dt.date, fda_digest: str,
                 model_version: str) -> tuple[str, str]:
    """(ruleset part, model part) of every scan key as of a date."""
    return f"{ruleset_version}#{rules_in_effect(rules, as_of)}#{fda_digest}#{scanner.ENGINE_VERSION}", model_version


def set_digest(parts: Iterable[str]) -> str:
    """Order-free digest of a set of digests or ids ('' for the empty set)."""
    items = sorted(parts)
    return _digest("\n".join(items).encode()) if items else ""


def scan_key(fingerprint: str, certificates: str, exceptions: str, ruleset_version: str,
             model_version: str) -> str:
    return scan_key_with(fingerprint, scan_key_tail(certificates, exceptions, ruleset_version, model_version))


def scan_key_tail(certificates: str, exceptions: str, ruleset_version: str, model_version: str) -> str:
    """The parts of a scan key that one merchant's listings share (a sweep computes it once)."""
    return f"\x1f{certificates}\x1f{exceptions}\x1f{ruleset_version}\x1f{model_version}"


def scan_key_with(fingerprint: str, tail: str) -> str:
    return _digest((fingerprint + tail).encode())


def outcome_key(decision: str, blocked_markets: Iterable[str], findings: Iterable[tuple]) -> str:
    """What counts as 'the outcome' for verdict history: decision, markets, and per-rule results."""
    return _digest(orjson.dumps([decision, sorted(blocked_markets), sorted(findings)]))
