"""drive updates: news posted on a drive, and donors' consent to get it by email

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drive_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=36), nullable=False),
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_emailed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drives.id'], name=op.f('fk_drive_updates_drive_id_drives'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drive_updates')),
    sa.UniqueConstraint('public_id', name=op.f('uq_drive_updates_public_id'))
    )
    with op.batch_alter_table('drive_updates', schema=None) as batch_op:
        batch_op.create_index('ix_drive_updates_drive_posted', ['drive_id', 'posted_at'], unique=False)

    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updates_consented_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updates_withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_column('updates_withdrawn_at')
        batch_op.drop_column('updates_consented_at')

    with op.batch_alter_table('drive_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_drive_updates_drive_posted')
    op.drop_table('drive_updates')
