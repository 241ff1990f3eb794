"""review app: users, sessions, flag claims, the ranked queue and the append-only audit log

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# The models are defined by the review app; importing them puts them on the store's metadata,
# so the store's migrations-match-models check sees these tables.
import scanner.review.models  # noqa: F401

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('review_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=400), nullable=False),
    sa.Column('before', JSON, nullable=True),
    sa.Column('after', JSON, nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_audit'))
    )
    op.create_index(op.f('ix_review_audit_flag_id'), 'review_audit', ['flag_id'], unique=False)
    op.create_table('review_users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_login', sa.DateTime(), nullable=True),
    sa.CheckConstraint("role IN ('reviewer', 'admin')", name='ck_review_users_role'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_users')),
    sa.UniqueConstraint('username', name=op.f('uq_review_users_username'))
    )
    op.create_table('review_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['review_users.id'], name=op.f('fk_review_sessions_user_id_review_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_review_sessions'))
    )
    op.create_index(op.f('ix_review_sessions_user_id'), 'review_sessions', ['user_id'], unique=False)
    op.create_table('review_claims',
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['review_flags.id'], name=op.f('fk_review_claims_flag_id_review_flags')),
    sa.PrimaryKeyConstraint('flag_id', name=op.f('pk_review_claims'))
    )
    op.create_table('review_queue',
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.String(length=200), nullable=False),
    sa.Column('merchant_id', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('family', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('grade', sa.String(length=4), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('detectors', sa.String(length=200), nullable=False),
    sa.Column('markets', sa.Text(), nullable=False),
    sa.Column('rank_key', sa.Float(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['review_flags.id'], name=op.f('fk_review_queue_flag_id_review_flags')),
    sa.PrimaryKeyConstraint('flag_id', name=op.f('pk_review_queue'))
    )
    op.create_index(op.f('ix_review_queue_merchant_id'), 'review_queue', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_review_queue_rule'), 'review_queue', ['rule'], unique=False)
    op.create_index('ix_review_queue_rank', 'review_queue', ['rank_key', 'opened_at', 'flag_id'], unique=False)
    _append_only()


def _append_only() -> None:
    """The audit log refuses UPDATE and DELETE in the database itself."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE FUNCTION review_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'review_audit is append-only'; END $$")
        op.execute("CREATE TRIGGER review_audit_no_change BEFORE UPDATE OR DELETE ON review_audit "
                   "FOR EACH ROW EXECUTE FUNCTION review_audit_append_only()")
    else:
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER review_audit_no_{event.lower()} BEFORE {event} ON review_audit "
                       "BEGIN SELECT RAISE(ABORT, 'review_audit is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS review_audit_no_change ON review_audit")
        op.execute("DROP FUNCTION IF EXISTS review_audit_append_only()")
    op.drop_index('ix_review_queue_rank', table_name='review_queue')
    op.drop_index(op.f('ix_review_queue_rule'), table_name='review_queue')
    op.drop_index(op.f('ix_review_queue_merchant_id'), table_name='review_queue')
    op.drop_table('review_queue')
    op.drop_table('review_claims')
    op.drop_index(op.f('ix_review_sessions_user_id'), table_name='review_sessions')
    op.drop_table('review_sessions')
    op.drop_table('review_users')
    op.drop_index(op.f('ix_review_audit_flag_id'), table_name='review_audit')
    op.drop_table('review_audit')
