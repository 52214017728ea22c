"""duplicate referrals for admins' review, and intake pauses

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 05:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_duplicate_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('matched_case_id', sa.String(length=36), nullable=True),
    sa.Column('kinds', sa.String(length=32), nullable=False),
    sa.Column('found_by_id', sa.Integer(), nullable=True),
    sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_duplicate_reviews_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['matched_case_id'], ['cases.id'], name=op.f('fk_case_duplicate_reviews_matched_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['found_by_id'], ['users.id'], name=op.f('fk_case_duplicate_reviews_found_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_case_duplicate_reviews_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_duplicate_reviews'))
    )
    with op.batch_alter_table('case_duplicate_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_duplicate_reviews_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_duplicate_reviews_found_by_id'), ['found_by_id'], unique=False)

    op.create_table('case_intake_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_intake_pauses_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_case_intake_pauses_lifted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_intake_pauses'))
    )
    with op.batch_alter_table('case_intake_pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_intake_pauses_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_intake_pauses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_intake_pauses_user_id'))
    op.drop_table('case_intake_pauses')
    with op.batch_alter_table('case_duplicate_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_duplicate_reviews_found_by_id'))
        batch_op.drop_index(batch_op.f('ix_case_duplicate_reviews_case_id'))
    op.drop_table('case_duplicate_reviews')
