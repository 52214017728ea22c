"""The donation form (posted by the page's script, or by anyone: every field is checked)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp


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
    retry_of = StringField(validators=[Optional(), Length(max=36)])
