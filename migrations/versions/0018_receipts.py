"""receipts: numbered receipts the app emails for gifts, and the donor's language

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 10:00:00.000000

`receipt_counters` holds the next number of the organisation's receipt sequence (one row,
`receipts`, starting at 1: an organisation continuing a paper series sets `next_value` to
where it stands before the first gift). `receipts` keeps one receipt per donation.
`donations.locale` is the language the donor gave in (older gifts: none, so English).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    counters = op.create_table('receipt_counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('next_value', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('next_value > 0', name=op.f('ck_receipt_counters_next_value_positive')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_receipt_counters'))
    )
    op.bulk_insert(counters, [{'name': 'receipts', 'next_value': 1}])
    op.create_table('receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donation_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_receipts_donation_id_donations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('donation_id', name=op.f('uq_receipts_donation_id')),
    sa.UniqueConstraint('number', name=op.f('uq_receipts_number'))
    )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    op.drop_table('receipts')
    op.drop_table('receipt_counters')
    if op.get_bind().dialect.name == 'sqlite':
        # As in 0014: batch mode would rebuild donations, which other tables reference;
        # SQLite 3.35+ drops a plain column in place.
        op.execute('ALTER TABLE donations DROP COLUMN locale')
    else:
        op.drop_column('donations', 'locale')
