"""case tasks: what to do next on a case, by a date, written by hand or made by the app

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-16 10:00:00.000000

Numbered 0021: 0020 (audit verifications) was written at the same time, by another hand.

A written task's title is ciphertext under the case's data key; an automatic task (verify the
referral, renew an expiring document) keeps only its kind and its document, and its title is
translated when shown.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TASK_KINDS = ('written', 'verify_referral', 'document_expiry')


def upgrade():
    op.create_table('case_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.Enum(*TASK_KINDS, name='case_task_kind'), nullable=False),
    sa.Column('title_enc', sa.LargeBinary(), nullable=True),
    sa.Column('document_id', sa.String(length=36), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind != 'written' OR title_enc IS NOT NULL", name=op.f('ck_case_tasks_written_has_title')),
    sa.CheckConstraint("kind != 'document_expiry' OR document_id IS NOT NULL", name=op.f('ck_case_tasks_expiry_has_document')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_tasks_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['case_documents.id'], name=op.f('fk_case_tasks_document_id_case_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_case_tasks_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_tasks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_case_tasks_done_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_tasks'))
    )
    with op.batch_alter_table('case_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_tasks_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_tasks_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_tasks_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_tasks_assignee_id'), ['assignee_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_tasks_assignee_id'))
        batch_op.drop_index(batch_op.f('ix_case_tasks_due_on'))
        batch_op.drop_index(batch_op.f('ix_case_tasks_document_id'))
        batch_op.drop_index(batch_op.f('ix_case_tasks_case_id'))

    op.drop_table('case_tasks')
    sa.Enum(name='case_task_kind').drop(op.get_bind(), checkfirst=True)
