"""Operational settings of the review app, read from the environment (not policy)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from scanner.service.settings import SettingsError, env_int

COOKIE_MODES = ("auto", "always", "never")


ReviewSettingsError = SettingsError


def _int(name: str, default: int, minimum: int = 1) -> int:
    return env_int(name, default, minimum)


@dataclass(frozen=True)
class ReviewSettings:
    max_failed_logins: int = 5          # SCANNER_REVIEW_MAX_FAILED_LOGINS: then the account locks
    lockout_seconds: int = 900          # SCANNER_REVIEW_LOCKOUT_SECONDS
    session_seconds: int = 12 * 3600    # SCANNER_REVIEW_SESSION_SECONDS
    claim_seconds: int = 600            # SCANNER_REVIEW_CLAIM_SECONDS: how long a reviewer holds a flag
    page_size: int = 50                 # SCANNER_REVIEW_PAGE_SIZE
    bulk_max: int = 1000                # SCANNER_REVIEW_BULK_MAX: flags one bulk decision may touch
    secure_cookies: str = "auto"        # SCANNER_REVIEW_SECURE_COOKIES: auto (when HTTPS) | always | never
    sync_seconds: float = 2.0           # SCANNER_REVIEW_SYNC_SECONDS: how often new flags join the queue
    max_reason_chars: int = 2000
    max_field_chars: int = 20000        # longest listing field shown on a flag page

    @classmethod
    def from_env(cls) -> ReviewSettings:
        secure = os.environ.get("SCANNER_REVIEW_SECURE_COOKIES", cls.secure_cookies)
        if secure not in COOKIE_MODES:
            raise ReviewSettingsError(f"setting SCANNER_REVIEW_SECURE_COOKIES: one of {COOKIE_MODES}, got {secure!r}")
        return cls(
            max_failed_logins=_int("SCANNER_REVIEW_MAX_FAILED_LOGINS", cls.max_failed_logins),
            lockout_seconds=_int("SCANNER_REVIEW_LOCKOUT_SECONDS", cls.lockout_seconds),
            session_seconds=_int("SCANNER_REVIEW_SESSION_SECONDS", cls.session_seconds),
            claim_seconds=_int("SCANNER_REVIEW_CLAIM_SECONDS", cls.claim_seconds),
            page_size=_int("SCANNER_REVIEW_PAGE_SIZE", cls.page_size),
            bulk_max=_int("SCANNER_REVIEW_BULK_MAX", cls.bulk_max),
            secure_cookies=secure,
            sync_seconds=_int("SCANNER_REVIEW_SYNC_SECONDS", 2, 0),
        )
