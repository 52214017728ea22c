"""Case forms. Field names of the intake form are fixed by DESIGN.md."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from cases.document_models import DocumentKind
from cases.models import Outcome, ReferralSource, RiskLevel, Stage

RISK_CHOICES = [SelectChoice(level.value, level.label) for level in RiskLevel]
SOURCE_CHOICES = [SelectChoice(source.value, source.label) for source in ReferralSource]
STAGE_CHOICES = [SelectChoice(stage.value, stage.label) for stage in Stage]
OUTCOME_CHOICES = [SelectChoice("", "—"), *(SelectChoice(o.value, o.label) for o in Outcome)]


class CaseForm(FlaskForm):
    legal_name = StringField(_l("Legal name"), validators=[DataRequired(), Length(max=200)])
    known_as = StringField(
        _l("Names known by"),
        description=_l("Separate several with commas."),
        validators=[Optional(), Length(max=300)],
    )
    date_of_birth = StringField(_l("Date of birth"), validators=[Optional(), Length(max=40)])
    contact = TextAreaField(
        _l("Contact handles"),
        description=_l("Phone, Signal, email… one per line."),
        validators=[Optional(), Length(max=1000)],
    )
    current_location = StringField(_l("Current location"), validators=[Optional(), Length(max=300)])
    region = StringField(
        _l("Coarse region (shown in lists)"),
        description=_l("e.g. “Northern Iraq”"),
        validators=[DataRequired(), Length(max=80)],
    )
    risk_level = SelectField(_l("Risk level"), choices=RISK_CHOICES, validators=[DataRequired()])
    household_size = IntegerField(
        _l("Household size"), default=1, validators=[DataRequired(), NumberRange(min=1, max=30)]
    )
    referral_source = SelectField(_l("Referred by"), choices=SOURCE_CHOICES, default="partner")
    destination_country = StringField(
        _l("Destination country"), validators=[Optional(), Length(max=80)]
    )
    risk_narrative = TextAreaField(_l("Risk narrative"), validators=[Optional(), Length(max=10000)])
    needs = TextAreaField(_l("Needs"), validators=[Optional(), Length(max=5000)])
    household_members = TextAreaField(
        _l("Household members"), validators=[Optional(), Length(max=5000)]
    )


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=10000)])


class StageForm(FlaskForm):
    to_stage = SelectField(_l("Move to"), choices=STAGE_CHOICES, validators=[DataRequired()])
    outcome = SelectField(
        _l("Outcome (when closing)"), choices=OUTCOME_CHOICES, validators=[Optional()], default=""
    )
    transit_country = StringField(
        _l("Transit country (when moving to In transit)"),
        description=_l("A country only, shown in lists like the region."),
        validators=[Optional(), Length(max=80)],
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is this case reopened?"), validators=[DataRequired(), Length(min=10, max=1000)]
    )


class VerificationForm(FlaskForm):
    has_seen_documents = BooleanField(_l("Identity documents seen"))
    has_contacted_references = BooleanField(_l("References contacted"))
    has_assessed_risk = BooleanField(_l("Risk assessed"))
    notes = TextAreaField(_l("Notes on the checks"), validators=[Optional(), Length(max=5000)])


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you need to open this case?"),
        validators=[DataRequired(), Length(min=10, max=1000)],
    )


class AssignForm(FlaskForm):
    user_id = SelectField(_l("Caseworker"), coerce=int, validators=[DataRequired()])


class DocumentForm(FlaskForm):
    kind = SelectField(
        _l("Type of document"),
        choices=[SelectChoice(kind.value, kind.label) for kind in DocumentKind],
        validators=[DataRequired()],
    )
    expires_on = DateField(_l("Expiry date (if it has one)"), validators=[Optional()])
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose the file to upload."))])


class TaskForm(FlaskForm):
    title = StringField(
        _l("What needs doing"),
        description=_l("Encrypted with the case, like notes."),
        validators=[DataRequired(_l("Write what needs doing.")), Length(max=200)],
    )
    due_on = DateField(_l("Due"), validators=[InputRequired(_l("Give the date the task is due."))])
    assignee = SelectField(_l("Caseworker"), choices=[], validate_choice=False)
