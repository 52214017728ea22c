"""throttle, don't lock: login throttles replace per-account lockout counters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 06:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_allowed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_next_allowed_at'), ['next_allowed_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('lockouts')
        batch_op.drop_column('failed_logins')
    # A lock set by the old failure counter is not a duress lock: lift it (duress locks are
    # set far in the future, in year 9999, and stay).
    op.execute("UPDATE users SET locked_until = NULL WHERE locked_until < '9000-01-01'")


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('lockouts', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_next_allowed_at'))
    op.drop_table('login_throttles')
