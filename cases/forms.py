"""Case forms. Field names of the intake form are fixed by DESIGN.md."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from cases.models import ReferralSource, RiskLevel, Stage

RISK_CHOICES = [SelectChoice(level.value, level.value.capitalize()) for level in RiskLevel]
SOURCE_CHOICES = [
    SelectChoice(source.value, source.value.capitalize()) for source in ReferralSource
]
STAGE_CHOICES = [SelectChoice(stage.value, stage.label) for stage in Stage]


class CaseForm(FlaskForm):
    legal_name = StringField("Legal name", validators=[DataRequired(), Length(max=200)])
    known_as = StringField(
        "Names known by",
        description="Separate several with commas.",
        validators=[Optional(), Length(max=300)],
    )
    date_of_birth = StringField("Date of birth", validators=[Optional(), Length(max=40)])
    contact = TextAreaField(
        "Contact handles",
        description="Phone, Signal, email… one per line.",
        validators=[Optional(), Length(max=1000)],
    )
    current_location = StringField("Current location", validators=[Optional(), Length(max=300)])
    region = StringField(
        "Coarse region (shown in lists)",
        description="e.g. “Northern Iraq”",
        validators=[DataRequired(), Length(max=80)],
    )
    risk_level = SelectField("Risk level", choices=RISK_CHOICES, validators=[DataRequired()])
    household_size = IntegerField(
        "Household size", default=1, validators=[DataRequired(), NumberRange(min=1, max=30)]
    )
    referral_source = SelectField("Referred by", choices=SOURCE_CHOICES, default="partner")
    destination_country = StringField(
        "Destination country", validators=[Optional(), Length(max=80)]
    )
    risk_narrative = TextAreaField("Risk narrative", validators=[Optional(), Length(max=10000)])
    needs = TextAreaField("Needs", validators=[Optional(), Length(max=5000)])
    household_members = TextAreaField(
        "Household members", validators=[Optional(), Length(max=5000)]
    )


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=10000)])


class StageForm(FlaskForm):
    to_stage = SelectField("Move to", choices=STAGE_CHOICES, validators=[DataRequired()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=500)])


class VerificationForm(FlaskForm):
    has_seen_documents = BooleanField("Identity documents seen")
    has_contacted_references = BooleanField("References contacted")
    has_assessed_risk = BooleanField("Risk assessed")
    notes = TextAreaField("Notes on the checks", validators=[Optional(), Length(max=5000)])


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(
        "Why do you need to open this case?", validators=[DataRequired(), Length(min=10, max=1000)]
    )


class AssignForm(FlaskForm):
    user_id = SelectField("Caseworker", coerce=int, validators=[DataRequired()])
