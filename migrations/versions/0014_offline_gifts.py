"""offline gifts: bank transfers, cheques, cash and card payments arranged by hand

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00.000000

A gift outside Stripe is a donation with its method (every existing donation came through
Stripe), so the drive's totals, charts and exports count it the one way they count card gifts;
`offline_gifts` keeps what finance records beside it: the date received, the reference (sealed),
who recorded it and who reversed it. The downgrade drops both: gifts recorded outside Stripe
stay as donations, counted, but the older code takes them for card gifts.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

GIFT_METHOD = sa.Enum(
    'stripe', 'bank_transfer', 'cheque', 'cash', 'card_by_hand', name='gift_method'
)


def upgrade():
    # add_column does not create a PostgreSQL enum type the way create_table does.
    GIFT_METHOD.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('method', GIFT_METHOD, server_default='stripe', nullable=False)
        )
    op.create_table('offline_gifts',
    sa.Column('donation_id', sa.String(length=36), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('reference_sealed', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reversed_by_id', sa.Integer(), nullable=True),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reversal_reason_sealed', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_offline_gifts_donation_id_donations')),
    sa.ForeignKeyConstraint(['drive_id'], ['drives.id'], name=op.f('fk_offline_gifts_drive_id_drives')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_offline_gifts_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reversed_by_id'], ['users.id'], name=op.f('fk_offline_gifts_reversed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('donation_id', name=op.f('pk_offline_gifts'))
    )
    with op.batch_alter_table('offline_gifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offline_gifts_drive_id'), ['drive_id'], unique=False)


def downgrade():
    with op.batch_alter_table('offline_gifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offline_gifts_drive_id'))
    op.drop_table('offline_gifts')
    if op.get_bind().dialect.name == 'sqlite':
        # Batch mode would rebuild donations (copy, drop, rename), and SQLite's foreign keys
        # refuse to drop a table that balance lines reference; SQLite 3.35+ drops a plain column
        # in place.
        op.execute('ALTER TABLE donations DROP COLUMN method')
    else:
        op.drop_column('donations', 'method')
    GIFT_METHOD.drop(op.get_bind(), checkfirst=True)
