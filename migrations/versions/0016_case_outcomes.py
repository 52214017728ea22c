"""stages that fit the work: documents and settling stages, an outcome at closing, transit country

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 19:00:00.000000

Cases closed early as `declined` or `withdrawn` become `closed` with that outcome; cases closed
after arriving become `closed` / `relocated`. Their stage history is kept as written.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OUTCOMES = ('relocated', 'cash_assistance', 'referred_out', 'declined', 'withdrawn', 'lost_contact')


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # New values are usable once this transaction commits; nothing below uses them.
        op.execute("ALTER TYPE case_stage ADD VALUE IF NOT EXISTS 'documents' BEFORE 'funded'")
        op.execute("ALTER TYPE case_stage ADD VALUE IF NOT EXISTS 'settling' BEFORE 'closed'")
        sa.Enum(*OUTCOMES, name='case_outcome').create(bind, checkfirst=True)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.Enum(*OUTCOMES, name='case_outcome', create_type=False), nullable=True))
        batch_op.add_column(sa.Column('transit_country', sa.String(length=80), nullable=True))
    op.execute("UPDATE cases SET outcome = 'declined', stage = 'closed' WHERE stage = 'declined'")
    op.execute("UPDATE cases SET outcome = 'withdrawn', stage = 'closed' WHERE stage = 'withdrawn'")
    op.execute("UPDATE cases SET outcome = 'relocated' WHERE stage = 'closed' AND outcome IS NULL")


def downgrade():
    op.execute("UPDATE cases SET stage = 'declined' WHERE stage = 'closed' AND outcome = 'declined'")
    op.execute(
        "UPDATE cases SET stage = 'withdrawn' WHERE stage = 'closed' "
        "AND outcome IN ('withdrawn', 'lost_contact', 'referred_out', 'cash_assistance')"
    )
    # The old graph has no documents or settling stage: step back to the one before.
    op.execute("UPDATE cases SET stage = 'approved' WHERE stage = 'documents'")
    op.execute("UPDATE cases SET stage = 'arrived' WHERE stage = 'settling'")
    op.execute("UPDATE case_stage_changes SET to_stage = 'approved' WHERE to_stage = 'documents'")
    op.execute("UPDATE case_stage_changes SET from_stage = 'approved' WHERE from_stage = 'documents'")
    op.execute("UPDATE case_stage_changes SET to_stage = 'arrived' WHERE to_stage = 'settling'")
    op.execute("UPDATE case_stage_changes SET from_stage = 'arrived' WHERE from_stage = 'settling'")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('transit_country')
        batch_op.drop_column('outcome')
    if op.get_bind().dialect.name == 'postgresql':
        sa.Enum(name='case_outcome').drop(op.get_bind(), checkfirst=True)
        # PostgreSQL cannot drop values from an enum type: 'documents' and 'settling' stay.
