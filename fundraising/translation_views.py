"""Admin pages for translations: a drive's title and story, and each update, in the languages
readers can choose (listed on the drive's and the update's edit pages)."""

from __future__ import annotations

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
from fundraising import drive_translations, updates
from fundraising.drive_translations import DriveText, TranslationError
from fundraising.forms import DriveTranslationForm, UpdateTranslationForm
from fundraising.models import Drive, DriveUpdate
from fundraising.presentation import render_story
from fundraising.public_cache import public_cache
from security import locales
from security.errors import render_error

bp = Blueprint("drive_translations", __name__, url_prefix="/admin/drives/<int:drive_id>")


@bp.after_request
def _forget_public_copies(response: Response) -> Response:
    """A saved translation shows on the drive's page, list and card at once (as drive
    changes do: in this worker; the others within PUBLIC_CACHE_SECONDS)."""
    if request.method == "POST":
        public_cache().clear()
    return response


def _drive_or_404(drive_id: int) -> Drive:
    drive = db.session.get(Drive, drive_id)
    if drive is None:
        abort(404)
    return drive


def _update_or_404(drive_id: int, update_id: int) -> DriveUpdate:
    update = updates.get_update(drive_id, update_id)
    if update is None:
        abort(404)
    return update


def _unknown_language(locale: str) -> ResponseReturnValue | None:
    """The page refusing a language no translation may be written in, naming those it may."""
    try:
        drive_translations.check_language(locale)
    except TranslationError as error:
        return render_error(404, str(error))
    return None


def _in_language(form: DriveTranslationForm | UpdateTranslationForm, locale: str) -> None:
    """The inputs take text in the translation's language and direction."""
    direction = "rtl" if locale in locales.RIGHT_TO_LEFT else "ltr"
    for name in ("title", "story", "body"):
        if name in form:
            form[name].render_kw = {"lang": locale, "dir": direction}


def _show_error(form: DriveTranslationForm | UpdateTranslationForm, error: Exception) -> None:
    name = getattr(error, "field", "")
    field = form[name] if name in form else form["body"] if "body" in form else form["title"]
    field.errors = [*field.errors, str(error)]


@bp.route("/translations/<locale>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def drive_translation(drive_id: int, locale: str) -> ResponseReturnValue:
    """Write or correct the drive's title and story in one language."""
    drive = _drive_or_404(drive_id)
    refused = _unknown_language(locale)
    if refused is not None:
        return refused
    translation = drive_translations.get_translation(drive, locale)
    form = DriveTranslationForm(obj=translation)
    _in_language(form, locale)
    language = drive_translations.language_name(locale)
    if form.validate_on_submit():
        text = DriveText(form.title.data or "", form.story.data or "")
        try:
            drive_translations.save_translation(drive, locale, text, actor=current_staff())
        except TranslationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Translation saved (%(language)s).", language=language), "info")
            return redirect(url_for("drives_admin.edit", drive_id=drive.id, _anchor="translations"))
    return render_template(
        "fundraising/admin/translation.html",
        form=form,
        locale_code=locale,
        language=language,
        heading=_("%(language)s translation: %(title)s", language=language, title=drive.title),
        back_url=url_for("drives_admin.edit", drive_id=drive.id, _anchor="translations"),
        original_title=drive.title,
        original_html=render_story(drive.story),
        is_update=False,
        delete_url=url_for(
            "drive_translations.delete_drive_translation", drive_id=drive.id, locale=locale
        )
        if translation is not None
        else None,
        confirm_form=ConfirmForm(),
    ), (400 if request.method == "POST" else 200)


@bp.post("/translations/<locale>/delete")
@role_required(Role.ADMIN)
def delete_drive_translation(drive_id: int, locale: str) -> ResponseReturnValue:
    """Remove a translation of the drive: its readers get the English again."""
    drive = _drive_or_404(drive_id)
    refused = _unknown_language(locale)
    if refused is not None:
        return refused
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _deleted(drive_translations.delete_translation(drive, locale, actor=current_staff()), locale)
    return redirect(url_for("drives_admin.edit", drive_id=drive.id, _anchor="translations"))


def _deleted(was_there: bool, locale: str) -> None:
    language = drive_translations.language_name(locale)
    if was_there:
        db.session.commit()
        flash(
            _(
                "Translation deleted (%(language)s): its readers see the English again.",
                language=language,
            ),
            "info",
        )
    else:
        flash(_("There is no %(language)s translation to delete.", language=language), "error")


@bp.route("/updates/<int:update_id>/translations/<locale>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def update_translation(drive_id: int, update_id: int, locale: str) -> ResponseReturnValue:
    """Write or correct an update's title and text in one language (nothing is emailed)."""
    drive = _drive_or_404(drive_id)
    update = _update_or_404(drive.id, update_id)
    refused = _unknown_language(locale)
    if refused is not None:
        return refused
    translation = drive_translations.get_update_translation(update, locale)
    form = UpdateTranslationForm(obj=translation)
    _in_language(form, locale)
    language = drive_translations.language_name(locale)
    back = url_for(
        "drive_updates.edit", drive_id=drive.id, update_id=update.id, _anchor="translations"
    )
    if form.validate_on_submit():
        text = updates.UpdateText(title=form.title.data or "", body=form.body.data or "")
        try:
            drive_translations.save_update_translation(update, locale, text, actor=current_staff())
        except (TranslationError, updates.UpdateError) as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Translation saved (%(language)s).", language=language), "info")
            return redirect(back)
    return render_template(
        "fundraising/admin/translation.html",
        form=form,
        locale_code=locale,
        language=language,
        heading=_(
            "%(language)s translation of an update: %(title)s",
            language=language,
            title=update.title or drive.title,
        ),
        back_url=back,
        original_title=update.title,
        original_html=render_story(update.body),
        is_update=True,
        delete_url=url_for(
            "drive_translations.delete_update_translation",
            drive_id=drive.id,
            update_id=update.id,
            locale=locale,
        )
        if translation is not None
        else None,
        confirm_form=ConfirmForm(),
    ), (400 if request.method == "POST" else 200)


@bp.post("/updates/<int:update_id>/translations/<locale>/delete")
@role_required(Role.ADMIN)
def delete_update_translation(drive_id: int, update_id: int, locale: str) -> ResponseReturnValue:
    """Remove a translation of an update: its readers get the English again."""
    drive = _drive_or_404(drive_id)
    update = _update_or_404(drive.id, update_id)
    refused = _unknown_language(locale)
    if refused is not None:
        return refused
    if not ConfirmForm().validate_on_submit():
        abort(400)
    deleted = drive_translations.delete_update_translation(update, locale, actor=current_staff())
    _deleted(deleted, locale)
    return redirect(
        url_for(
            "drive_updates.edit", drive_id=drive.id, update_id=update.id, _anchor="translations"
        )
    )
