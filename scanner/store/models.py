"""The store's tables (SQLAlchemy 2 declarative). The schema itself is created by the
Alembic migrations in scanner/store/migrations; a test checks the two agree."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = sa.String(200)
RULE = sa.String(200)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ListingRow(Base):
    """One row per listing ever seen: its current state and the key that makes sweeps incremental."""

    __tablename__ = "listings"
    listing_id: Mapped[str] = mapped_column(ID, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ID, index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))   # content only
    scan_key: Mapped[str] = mapped_column(sa.String(64))      # content + certificates + versions + exceptions
    seq: Mapped[int] = mapped_column(sa.Integer, default=0)   # last verdict history row
    outcome_key: Mapped[str | None] = mapped_column(sa.String(64))
    decision: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # zlib(JSON): for certificate re-scans
    # digest of the source line this content was last read from (JSONL sweeps): a byte-identical
    # line is known unchanged without being parsed; NULL when the content came from elsewhere
    raw_digest: Mapped[str | None] = mapped_column(sa.String(32))
    first_seen: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(sa.DateTime)

    # covers Store.raw_state's columns: the digests come in random order, and reading each
    # listing's row (with its content) as well took twice as long
    __table_args__ = (sa.Index("ix_listings_raw_digest", "raw_digest", "listing_id", "merchant_id", "fingerprint",
                               "scan_key", "decision"),)


class VerdictRow(Base):
    """Verdict history: a row whenever a listing's outcome changes (and the first time)."""

    __tablename__ = "verdicts"
    listing_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("listings.listing_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    decision: Mapped[str] = mapped_column(sa.String(16))
    blocked_markets: Mapped[list] = mapped_column(JSON)
    points: Mapped[int] = mapped_column(sa.Integer)
    ruleset_version: Mapped[str] = mapped_column(sa.String(100))
    model_version: Mapped[str] = mapped_column(sa.String(200))
    as_of: Mapped[dt.date] = mapped_column(sa.Date)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    outcome_key: Mapped[str] = mapped_column(sa.String(64))
    notes: Mapped[list] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (
        sa.ForeignKeyConstraint(["listing_id", "seq"], ["verdicts.listing_id", "verdicts.seq"],
                                name="fk_findings_verdicts"),
    )
    listing_id: Mapped[str] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(RULE, index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    grade: Mapped[str | None] = mapped_column(sa.String(4))
    points: Mapped[int] = mapped_column(sa.Integer)
    blocked_markets: Mapped[list] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(sa.Float)
    reason: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[list] = mapped_column(JSON)
    excepted_by: Mapped[int | None] = mapped_column(sa.Integer)  # rule_exceptions.id when snoozed


class ReviewFlag(Base):
    """A finding a person must look at. At most one unresolved flag per listing + rule."""

    __tablename__ = "review_flags"
    __table_args__ = (
        sa.Index("uq_review_flags_open", "listing_id", "rule", unique=True,
                 sqlite_where=sa.text("resolved_at IS NULL"),
                 postgresql_where=sa.text("resolved_at IS NULL")),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed', 'escalated')",
                           name="ck_review_flags_status"),
    )
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("listings.listing_id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ID)
    rule: Mapped[str] = mapped_column(RULE)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    seq: Mapped[int] = mapped_column(sa.Integer)         # the verdict that opened it
    reason: Mapped[str] = mapped_column(sa.Text)
    opened_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)


class ReviewerDecision(Base):
    __tablename__ = "reviewer_decisions"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("review_flags.id"), index=True)
    reviewer: Mapped[str] = mapped_column(ID)
    decision: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    decided_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class PenaltyCharge(Base):
    """The penalty ledger: one charge per listing + rule, ever (a UNIQUE constraint, not a check)."""

    __tablename__ = "penalty_ledger"
    __table_args__ = (sa.UniqueConstraint("listing_id", "rule"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[str] = mapped_column(ID)
    merchant_id: Mapped[str] = mapped_column(ID, index=True)
    rule: Mapped[str] = mapped_column(RULE)
    points: Mapped[int] = mapped_column(sa.Integer)
    seq: Mapped[int] = mapped_column(sa.Integer)
    charged_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    reversed_by: Mapped[str | None] = mapped_column(ID)
    reversal_reason: Mapped[str | None] = mapped_column(sa.Text)


class CertificateRow(Base):
    __tablename__ = "certificates"
    certificate_id: Mapped[str] = mapped_column(ID, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ID, index=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class CacheEntry(Base):
    __tablename__ = "lookup_cache"
    namespace: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class FdaClassification(Base):
    __tablename__ = "fda_classification"
    product_code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    device_name: Mapped[str] = mapped_column(sa.Text)
    device_class: Mapped[str] = mapped_column(sa.String(32))
    regulation_number: Mapped[str | None] = mapped_column(sa.String(32))
    medical_specialty: Mapped[str | None] = mapped_column(sa.String(64))
    submission_type: Mapped[str | None] = mapped_column(sa.String(64))
    definition: Mapped[str | None] = mapped_column(sa.Text)


class RuleException(Base):
    """A snooze: rule + merchant (optionally one market), with reason, author and expiry."""

    __tablename__ = "rule_exceptions"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(RULE)
    merchant_id: Mapped[str] = mapped_column(ID, index=True)
    market: Mapped[str | None] = mapped_column(sa.String(8))
    reason: Mapped[str] = mapped_column(sa.Text)
    author: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    starts: Mapped[dt.date] = mapped_column(sa.Date)
    expires: Mapped[dt.date] = mapped_column(sa.Date)      # last day it applies
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)


class SweepRun(Base):
    __tablename__ = "sweep_runs"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(sa.String(64), index=True)  # source + versions + as-of + mode
    source: Mapped[str] = mapped_column(sa.Text)
    mode: Mapped[str] = mapped_column(sa.String(16))                 # live | shadow
    engine: Mapped[str] = mapped_column(sa.String(16))
    ruleset_version: Mapped[str] = mapped_column(sa.String(100))
    model_version: Mapped[str] = mapped_column(sa.String(200))
    as_of: Mapped[dt.date] = mapped_column(sa.Date)
    chunk_size: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))               # running | done
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    summary: Mapped[dict | None] = mapped_column(JSON)


class SweepCheckpoint(Base):
    """A chunk of a run, committed in the same transaction as its verdicts."""

    __tablename__ = "sweep_checkpoints"
    run_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("sweep_runs.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    records: Mapped[int] = mapped_column(sa.Integer)
    counts: Mapped[dict] = mapped_column(JSON)
    done_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)


class QuarantineRow(Base):
    __tablename__ = "sweep_quarantine"
    run_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("sweep_runs.id"), primary_key=True)
    line: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
