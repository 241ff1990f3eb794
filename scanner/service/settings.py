"""Service settings, read once from the environment (operational limits, not policy)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from scanner import limits

RECORD_MODES = ("wait", "background", "off")


class SettingsError(ValueError):
    pass


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting from the environment, or `default`; a clear error names a bad one."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"setting {name}: not an integer: {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"setting {name}: must be >= {minimum}, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"setting {name}: not a number: {raw!r}") from None
    if value < 0:
        raise SettingsError(f"setting {name}: must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None          # SCANNER_DATABASE_URL (default: the store's default)
    rulesets_dir: str | None = None          # SCANNER_RULESETS
    models_dir: str | None = None            # SCANNER_MODELS
    max_body_bytes: int = 256 * 1024         # SCANNER_MAX_BODY_BYTES -> 413
    max_batch: int = 100                     # SCANNER_MAX_BATCH -> 422 on "listings"
    # per-field bounds -> 422 naming the field; the contract's own hard bounds (scanner.limits) still apply
    field_chars: dict[str, int] = field(default_factory=dict)
    max_text_chars: int = limits.CATEGORY_CHARS   # any other string (ids, keywords, attribute values, ...)
    max_items: int = limits.MAX_LIST_ITEMS        # keywords, image_texts, attributes, target_markets
    rate_limit: int = 60_000                 # SCANNER_RATE_LIMIT: requests per minute per key; 0 = off
    rate_burst: int = 0                      # SCANNER_RATE_BURST: bucket size; 0 = one minute's worth
    cache_seconds: float = 5.0               # SCANNER_CACHE_SECONDS: keys, certificates, exceptions
    record: str = "background"               # SCANNER_RECORD: background | wait | off (README in this package)
    record_queue: int = 10_000               # SCANNER_RECORD_QUEUE: verdicts waiting for the store -> else 503
    record_linger: float = 0.005             # seconds (SCANNER_RECORD_LINGER_MS in ms): background commits gather
    scan_threads: int = 2                    # SCANNER_SCAN_THREADS: scans and store calls off the event loop
    scan_batch: int = 64                     # SCANNER_SCAN_BATCH: most single scans scanned together
    batch_wait: float = 0.0                  # seconds (SCANNER_BATCH_WAIT_MS in ms): an idle scanner's wait for more

    @classmethod
    def from_env(cls) -> Settings:
        record = os.environ.get("SCANNER_RECORD") or cls.record
        if record not in RECORD_MODES:
            raise SettingsError(f"setting SCANNER_RECORD: must be one of {RECORD_MODES}, got {record!r}")
        return cls(
            database_url=os.environ.get("SCANNER_DATABASE_URL") or None,
            rulesets_dir=os.environ.get("SCANNER_RULESETS") or None,
            models_dir=os.environ.get("SCANNER_MODELS") or None,
            max_body_bytes=env_int("SCANNER_MAX_BODY_BYTES", cls.max_body_bytes, 1024),
            max_batch=env_int("SCANNER_MAX_BATCH", cls.max_batch, 1),
            field_chars={
                "title": env_int("SCANNER_MAX_TITLE_CHARS", limits.TITLE_CHARS, 1),
                "description": env_int("SCANNER_MAX_DESCRIPTION_CHARS", limits.DESCRIPTION_CHARS, 1),
                "category": env_int("SCANNER_MAX_CATEGORY_CHARS", limits.CATEGORY_CHARS, 1),
                "listing_id": env_int("SCANNER_MAX_ID_CHARS", limits.ID_CHARS, 1),
                "merchant_id": env_int("SCANNER_MAX_ID_CHARS", limits.ID_CHARS, 1),
            },
            max_text_chars=env_int("SCANNER_MAX_TEXT_CHARS", cls.max_text_chars, 1),
            max_items=env_int("SCANNER_MAX_ITEMS", cls.max_items, 1),
            rate_limit=env_int("SCANNER_RATE_LIMIT", cls.rate_limit),
            rate_burst=env_int("SCANNER_RATE_BURST", cls.rate_burst),
            cache_seconds=_float("SCANNER_CACHE_SECONDS", cls.cache_seconds),
            record=record,
            record_queue=env_int("SCANNER_RECORD_QUEUE", cls.record_queue, 1),
            record_linger=_float("SCANNER_RECORD_LINGER_MS", cls.record_linger * 1000) / 1000,
            scan_threads=env_int("SCANNER_SCAN_THREADS", cls.scan_threads, 1),
            scan_batch=env_int("SCANNER_SCAN_BATCH", cls.scan_batch, 1),
            batch_wait=_float("SCANNER_BATCH_WAIT_MS", cls.batch_wait * 1000) / 1000,
        )

    def describe(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "database_url"}
