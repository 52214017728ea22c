"""audit verifications: the outcome of each `audit verify` run, for /metrics

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-15 10:00:00.000000

One row per run (time, intact or not, records checked): the newest is the audit_chain_ok
gauge every app host reports. A few hundred rows a year; nothing personal.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_intact', sa.Boolean(), nullable=False),
    sa.Column('records_checked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications'))
    )


def downgrade():
    op.drop_table('audit_verifications')
