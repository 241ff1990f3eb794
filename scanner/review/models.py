"""The review app's tables, on the store's metadata (created by migration 0003_review).
Keep this module free of web imports: the migration imports it."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from scanner.store.models import ID, JSON, RULE, Base

ROLES = ("reviewer", "admin")


class ReviewUser(Base):
    __tablename__ = "review_users"
    __table_args__ = (sa.CheckConstraint("role IN ('reviewer', 'admin')", name="ck_review_users_role"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))          # argon2id
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    last_login: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


class ReviewSession(Base):
    """A login session; only a SHA-256 of the cookie's token is stored."""

    __tablename__ = "review_sessions"
    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("review_users.id"), index=True)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class ReviewClaim(Base):
    """Who holds a flag, until when: one row per flag, taken over only once it has expired."""

    __tablename__ = "review_claims"
    flag_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("review_flags.id"), primary_key=True)
    reviewer: Mapped[str] = mapped_column(ID)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class ReviewQueueRow(Base):
    """The ranking facts of each flag (from the finding that opened it), indexed for the queue page."""

    __tablename__ = "review_queue"
    __table_args__ = (sa.Index("ix_review_queue_rank", "rank_key", "opened_at", "flag_id"),)
    flag_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("review_flags.id"), primary_key=True)
    listing_id: Mapped[str] = mapped_column(ID)
    merchant_id: Mapped[str] = mapped_column(ID, index=True)
    rule: Mapped[str] = mapped_column(RULE, index=True)
    family: Mapped[str] = mapped_column(sa.String(100))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    grade: Mapped[str | None] = mapped_column(sa.String(4))
    points: Mapped[int] = mapped_column(sa.Integer)
    confidence: Mapped[float] = mapped_column(sa.Float)
    detectors: Mapped[str] = mapped_column(sa.String(200))   # " keyword ml " (space-delimited)
    markets: Mapped[str] = mapped_column(sa.Text)            # " * " or " US EU "
    rank_key: Mapped[float] = mapped_column(sa.Float)      # -risk: the queue reads the index ascending
    opened_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class AuditEntry(Base):
    """Append-only (triggers refuse UPDATE and DELETE): who did what, when, before and after."""

    __tablename__ = "review_audit"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    actor: Mapped[str] = mapped_column(ID)
    action: Mapped[str] = mapped_column(sa.String(32))
    flag_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    target: Mapped[str] = mapped_column(sa.String(400))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(sa.Text)


USERS, SESSIONS, CLAIMS = ReviewUser.__table__, ReviewSession.__table__, ReviewClaim.__table__
QUEUE, AUDIT = ReviewQueueRow.__table__, AuditEntry.__table__
