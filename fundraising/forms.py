"""The donation form (posted by the page's script, or by anyone: every field is checked)."""

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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
from fundraising.sharing import clean_via

CURRENCY_CHOICES = [SelectChoice(code, code.upper()) for code in sorted(SUPPORTED)]


class DonationForm(FlaskForm):
    amount = StringField(
        _l("Amount"), validators=[DataRequired(message=_l("Enter an amount.")), Length(max=20)]
    )
    payment_method = StringField(
        _l("Payment method"),
        validators=[
            DataRequired(message=_l("Payment details are missing. Enter them and try again.")),
            Regexp(r"^pm_[A-Za-z0-9_]{1,200}$", message=_l("The payment method is not valid.")),
        ],
    )
    currency = StringField(_l("Currency"), validators=[Optional(), Length(min=3, max=3)])
    email = EmailField(
        _l("Email for the receipt (optional)"),
        validators=[Optional(), Email(message=_l("Enter a valid email address.")), Length(max=254)],
    )
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=120)])
    anonymous = BooleanField(_l("Give anonymously (your name is not shown on this page)"))
    wants_updates = BooleanField(_l("Email me updates about this drive"))
    cover_fees = BooleanField(_l("Cover the card processing fee"))
    message = TextAreaField(
        _l("Message of support (optional, shown publicly)"),
        validators=[
            Optional(),
            Length(max=280, message=_l("Keep the message under 280 characters.")),
        ],
    )
    # The ?via= channel code the page was opened with: a bad one is dropped, never an error.
    via = StringField(_l("Channel"), filters=[clean_via])

    def validate(self, extra_validators: Any = None) -> bool:
        """Every field, and one rule across two: updates need an address to go to."""
        is_valid = bool(super().validate(extra_validators))
        if self.wants_updates.data and not (self.email.data or "").strip():
            self.email.errors = [
                *self.email.errors,
                _("Enter your email address to get updates about this drive, or untick the box."),
            ]
            return False
        return is_valid


class DriveForm(FlaskForm):
    """An admin's drive settings. Times are UTC; amounts are in major units."""

    slug = StringField(
        _l("Address (/drives/…)"),
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Use lower-case letters, digits and -.")),
        ],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=160)])
    story = TextAreaField(_l("Story (Markdown; no HTML)"), validators=[Length(max=20000)])
    currency = SelectField(_l("Currency"), choices=CURRENCY_CHOICES)
    goal = StringField(_l("Goal"), validators=[DataRequired(), Length(max=20)])
    minimum = StringField(_l("Smallest gift"), validators=[Optional(), Length(max=20)])
    suggested = StringField(
        _l("Suggested amounts"),
        description=_l("Comma-separated, e.g. 25, 50, 100"),
        validators=[Optional(), Length(max=120)],
    )
    starts_at = DateTimeLocalField(_l("Opens (UTC)"), validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends (UTC)"), validators=[DataRequired()])
    closes_at_goal = BooleanField(_l("Close the drive when the goal is reached"))
    is_spending_published = BooleanField(
        _l("Publish “where the money went” on the drive page"),
        description=_l(
            "Totals by category and people relocated, by month, never per case; "
            "a figure stays hidden until at least 3 cases contribute to it."
        ),
    )
    statement_descriptor_suffix = StringField(
        _l("Card statement suffix"),
        description=_l(
            "What donors' bank statements show after the organisation's name. "
            "Keep it neutral: a statement can out a donor."
        ),
        validators=[
            Optional(),
            Length(max=22),
            Regexp(
                r"^[A-Za-z0-9 .\-]*[A-Za-z][A-Za-z0-9 .\-]*$",
                message=_l("Letters, digits, spaces, . and - only."),
            ),
        ],
    )
    receipt_description = StringField(
        _l("Receipt text"),
        description=_l("Shown on Stripe's email receipt. Keep it neutral."),
        validators=[Optional(), Length(max=200)],
    )
    cover = FileField(_l("Cover image (JPEG, PNG or WebP, up to 5 MB)"))
    cover_alt = StringField(
        _l("Describe the image for people who cannot see it"),
        validators=[Optional(), Length(max=300)],
    )


class ExtendForm(FlaskForm):
    ends_at = DateTimeLocalField(_l("New end (UTC)"), validators=[DataRequired()])


class UpdateForm(FlaskForm):
    """An update on a drive: shown on its page and in its feed, and mailed to donors who asked."""

    title = StringField(
        _l("Title (optional)"),
        validators=[
            Optional(),
            Length(max=160, message=_l("Keep the title under 160 characters.")),
        ],
    )
    body = TextAreaField(
        _l("Update (Markdown; no HTML)"),
        validators=[
            DataRequired(message=_l("Write the update: its text cannot be empty.")),
            Length(max=20000, message=_l("Keep the update under 20000 characters.")),
        ],
    )
    is_emailed = BooleanField(_l("Email it to the donors who asked for updates"))


class DriveTranslationForm(FlaskForm):
    """A drive's title and story in another language (checked in drive_translations.py)."""

    title = StringField(_l("Title"))
    story = TextAreaField(_l("Story (Markdown; no HTML)"))


class UpdateTranslationForm(FlaskForm):
    """An update's title and text in another language, by the update's own rules."""

    title = StringField(
        _l("Title (optional)"),
        validators=[
            Optional(),
            Length(max=160, message=_l("Keep the title under 160 characters.")),
        ],
    )
    body = TextAreaField(
        _l("Update (Markdown; no HTML)"),
        validators=[
            DataRequired(message=_l("Write the update: its text cannot be empty.")),
            Length(max=20000, message=_l("Keep the update under 20000 characters.")),
        ],
    )
