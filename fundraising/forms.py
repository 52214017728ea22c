"""The donation form (posted by the page's script, or by anyone: every field is checked)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from fundraising.money import SUPPORTED

CURRENCY_CHOICES = [SelectChoice(code, code.upper()) for code in sorted(SUPPORTED)]


class DonationForm(FlaskForm):
    amount = StringField(
        "Amount", validators=[DataRequired(message="Enter an amount."), Length(max=20)]
    )
    payment_method = StringField(
        "Payment method",
        validators=[
            DataRequired(message="Card details are missing. Enter your card and try again."),
            Regexp(r"^pm_[A-Za-z0-9_]{1,200}$", message="The payment method is not valid."),
        ],
    )
    currency = StringField("Currency", validators=[Optional(), Length(min=3, max=3)])
    email = EmailField(
        "Email for the receipt (optional)",
        validators=[Optional(), Email(message="Enter a valid email address."), Length(max=254)],
    )
    name = StringField("Your name (optional)", validators=[Optional(), Length(max=120)])
    anonymous = BooleanField("Give anonymously (your name is not shown on this page)")
    cover_fees = BooleanField("Cover the card processing fee")
    message = TextAreaField(
        "Message of support (optional, shown publicly)",
        validators=[Optional(), Length(max=280, message="Keep the message under 280 characters.")],
    )


class DriveForm(FlaskForm):
    """An admin's drive settings. Times are UTC; amounts are in major units."""

    slug = StringField(
        "Address (/drives/…)",
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message="Use lower-case letters, digits and -."),
        ],
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=160)])
    story = TextAreaField("Story (Markdown; no HTML)", validators=[Length(max=20000)])
    currency = SelectField("Currency", choices=CURRENCY_CHOICES)
    goal = StringField("Goal", validators=[DataRequired(), Length(max=20)])
    minimum = StringField("Smallest gift", validators=[Optional(), Length(max=20)])
    suggested = StringField(
        "Suggested amounts",
        description="Comma-separated, e.g. 25, 50, 100",
        validators=[Optional(), Length(max=120)],
    )
    starts_at = DateTimeLocalField("Opens (UTC)", validators=[DataRequired()])
    ends_at = DateTimeLocalField("Ends (UTC)", validators=[DataRequired()])
    closes_at_goal = BooleanField("Close the drive when the goal is reached")
    is_spending_published = BooleanField(
        "Publish “where the money went” on the drive page",
        description="Totals by category and people relocated, by month, never per case; "
        "a figure stays hidden until at least 3 cases contribute to it.",
    )
    statement_descriptor_suffix = StringField(
        "Card statement suffix",
        description="What donors' bank statements show after the organisation's name. "
        "Keep it neutral: a statement can out a donor.",
        validators=[
            Optional(),
            Length(max=22),
            Regexp(
                r"^[A-Za-z0-9 .\-]*[A-Za-z][A-Za-z0-9 .\-]*$",
                message="Letters, digits, spaces, . and - only.",
            ),
        ],
    )
    receipt_description = StringField(
        "Receipt text",
        description="Shown on Stripe's email receipt. Keep it neutral.",
        validators=[Optional(), Length(max=200)],
    )
    cover = FileField("Cover image (JPEG, PNG or WebP, up to 5 MB)")
    cover_alt = StringField(
        "Describe the image for people who cannot see it", validators=[Optional(), Length(max=300)]
    )


class ExtendForm(FlaskForm):
    ends_at = DateTimeLocalField("New end (UTC)", validators=[DataRequired()])
