"""key generations: the key-encryption keys held in the PKCS#11 token

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('key_generations',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_generations'))
    )
    with op.batch_alter_table('key_generations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_generations_superseded_at'), ['superseded_at'], unique=False)


def downgrade():
    with op.batch_alter_table('key_generations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_generations_superseded_at'))
    op.drop_table('key_generations')
