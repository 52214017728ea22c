"""Drive updates: admins post, edit and delete them; anyone reads the Atom feed; a donor's
unsubscribe link works in one click."""

from __future__ import annotations

import hashlib

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
from flask_babel import lazy_gettext as _l

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, role_required
from accounts.models import Role
from extensions import db
from fundraising import drive_translations, drives, update_mail, updates
from fundraising.feed import updates_feed
from fundraising.forms import UpdateForm
from fundraising.models import Drive, DriveStatus, DriveUpdate
from fundraising.public_cache import public_cache
from security import locales

bp = Blueprint("drive_updates", __name__, url_prefix="/admin/drives/<int:drive_id>/updates")
public_bp = Blueprint("drive_updates_public", __name__)
FEED_MAX_AGE = 300
POSTED_EMAILED = _l("Update posted. It is being emailed to the donors who asked for updates.")


@bp.after_request
def _forget_public_copies(response: Response) -> Response:
    """An update shows on the drive's page and feed at once (as drive changes do)."""
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


def _text(form: UpdateForm) -> updates.UpdateText:
    return updates.UpdateText(title=form.title.data or "", body=form.body.data or "")


@bp.route("/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def index(drive_id: int) -> ResponseReturnValue:
    """A drive's updates, and the form to post a new one."""
    drive = _drive_or_404(drive_id)
    form = UpdateForm()
    if request.method == "GET":
        form.is_emailed.data = True
    elif form.validate_on_submit():
        try:
            updates.post_update(
                drive, _text(form), is_emailed=bool(form.is_emailed.data), actor=current_staff()
            )
        except updates.UpdateError as error:
            db.session.rollback()
            form.body.errors = [*form.body.errors, str(error)]
        else:
            db.session.commit()  # the mail job starts once this commits
            flash(str(POSTED_EMAILED) if form.is_emailed.data else _("Update posted."), "info")
            return redirect(url_for("drive_updates.index", drive_id=drive.id))
    return render_template(
        "fundraising/admin/updates.html",
        drive=drive,
        form=form,
        items=updates.updates_for(drive.id),
        confirm_form=ConfirmForm(),
        subscribers=len(updates.recipients(drive.id)),
    ), (400 if request.method == "POST" else 200)


@bp.route("/<int:update_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit(drive_id: int, update_id: int) -> ResponseReturnValue:
    """Correct an update (not mailed again); list its translations."""
    drive = _drive_or_404(drive_id)
    update = _update_or_404(drive.id, update_id)
    form = UpdateForm(obj=update)
    if request.method == "POST" and form.validate_on_submit():
        try:
            updates.edit_update(update, _text(form), actor=current_staff())
        except updates.UpdateError as error:
            db.session.rollback()
            form.body.errors = [*form.body.errors, str(error)]
        else:
            db.session.commit()
            flash(_("Update saved."), "info")
            return redirect(url_for("drive_updates.index", drive_id=drive.id))
    return render_template(
        "fundraising/admin/update_edit.html",
        drive=drive,
        update=update,
        form=form,
        translations=drive_translations.by_language(
            drive_translations.update_translations_of(update.id)
        ),
        confirm_form=ConfirmForm(),
    ), (400 if request.method == "POST" else 200)


@bp.post("/<int:update_id>/delete")
@role_required(Role.ADMIN)
def delete(drive_id: int, update_id: int) -> ResponseReturnValue:
    """Take an update off the page and the feed."""
    drive = _drive_or_404(drive_id)
    update = _update_or_404(drive.id, update_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    updates.delete_update(update, actor=current_staff())
    db.session.commit()
    flash(_("Update deleted."), "info")
    return redirect(url_for("drive_updates.index", drive_id=drive.id))


@public_bp.get("/drives/<slug>/updates.atom")
def feed(slug: str) -> ResponseReturnValue:
    """The drive's updates as an Atom feed (the same for everyone: publicly cacheable)."""
    body = public_cache().get_or_build(("updates-feed", slug), lambda: _feed(slug))
    response = Response(body, mimetype="application/atom+xml")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={FEED_MAX_AGE}"
    return response.make_conditional(request)


def _feed(slug: str) -> bytes:
    drive = drives.get_drive(slug)
    if drive is None or drive.status is DriveStatus.DRAFT:
        abort(404)
    return updates_feed(drive, updates.updates_for(drive.id))


@public_bp.route("/updates/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> ResponseReturnValue:
    """One click (or a mail client's RFC 8058 POST) stops a drive's updates to that address."""
    donation_id = update_mail.donation_for_token(token)
    drive = updates.unsubscribe(donation_id) if donation_id else None
    if drive is None:
        db.session.rollback()
        return render_template("fundraising/unsubscribe.html", drive=None), 400
    db.session.commit()
    title = drive_translations.drive_text(drive, locales.current()).title
    return render_template("fundraising/unsubscribe.html", drive=drive, drive_title=title)
