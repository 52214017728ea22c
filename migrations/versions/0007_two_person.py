"""two people for every grant of access (pending role changes)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        # The role type exists already (users.role): the new column shares it.
        batch_op.add_column(sa.Column('pending_role', sa.Enum('admin', 'caseworker', 'finance', name='staff_role'), nullable=True))
        batch_op.add_column(sa.Column('role_requested_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('role_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_role_requested_by_id_users'), 'users', ['role_requested_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_role_requested_by_id_users'), type_='foreignkey')
        batch_op.drop_column('role_requested_at')
        batch_op.drop_column('role_requested_by_id')
        batch_op.drop_column('pending_role')
