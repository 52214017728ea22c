"""public spending as monthly snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spending_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('people_relocated', sa.Integer(), nullable=True),
    sa.Column('people_cases', sa.Integer(), nullable=False),
    sa.Column('people_through', sa.Date(), nullable=True),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drives.id'], name=op.f('fk_spending_snapshots_drive_id_drives'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spending_snapshots')),
    sa.UniqueConstraint('drive_id', 'month', name=op.f('uq_spending_snapshots_drive_id'))
    )
    op.create_table('spending_snapshot_lines',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    # The category type exists already (disbursements.category): the new column shares it.
    sa.Column('category', postgresql.ENUM('flight', 'visa_documents', 'housing', 'subsistence', 'medical', 'other', name='disbursement_category', create_type=False), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('through', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['spending_snapshots.id'], name=op.f('fk_spending_snapshot_lines_snapshot_id_spending_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'category', name=op.f('pk_spending_snapshot_lines'))
    )


def downgrade():
    op.drop_table('spending_snapshot_lines')
    op.drop_table('spending_snapshots')
