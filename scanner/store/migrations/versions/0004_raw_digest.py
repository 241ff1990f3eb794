"""listings.raw_digest: the digest of the JSONL line a listing was last read from, so that a
sweep knows a byte-identical line unchanged without parsing it

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_digest', sa.String(length=32), nullable=True))
        # covering Store.raw_state's columns
        batch_op.create_index('ix_listings_raw_digest', ['raw_digest', 'listing_id', 'merchant_id', 'fingerprint',
                                                         'scan_key', 'decision'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_raw_digest')
        batch_op.drop_column('raw_digest')
