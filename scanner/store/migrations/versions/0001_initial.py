"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 02:48:24.101134
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('certificates',
    sa.Column('certificate_id', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_id', name=op.f('pk_certificates'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('fda_classification',
    sa.Column('product_code', sa.String(length=16), nullable=False),
    sa.Column('device_name', sa.Text(), nullable=False),
    sa.Column('device_class', sa.String(length=32), nullable=False),
    sa.Column('regulation_number', sa.String(length=32), nullable=True),
    sa.Column('medical_specialty', sa.String(length=64), nullable=True),
    sa.Column('submission_type', sa.String(length=64), nullable=True),
    sa.Column('definition', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('product_code', name=op.f('pk_fda_classification'))
    )
    op.create_table('listings',
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('scan_key', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('outcome_key', sa.String(length=64), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('listing_id', name=op.f('pk_listings'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listings_decision'), ['decision'], unique=False)
        batch_op.create_index(batch_op.f('ix_listings_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('lookup_cache',
    sa.Column('namespace', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('namespace', 'key', name=op.f('pk_lookup_cache'))
    )
    op.create_table('penalty_ledger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('charged_at', sa.DateTime(), nullable=False),
    sa.Column('reversed_at', sa.DateTime(), nullable=True),
    sa.Column('reversed_by', sa.String(length=200), nullable=True),
    sa.Column('reversal_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_ledger')),
    sa.UniqueConstraint('listing_id', 'rule', name=op.f('uq_penalty_ledger_listing_id_rule'))
    )
    with op.batch_alter_table('penalty_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalty_ledger_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('rule_exceptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('market', sa.String(length=8), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('starts', sa.Date(), nullable=False),
    sa.Column('expires', sa.Date(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_exceptions'))
    )
    with op.batch_alter_table('rule_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_exceptions_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('sweep_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('engine', sa.String(length=16), nullable=False),
    sa.Column('ruleset_version', sa.String(length=100), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('chunk_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sweep_runs'))
    )
    with op.batch_alter_table('sweep_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sweep_runs_run_key'), ['run_key'], unique=False)

    op.create_table('review_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed', 'escalated')", name='ck_review_flags_status'),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.listing_id'], name=op.f('fk_review_flags_listing_id_listings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_flags'))
    )
    with op.batch_alter_table('review_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_flags_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index('uq_review_flags_open', ['listing_id', 'rule'], unique=True, sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))

    op.create_table('sweep_checkpoints',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sweep_runs.id'], name=op.f('fk_sweep_checkpoints_run_id_sweep_runs')),
    sa.PrimaryKeyConstraint('run_id', 'chunk', name=op.f('pk_sweep_checkpoints'))
    )
    op.create_table('sweep_quarantine',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['sweep_runs.id'], name=op.f('fk_sweep_quarantine_run_id_sweep_runs')),
    sa.PrimaryKeyConstraint('run_id', 'line', name=op.f('pk_sweep_quarantine'))
    )
    op.create_table('verdicts',
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('blocked_markets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('ruleset_version', sa.String(length=100), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('outcome_key', sa.String(length=64), nullable=False),
    sa.Column('notes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.listing_id'], name=op.f('fk_verdicts_listing_id_listings')),
    sa.PrimaryKeyConstraint('listing_id', 'seq', name=op.f('pk_verdicts'))
    )
    op.create_table('findings',
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('grade', sa.String(length=4), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('blocked_markets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('excepted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['listing_id', 'seq'], ['verdicts.listing_id', 'verdicts.seq'], name='fk_findings_verdicts'),
    sa.PrimaryKeyConstraint('listing_id', 'seq', 'idx', name=op.f('pk_findings'))
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_rule'), ['rule'], unique=False)

    op.create_table('reviewer_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['review_flags.id'], name=op.f('fk_reviewer_decisions_flag_id_review_flags')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewer_decisions'))
    )
    with op.batch_alter_table('reviewer_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviewer_decisions_flag_id'), ['flag_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('reviewer_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviewer_decisions_flag_id'))

    op.drop_table('reviewer_decisions')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_findings_rule'))

    op.drop_table('findings')
    op.drop_table('verdicts')
    op.drop_table('sweep_quarantine')
    op.drop_table('sweep_checkpoints')
    with op.batch_alter_table('review_flags', schema=None) as batch_op:
        batch_op.drop_index('uq_review_flags_open', sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_review_flags_listing_id'))

    op.drop_table('review_flags')
    with op.batch_alter_table('sweep_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sweep_runs_run_key'))

    op.drop_table('sweep_runs')
    with op.batch_alter_table('rule_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_exceptions_merchant_id'))

    op.drop_table('rule_exceptions')
    with op.batch_alter_table('penalty_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_penalty_ledger_merchant_id'))

    op.drop_table('penalty_ledger')
    op.drop_table('lookup_cache')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_listings_decision'))

    op.drop_table('listings')
    op.drop_table('fda_classification')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_merchant_id'))

    op.drop_table('certificates')
    
