"""API keys: a random token printed once; only its SHA-256 is stored (table `api_keys`).

The model lives on the store's metadata so the store's migration check sees it; the table itself
is created by the migration scanner/store/migrations/versions/0002_api_keys.py. Keep this module
free of web imports: that migration imports it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scanner.store.models import Base

SCOPES = ("scan", "certificates", "admin")
PREFIX = "lcs_"            # marks a scanner key in logs and secret scanners
SHOWN_CHARS = 12           # the part of a key kept in clear to tell keys apart


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    __table_args__ = (sa.CheckConstraint("scope IN ('scan', 'certificates', 'admin')", name="ck_api_keys_scope"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    shown: Mapped[str] = mapped_column(sa.String(16))
    rate_limit: Mapped[int | None] = mapped_column(sa.Integer)   # per minute; NULL: the service default
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


T = ApiKeyRow.__table__


class ApiKeyError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    scope: str
    rate_limit: int | None

    def allows(self, scope: str) -> bool:
        return self.scope == "admin" or self.scope == scope


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def create_key(engine: sa.Engine, name: str, scope: str, rate_limit: int | None = None) -> tuple[int, str]:
    """Create a key; returns (id, token). The token is not stored and cannot be shown again."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ApiKeyError("api key: field 'name' must be 1-200 characters")
    if scope not in SCOPES:
        raise ApiKeyError(f"api key: field 'scope' must be one of {', '.join(SCOPES)}, got {scope!r}")
    if rate_limit is not None and rate_limit < 0:
        raise ApiKeyError("api key: field 'rate_limit' must be >= 0")
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        key_id = conn.execute(T.insert().values(
            name=name.strip(), scope=scope, key_hash=hash_key(token), shown=token[:SHOWN_CHARS],
            rate_limit=rate_limit, created_at=_now()).returning(T.c.id)).scalar_one()
    return key_id, token


def revoke_key(engine: sa.Engine, ident: str) -> int:
    """Revoke by id or by name (every active key of that name); returns how many were revoked."""
    cond = T.c.id == int(ident) if ident.isdigit() else T.c.name == ident
    with engine.begin() as conn:
        return conn.execute(T.update().where(cond, T.c.revoked_at.is_(None)).values(revoked_at=_now())).rowcount


def list_keys(engine: sa.Engine) -> list[dict]:
    cols = [T.c.id, T.c.name, T.c.scope, T.c.shown, T.c.rate_limit, T.c.created_at, T.c.revoked_at]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(*cols).order_by(T.c.id))]


def find_key(engine: sa.Engine, token: str) -> ApiKey | None:
    """The active key for this token, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(T.c.id, T.c.name, T.c.scope, T.c.rate_limit)
                           .where(T.c.key_hash == hash_key(token), T.c.revoked_at.is_(None))).first()
    return None if row is None else ApiKey(*row)
