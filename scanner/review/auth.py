"""Accounts and sessions: argon2id password hashes, session tokens stored as SHA-256, a CSRF token
per session, lock-out after repeated failed logins."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scanner.review.models import ROLES, SESSIONS, USERS
from scanner.review.settings import ReviewSettings

HASHER = PasswordHasher()
MAX_USERNAME = 100
MIN_PASSWORD = 10
MAX_PASSWORD = 1000
# verified against when the user does not exist, so a missing account costs the same time
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
LOCKED = "this account is locked after repeated failed logins; try again later"


class AuthError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Session:
    token: str        # the cookie value (never stored)
    csrf: str
    user: User


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _check_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > MAX_USERNAME or not username.isprintable() or " " in username:
        raise AuthError(f"user {username[:MAX_USERNAME]!r}: field 'username': 1-{MAX_USERNAME} printable "
                        "characters without spaces")
    return username


def create_user(engine: sa.Engine, username: str, password: str, role: str) -> int:
    username = _check_username(username)
    if role not in ROLES:
        raise AuthError(f"user {username!r}: field 'role': must be one of {', '.join(ROLES)}")
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise AuthError(f"user {username!r}: field 'password': {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    with engine.begin() as conn:
        if conn.execute(sa.select(USERS.c.id).where(USERS.c.username == username)).first():
            raise AuthError(f"user {username!r}: field 'username': already exists")
        return conn.execute(USERS.insert().values(
            username=username, password_hash=HASHER.hash(password), role=role, created_at=utcnow(),
            failed_logins=0).returning(USERS.c.id)).scalar_one()


def set_disabled(engine: sa.Engine, username: str, disabled: bool) -> bool:
    with engine.begin() as conn:
        res = conn.execute(USERS.update().where(USERS.c.username == username)
                           .values(disabled_at=utcnow() if disabled else None))
        if disabled:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.user_id.in_(
                sa.select(USERS.c.id).where(USERS.c.username == username))))
    return res.rowcount == 1


def unlock(engine: sa.Engine, username: str) -> bool:
    with engine.begin() as conn:
        res = conn.execute(USERS.update().where(USERS.c.username == username)
                           .values(failed_logins=0, locked_until=None))
    return res.rowcount == 1


def list_users(engine: sa.Engine) -> list[dict]:
    cols = [USERS.c.id, USERS.c.username, USERS.c.role, USERS.c.created_at, USERS.c.disabled_at,
            USERS.c.failed_logins, USERS.c.locked_until, USERS.c.last_login]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(*cols).order_by(USERS.c.username))]


def login(engine: sa.Engine, settings: ReviewSettings, username: str, password: str,
          old_token: str | None = None) -> Session:
    """A new session (a fresh token: the session id always changes at login) or AuthError.
    The message never tells a wrong password from an unknown user; a locked account says so."""
    now = utcnow()
    username = username.strip()[:MAX_USERNAME]
    password = password[:MAX_PASSWORD]
    failure = None
    with engine.begin() as conn:       # a failure is committed first, then reported
        row = conn.execute(sa.select(USERS).where(USERS.c.username == username)).first()
        if row is None:
            _verify(_DUMMY_HASH, password)
            failure = "unknown user or wrong password"
        elif row.locked_until is not None and row.locked_until > now:
            failure = LOCKED
        elif not _verify(row.password_hash, password) or row.disabled_at is not None:
            failed = (row.failed_logins or 0) + 1
            locked = now + dt.timedelta(seconds=settings.lockout_seconds) \
                if failed >= settings.max_failed_logins else None
            conn.execute(USERS.update().where(USERS.c.id == row.id).values(
                failed_logins=0 if locked else failed, locked_until=locked))
            failure = LOCKED if locked else "unknown user or wrong password"
        else:
            values = {"failed_logins": 0, "locked_until": None, "last_login": now}
            if HASHER.check_needs_rehash(row.password_hash):
                values["password_hash"] = HASHER.hash(password)
            conn.execute(USERS.update().where(USERS.c.id == row.id).values(**values))
            if old_token:
                conn.execute(SESSIONS.delete().where(SESSIONS.c.token_hash == token_hash(old_token)))
            conn.execute(SESSIONS.delete().where(SESSIONS.c.expires_at < now))
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            conn.execute(SESSIONS.insert().values(
                token_hash=token_hash(token), user_id=row.id, csrf=csrf, created_at=now,
                expires_at=now + dt.timedelta(seconds=settings.session_seconds)))
    if failure:
        raise AuthError(failure)
    return Session(token, csrf, User(row.id, row.username, row.role))


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def session_for(engine: sa.Engine, token: str | None) -> Session | None:
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(SESSIONS.c.csrf, USERS.c.id, USERS.c.username, USERS.c.role)
            .join(USERS, USERS.c.id == SESSIONS.c.user_id)
            .where(SESSIONS.c.token_hash == token_hash(token), SESSIONS.c.expires_at > utcnow(),
                   USERS.c.disabled_at.is_(None))).first()
    return None if row is None else Session(token, row.csrf, User(row.id, row.username, row.role))


def logout(engine: sa.Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.token_hash == token_hash(token)))
