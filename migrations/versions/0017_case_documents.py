"""case documents: encrypted files per case, in chunks, each under a key of its own

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

DOCUMENT_KINDS = (
    'passport', 'national_id', 'visa', 'ticket', 'referral_letter', 'medical', 'other'
)


def upgrade():
    op.create_table('case_documents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.Enum(*DOCUMENT_KINDS, name='document_kind'), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('key_enc', sa.LargeBinary(), nullable=False),
    sa.Column('filename_enc', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('size > 0', name=op.f('ck_case_documents_size_positive')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_documents_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_case_documents_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_documents'))
    )
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_documents_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_documents_expires_on'), ['expires_on'], unique=False)

    op.create_table('case_document_chunks',
    sa.Column('document_id', sa.String(length=36), nullable=False),
    sa.Column('chunk_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['case_documents.id'], name=op.f('fk_case_document_chunks_document_id_case_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'chunk_index', name=op.f('pk_case_document_chunks'))
    )


def downgrade():
    op.drop_table('case_document_chunks')
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_documents_expires_on'))
        batch_op.drop_index(batch_op.f('ix_case_documents_case_id'))

    op.drop_table('case_documents')
    sa.Enum(name='document_kind').drop(op.get_bind(), checkfirst=True)
