"""drive translations: a drive's title and story, and its updates, in other languages

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-14 10:00:00.000000

One row per drive (or update) and language: the primary key (drive_id, locale) keeps one
translation per language. Drives are written in English, so English has no rows; which
languages may have them is the app's rule (security/locales.py), not the schema's, so a new
language needs no migration.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drive_translations',
    sa.Column('drive_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('story', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drive_id'], ['drives.id'], name=op.f('fk_drive_translations_drive_id_drives'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('drive_id', 'locale', name=op.f('pk_drive_translations'))
    )
    op.create_table('update_translations',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['update_id'], ['drive_updates.id'], name=op.f('fk_update_translations_update_id_drive_updates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('update_id', 'locale', name=op.f('pk_update_translations'))
    )


def downgrade():
    op.drop_table('update_translations')
    op.drop_table('drive_translations')
