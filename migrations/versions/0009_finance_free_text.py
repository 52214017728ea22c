"""finance free text encrypted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 05:00:00.000000

Decision reasons, payment references and payout bank references were kept in clear, and a bank
reference often names the payee. Existing values are encrypted here, in place, with the keys
the app is configured with (`flask db upgrade` runs inside the app): a disbursement's text under
its case's data key, a payout's bank reference sealed under the master key. A purged case's text
is dropped, its key being gone. Everything is computed before the schema changes, so a wrong
CASE_MASTER_KEY stops the upgrade with nothing changed. The clear columns are then dropped.

The labels below are frozen copies of finance.free_text's (a revision keeps meaning what it
meant when written); the ciphers are security's versioned primitives. The downgrade opens the
values again for the older code, which kept them in clear.
"""
from alembic import op
import sqlalchemy as sa

from security import fields, sealing


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# (clear column, encrypted column, label, clear length in 0004)
DISBURSEMENT_FIELDS = (
    ('decision_reason', 'decision_reason_enc', 'decision-reason', 500),
    ('payment_reference', 'payment_reference_enc', 'payment-reference', 120),
)

disbursements = sa.table(
    'disbursements',
    sa.column('id', sa.String),
    sa.column('case_id', sa.String),
    sa.column('decision_reason', sa.String),
    sa.column('payment_reference', sa.String),
    sa.column('decision_reason_enc', sa.LargeBinary),
    sa.column('payment_reference_enc', sa.LargeBinary),
)
case_keys = sa.table(
    'case_keys',
    sa.column('case_id', sa.String),
    sa.column('master_key_id', sa.String),
    sa.column('wrapped_key', sa.LargeBinary),
)
payouts = sa.table(
    'payouts',
    sa.column('id', sa.String),
    sa.column('bank_reference', sa.String),
    sa.column('bank_reference_sealed', sa.Text),
)


def _label(disbursement_id, field):
    return f'disbursement:{disbursement_id}:{field}'


def _purpose(payout_id):
    return f'payout:{payout_id}:bank-reference'


class _CaseKeys:
    """Each case's data key, unwrapped once; None for a purged case."""

    def __init__(self, connection):
        self.connection, self.keys = connection, {}

    def __call__(self, case_id):
        if case_id not in self.keys:
            row = self.connection.execute(
                sa.select(case_keys.c.master_key_id, case_keys.c.wrapped_key).where(
                    case_keys.c.case_id == case_id
                )
            ).first()
            self.keys[case_id] = (
                None
                if row is None
                else fields.unwrap(fields.WrappedKey(row.master_key_id, row.wrapped_key), case_id)
            )
        return self.keys[case_id]


def _rows(connection, table, columns):
    """The rows with a value in any of these columns: their id, case (if any) and the values."""
    condition = sa.or_(*(table.c[column].is_not(None) for column in columns))
    keys = [table.c[name] for name in ('id', 'case_id') if name in table.c]
    selected = sa.select(*keys, *(table.c[column] for column in columns))
    return connection.execute(selected.where(condition)).all()


def _encrypted_disbursements(connection):
    key_of, changes = _CaseKeys(connection), {}
    for row in _rows(connection, disbursements, [clear for clear, _, _, _ in DISBURSEMENT_FIELDS]):
        key = key_of(row.case_id)
        changes[row.id] = {
            encrypted: (
                fields.encrypt(key, getattr(row, clear), row.case_id, _label(row.id, label))
                if key is not None and getattr(row, clear)
                else None
            )
            for clear, encrypted, label, _ in DISBURSEMENT_FIELDS
        }
    return changes


def _opened_disbursements(connection):
    key_of, changes = _CaseKeys(connection), {}
    encrypted_columns = [encrypted for _, encrypted, _, _ in DISBURSEMENT_FIELDS]
    for row in _rows(connection, disbursements, encrypted_columns):
        key = key_of(row.case_id)
        changes[row.id] = {
            clear: (
                fields.decrypt(key, getattr(row, encrypted), row.case_id, _label(row.id, label))
                if key is not None and getattr(row, encrypted) is not None
                else None
            )
            for clear, encrypted, label, _ in DISBURSEMENT_FIELDS
        }
    return changes


def _apply(connection, table, changes, cleared):
    for row_id, values in changes.items():
        connection.execute(
            sa.update(table)
            .where(table.c.id == row_id)
            .values(**values, **{column: None for column in cleared})
        )


def upgrade():
    connection = op.get_bind()
    disbursement_changes = _encrypted_disbursements(connection)
    payout_changes = {
        row.id: {'bank_reference_sealed': sealing.seal(row.bank_reference, _purpose(row.id))}
        for row in _rows(connection, payouts, ['bank_reference'])
    }
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_reason_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('payment_reference_enc', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_reference_sealed', sa.Text(), nullable=True))
    # The clear values are emptied before their columns go, so no live row keeps them.
    _apply(connection, disbursements, disbursement_changes, ['decision_reason', 'payment_reference'])
    _apply(connection, payouts, payout_changes, ['bank_reference'])
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_column('bank_reference')
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_column('payment_reference')
        batch_op.drop_column('decision_reason')


def downgrade():
    connection = op.get_bind()
    disbursement_changes = _opened_disbursements(connection)
    payout_changes = {
        row.id: {'bank_reference': sealing.unseal(row.bank_reference_sealed, _purpose(row.id))}
        for row in _rows(connection, payouts, ['bank_reference_sealed'])
    }
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        for clear, _, _, length in DISBURSEMENT_FIELDS:
            batch_op.add_column(sa.Column(clear, sa.String(length=length), nullable=True))
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_reference', sa.String(length=120), nullable=True))
    _apply(connection, disbursements, disbursement_changes, [])
    _apply(connection, payouts, payout_changes, [])
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_column('bank_reference_sealed')
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_column('payment_reference_enc')
        batch_op.drop_column('decision_reason_enc')
