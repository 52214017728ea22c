"""Finance forms."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from finance.models import Category

CATEGORY_CHOICES = [SelectChoice(category.value, category.label) for category in Category]


class ReconcileForm(FlaskForm):
    bank_reference = StringField(
        "Bank statement reference", validators=[DataRequired(), Length(max=120)]
    )


class DecisionForm(FlaskForm):
    reason = StringField(
        "Reason (needed to reject or void)", validators=[Optional(), Length(max=500)]
    )


class PaidForm(FlaskForm):
    reference = StringField("Payment reference", validators=[DataRequired(), Length(max=120)])
    paid_on = DateField("Paid on", validators=[Optional()])


class DisbursementRequestForm(FlaskForm):
    """A caseworker's request, on the case page."""

    drive_id = SelectField("Drive to charge", coerce=int, validators=[DataRequired()])
    category = SelectField("For", choices=CATEGORY_CHOICES, validators=[DataRequired()])
    amount = StringField(
        "Amount (in the drive's currency)", validators=[DataRequired(), Length(max=20)]
    )
    payee = TextAreaField(
        "Payee details (encrypted with the case)", validators=[Optional(), Length(max=2000)]
    )
    note = TextAreaField(
        "Note for finance (encrypted with the case)", validators=[Optional(), Length(max=2000)]
    )


class DonationsExportForm(FlaskForm):
    class Meta:
        csrf = False

    drive = SelectField("Drive", coerce=int, validators=[Optional()])
    start = DateField("From", validators=[Optional()])
    end = DateField("Until (exclusive)", validators=[Optional()])
