"""Finance forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from finance.models import Category
from fundraising.models import OFFLINE_METHODS

CATEGORY_CHOICES = [SelectChoice(category.value, category.label) for category in Category]
METHOD_CHOICES = [SelectChoice(method.value, method.label) for method in OFFLINE_METHODS]


class ReconcileForm(FlaskForm):
    bank_reference = StringField(
        _l("Bank statement reference"), validators=[DataRequired(), Length(max=120)]
    )


class DecisionForm(FlaskForm):
    reason = StringField(
        _l("Reason (needed to reject or void)"), validators=[Optional(), Length(max=500)]
    )


class PaidForm(FlaskForm):
    reference = StringField(_l("Payment reference"), validators=[DataRequired(), Length(max=120)])
    paid_on = DateField(_l("Paid on"), validators=[Optional()])


class DisbursementRequestForm(FlaskForm):
    """A caseworker's request, on the case page."""

    drive_id = SelectField(_l("Drive to charge"), coerce=int, validators=[DataRequired()])
    category = SelectField(_l("For"), choices=CATEGORY_CHOICES, validators=[DataRequired()])
    amount = StringField(
        _l("Amount (in the drive's currency)"), validators=[DataRequired(), Length(max=20)]
    )
    payee = TextAreaField(
        _l("Payee details (encrypted with the case)"), validators=[Optional(), Length(max=2000)]
    )
    note = TextAreaField(
        _l("Note for finance (encrypted with the case)"),
        validators=[Optional(), Length(max=2000)],
    )


class DonationsExportForm(FlaskForm):
    class Meta:
        csrf = False

    drive = SelectField(_l("Drive"), coerce=int, validators=[Optional()])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Until (exclusive)"), validators=[Optional()])


class OfflineGiftForm(FlaskForm):
    """A gift outside Stripe, on the drive's ledger page (amount in the drive's currency)."""

    amount = StringField(
        _l("Amount received"),
        validators=[InputRequired(message=_l("Enter the amount received.")), Length(max=20)],
    )
    received_on = DateField(
        _l("Date received"),
        validators=[InputRequired(message=_l("Give the date the money was received."))],
        invalid_value_message=_l("Enter the date received as a date, e.g. 2026-11-20."),
    )
    # Checked by the service, with a message naming the choices (not WTForms' "Not a valid
    # choice").
    method = SelectField(_l("How it was given"), choices=METHOD_CHOICES, validate_choice=False)
    reference = StringField(
        _l("Reference"),
        description=_l("The bank statement line, cheque number or receipt number. Encrypted."),
        validators=[
            InputRequired(
                message=_l("Give a reference (the bank line, cheque number or receipt number).")
            ),
            Length(max=120, message=_l("Keep the reference to %(count)d characters.", count=120)),
        ],
    )
    donor_name = StringField(
        _l("Donor's name (optional)"),
        description=_l(
            "Encrypted, and never shown on the drive's page: the gift shows there as anonymous."
        ),
        validators=[
            Optional(),
            Length(max=120, message=_l("Keep the name to %(count)d characters.", count=120)),
        ],
    )


class ReversalForm(FlaskForm):
    reason = StringField(
        _l("Reason for reversing"),
        validators=[
            InputRequired(message=_l("Give a reason for the reversal.")),
            Length(max=500, message=_l("Keep the reason to %(count)d characters.", count=500)),
        ],
    )


class ResendReceiptForm(FlaskForm):
    """Send a donor a copy of their receipt: the button carries only its CSRF token."""
