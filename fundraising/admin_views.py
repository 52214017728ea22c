"""Admin pages for drives: create, edit, preview, open, extend and close."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, role_required
from accounts.models import Role
from extensions import db
from fundraising import card_testing, drive_translations, drives, sharing
from fundraising.covers import InvalidImage, set_cover
from fundraising.forms import DonationForm, DriveForm, ExtendForm
from fundraising.models import Drive, DriveStatus
from fundraising.money import InvalidAmount, parse_amount, to_major_string
from fundraising.presentation import drive_context
from fundraising.public_cache import public_cache
from security.clock import now
from security.headers import allows_stripe

bp = Blueprint("drives_admin", __name__, url_prefix="/admin/drives")


@bp.after_request
def _forget_public_copies(response: Response) -> Response:
    """A change to a drive shows on its public page at once (in this worker; the others
    within PUBLIC_CACHE_SECONDS)."""
    if request.method == "POST":
        public_cache().clear()
    return response


def _drive_or_404(drive_id: int) -> Drive:
    drive = db.session.get(Drive, drive_id)
    if drive is None:
        abort(404)
    return drive


def _utc(moment: datetime | None) -> datetime:
    assert moment is not None  # noqa: S101  (DataRequired ran)
    return moment.replace(tzinfo=UTC)


def _settings(form: DriveForm) -> drives.DriveSettings:
    """The form's fields as drive settings; raises InvalidAmount naming the field."""
    currency = (form.currency.data or "usd").lower()
    minimum: int | None = None
    suggested: tuple[int, ...] = ()
    try:
        goal = parse_amount(form.goal.data, currency)
    except InvalidAmount as error:
        raise InvalidAmount(f"goal: {error}") from error
    if form.minimum.data:
        try:
            minimum = parse_amount(form.minimum.data, currency)
        except InvalidAmount as error:
            raise InvalidAmount(f"minimum: {error}") from error
    if form.suggested.data:
        try:
            amounts = [parse_amount(part, currency) for part in form.suggested.data.split(",")]
        except InvalidAmount as error:
            raise InvalidAmount(f"suggested: {error}") from error
        suggested = tuple(amounts[:6])
    return drives.DriveSettings(
        slug=form.slug.data or "",
        title=form.title.data or "",
        goal_minor=goal,
        currency=currency,
        starts_at=_utc(form.starts_at.data),
        ends_at=_utc(form.ends_at.data),
        story=form.story.data or "",
        minimum_minor=minimum,
        suggested_minor=suggested,
        closes_at_goal=bool(form.closes_at_goal.data),
        is_spending_published=bool(form.is_spending_published.data),
        statement_descriptor_suffix=form.statement_descriptor_suffix.data or None,
        receipt_description=form.receipt_description.data or None,
    )


def _field_error(form: DriveForm, error: Exception) -> None:
    name, _colon, message = str(error).partition(": ")
    field = getattr(form, name, None) if message else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.title.errors = [*form.title.errors, str(error)]


def _save_cover(form: DriveForm, drive: Drive) -> None:
    upload = form.cover.data
    if upload and getattr(upload, "filename", ""):
        set_cover(drive, upload.read(), form.cover_alt.data or "")


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Every drive with its status and totals."""
    return render_template(
        "fundraising/admin/index.html",
        drives=drives.all_drives(),
        suspicions=card_testing.suspicions(),
        confirm_form=ConfirmForm(),
        moment=now(),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new() -> ResponseReturnValue:
    """Create a drive as a draft; open it when it is ready."""
    form = DriveForm()
    if form.validate_on_submit():
        try:
            settings = _settings(form)
            drive = drives.create_drive(
                **asdict(settings), status=DriveStatus.DRAFT, actor=current_staff()
            )
            _save_cover(form, drive)
        except (InvalidAmount, InvalidImage, drives.FundraisingError) as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            flash(_("Draft saved. Preview it, then open it to take gifts."), "info")
            return redirect(url_for("drives_admin.edit", drive_id=drive.id))
    return render_template("fundraising/admin/edit.html", form=form, drive=None), (
        400 if request.method == "POST" else 200
    )


@bp.route("/<int:drive_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit(drive_id: int) -> ResponseReturnValue:
    """Change a drive's settings, story and cover; list its translations."""
    drive = _drive_or_404(drive_id)
    form = DriveForm(obj=drive)
    if request.method == "GET":
        form.goal.data = to_major_string(drive.goal_minor, drive.currency)
        form.minimum.data = to_major_string(drive.minimum_minor, drive.currency)
        form.suggested.data = ", ".join(
            to_major_string(amount, drive.currency) for amount in drive.suggested_minor
        )
        form.starts_at.data = drive.starts_at.replace(tzinfo=None)
        form.ends_at.data = drive.ends_at.replace(tzinfo=None)
        form.cover_alt.data = drive.cover.alt_text if drive.cover else ""
    elif form.validate_on_submit():
        try:
            drives.update_drive(drive, _settings(form), actor=current_staff())
            _save_cover(form, drive)
        except (InvalidAmount, InvalidImage, drives.FundraisingError) as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            flash(_("Drive saved."), "info")
            return redirect(url_for("drives_admin.edit", drive_id=drive.id))
    return render_template(
        "fundraising/admin/edit.html",
        form=form,
        drive=drive,
        confirm_form=ConfirmForm(),
        extend_form=ExtendForm(),
        channels=sharing.raised_by_channel(drive.id),
        translations=drive_translations.by_language(drive_translations.translations_of(drive.id)),
    )


@bp.get("/<int:drive_id>/preview")
@role_required(Role.ADMIN)
@allows_stripe
def preview(drive_id: int) -> ResponseReturnValue:
    """The drive page as donors will see it, drafts included."""
    drive = _drive_or_404(drive_id)
    return render_template(
        "fundraising/drive.html", form=DonationForm(), is_preview=True, **drive_context(drive)
    )


def _status_action(drive_id: int, status: DriveStatus, message: str) -> ResponseReturnValue:
    drive = _drive_or_404(drive_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    drives.set_drive_status(drive, status, actor=current_staff())
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("drives_admin.edit", drive_id=drive.id))


@bp.post("/<int:drive_id>/open")
@role_required(Role.ADMIN)
def open_drive(drive_id: int) -> ResponseReturnValue:
    """Make a drive live (it takes gifts inside its window)."""
    return _status_action(drive_id, DriveStatus.LIVE, _("The drive is live."))


@bp.post("/<int:drive_id>/close")
@role_required(Role.ADMIN)
def close_drive(drive_id: int) -> ResponseReturnValue:
    """Stop taking gifts now."""
    return _status_action(drive_id, DriveStatus.CLOSED, _("The drive is closed."))


@bp.post("/<int:drive_id>/extend")
@role_required(Role.ADMIN)
def extend(drive_id: int) -> ResponseReturnValue:
    """Move the end time later."""
    drive = _drive_or_404(drive_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            drives.extend_drive(drive, _utc(form.ends_at.data), actor=current_staff())
        except drives.FundraisingError as error:
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("The drive now ends later."), "info")
    else:
        flash(_("Give the new end time."), "error")
    return redirect(url_for("drives_admin.edit", drive_id=drive.id))
