"""The admins' review of possible duplicate referrals, and the intake pauses they lift."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, reauth_required, role_required
from accounts.models import Role, User
from cases import access, duplicates
from cases.encryption import CaseError
from extensions import db, limiter

bp = Blueprint("case_reviews", __name__, url_prefix="/cases/reviews")
# What matched, as DuplicateReview.kinds stores it.
MATCH_KINDS = {
    "name": _l("name"),
    "contact": _l("contact"),
    "contact,name": _l("contact and name"),
}


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Possible duplicates waiting for a decision, and caseworkers whose intake is paused."""
    access.require_open()
    reviews = duplicates.open_reviews()
    pauses = duplicates.open_pauses()
    people = {review.found_by_id for review in reviews} | {pause.user_id for pause in pauses}
    rows = db.session.execute(select(User.id, User.name).where(User.id.in_(people)))
    return render_template(
        "cases/reviews.html",
        reviews=reviews,
        pauses=pauses,
        codes=duplicates.codes_of(reviews),
        names={row.id: row.name for row in rows},
        outcomes=duplicates.OUTCOMES,
        kinds=MATCH_KINDS,
        confirm_form=ConfirmForm(),
    )


@bp.post("/<int:review_id>")
@role_required(Role.ADMIN)
def decide(review_id: int) -> ResponseReturnValue:
    """Record whether a possible duplicate is the same person or different people."""
    access.require_open()
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return redirect(url_for("case_reviews.index"))
    try:
        duplicates.review(review_id, request.form.get("outcome", ""), current_staff())
    except CaseError as error:
        flash(str(error), "error")
        return redirect(url_for("case_reviews.index"))
    db.session.commit()
    flash(_("Review recorded."), "info")
    return redirect(url_for("case_reviews.index"))


@bp.post("/pauses/<int:pause_id>/lift")
@role_required(Role.ADMIN)
@reauth_required
def lift(pause_id: int) -> ResponseReturnValue:
    """Open intake again for a caseworker (a grant of access: after re-authentication)."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return redirect(url_for("case_reviews.index"))
    try:
        duplicates.lift_pause(pause_id, current_staff())
    except CaseError as error:
        flash(str(error), "error")
        return redirect(url_for("case_reviews.index"))
    db.session.commit()
    flash(_("Intake is open again for them."), "info")
    return redirect(url_for("case_reviews.index"))


def _lookup_limit() -> str:
    return str(current_app.config["CASE_LOOKUP_RATE_LIMIT"])


def _lookup_key() -> str:
    return f"case-lookup:{current_staff().id}"


@bp.route("/lookup", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@reauth_required
@limiter.limit(_lookup_limit, key_func=_lookup_key, methods=["POST"])
def lookup() -> ResponseReturnValue:
    """Is this person already a case? Admins only, through the blind index: answers codes,
    never contents; each lookup audited (the count, not the query) and rate-limited."""
    access.require_open()
    codes: list[str] | None = None
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form expired: try again."), "error")
            return redirect(url_for("case_reviews.lookup"))
        try:
            codes = duplicates.look_up(
                request.form.get("name", "")[:200],
                request.form.get("contact", "")[:200],
                current_staff(),
            )
        except CaseError as error:
            flash(str(error), "error")
            return render_template("cases/lookup.html", form=form, codes=None), 400
        db.session.commit()
    return render_template("cases/lookup.html", form=form, codes=codes)
