"""Sign-in with TOTP, sign-out, invitations and enrolment, and the staff member's own account."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from accounts import services, throttle, totp
from accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmForm,
    LoginForm,
    NewPasswordForm,
    ReauthForm,
)
from accounts.guards import current_session, safe_next, session_token, staff_required
from accounts.models import Role, SessionStage
from accounts.passwords import WeakPassword
from accounts.sessions import end_session, find_session
from extensions import db, limiter
from security.addresses import request_network

bp = Blueprint("accounts", __name__)

AREAS_KEY = "staff_areas"


@dataclass(frozen=True)
class StaffArea:
    """An area of the staff site in the navigation: where it starts, its label, who sees it,
    and the roles that land there after signing in."""

    endpoint: str
    label: str | LazyString  # lazy_gettext, so the navigation reads in each reader's language
    roles: tuple[Role, ...]
    home_of: tuple[Role, ...] = ()


def add_staff_area(app: Flask, area: StaffArea) -> None:
    """Each package adds its own area (accounts names none of the others)."""
    areas: list[StaffArea] = app.extensions.setdefault(AREAS_KEY, [])
    if area not in areas:
        areas.append(area)


def _areas() -> list[StaffArea]:
    return list(current_app.extensions.get(AREAS_KEY, []))


@bp.app_context_processor
def staff_navigation() -> dict[str, object]:
    """Navigation entries for the areas this app was built with."""
    return {
        "staff_nav": [
            (area.endpoint, area.label, tuple(role.value for role in area.roles))
            for area in _areas()
        ]
    }


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def home_for(role: Role) -> str:
    """The page a role lands on after signing in: its own area, or the account page."""
    for area in _areas():
        if role in area.home_of:
            return url_for(area.endpoint)
    return url_for("accounts.account")


def _with_cookie(response: BaseResponse, token: str | None) -> BaseResponse:
    name = current_app.config["STAFF_COOKIE_NAME"]
    if token is None:
        response.delete_cookie(
            name,
            path="/",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Strict",
        )
        return response
    response.set_cookie(
        name,
        token,
        max_age=current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600,
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Strict",
    )
    return response


def _qr_svg(uri: str) -> str:
    return str(
        segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", omitsize=True)
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    """Step one of signing in: email and password."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user.role))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            token = services.begin_login(
                form.email.data or "", form.password.data or "", request_network()
            )
        except throttle.Throttled as error:
            form.password.errors = [str(error)]
            return render_template("accounts/login.html", form=form), 429
        db.session.commit()
        target = url_for("accounts.two_factor", next=safe_next(form.next.data) or None)
        return _with_cookie(redirect(target), token)
    return render_template("accounts/login.html", form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def two_factor() -> ResponseReturnValue:
    """Step two: the code from the authenticator app."""
    pending = find_session(session_token(), SessionStage.PENDING)
    if pending is None:
        flash(_("Start by entering your email and password."), "info")
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            result = services.complete_login(pending, form.code.data or "", request_network())
        except throttle.Throttled as error:
            form.code.errors = [str(error)]
            return render_template("accounts/two_factor.html", form=form), 429
        db.session.commit()
        if result.token is None or result.user is None:
            flash(str(result.message), "error")
            return _with_cookie(redirect(url_for("accounts.login")), None)
        target = safe_next(request.args.get("next")) or home_for(result.user.role)
        return _with_cookie(redirect(target), result.token)
    return render_template("accounts/two_factor.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    """End this browser's session. (The cookie is SameSite=Strict, so other sites cannot.)"""
    for stage in SessionStage:
        session_row = find_session(session_token(), stage)
        if session_row is not None:
            end_session(session_row)
    db.session.commit()
    flash(_("You are signed out."), "info")
    return _with_cookie(redirect(url_for("accounts.login")), None)


@bp.get("/account/")
@staff_required
def account() -> ResponseReturnValue:
    """The staff member's own account: sessions, password, sign-out everywhere."""
    return render_template(
        "accounts/account.html",
        sessions=sorted(current_user.sessions, key=lambda row: row.created_at, reverse=True),
        this_session=current_session(),
        end_all_form=ConfirmForm(),
        password_form=ChangePasswordForm(),
    )


@bp.post("/account/sessions/end-all")
@staff_required
def end_all() -> ResponseReturnValue:
    """Log out everywhere: every session of this user, this one included."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("accounts.account"))
    ended = services.log_out_everywhere(current_user._get_current_object())
    db.session.commit()
    flash(
        ngettext(
            "Signed out of %(num)d session on every device.",
            "Signed out of %(num)d sessions on every device.",
            ended,
        ),
        "info",
    )
    return _with_cookie(redirect(url_for("accounts.login")), None)


@bp.post("/account/duress")
@staff_required
def duress() -> ResponseReturnValue:
    """Lock my own account and end all my sessions at once; an admin unlocks it."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("accounts.account"))
    services.duress_lock(current_user._get_current_object())
    db.session.commit()
    flash(_("Your account is locked and every session has ended. An admin can unlock it."), "info")
    return _with_cookie(redirect(url_for("accounts.login")), None)


@bp.post("/account/password")
@staff_required
def change_password() -> ResponseReturnValue:
    """Change the password; every session ends, so sign in again."""
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    status = 400
    if form.validate_on_submit():
        try:
            services.change_password(
                user, form.current.data or "", form.password.data or "", request_network()
            )
        except throttle.Throttled as error:
            form.current.errors = [str(error)]
            status = 429
        except (services.AccountError, WeakPassword) as error:
            form.password.errors = [*form.password.errors, str(error)]
            db.session.commit()  # a wrong current password is counted
        else:
            db.session.commit()
            flash(_("Password changed. Sign in again with the new one."), "info")
            return _with_cookie(redirect(url_for("accounts.login")), None)
    return render_template(
        "accounts/account.html",
        sessions=user.sessions,
        this_session=current_session(),
        end_all_form=ConfirmForm(),
        password_form=form,
    ), status


@bp.route("/reauthenticate", methods=["GET", "POST"])
@staff_required
@limiter.limit(_login_limit, methods=["POST"])
def reauthenticate() -> ResponseReturnValue:
    """Confirm password and code before a sensitive action."""
    form = ReauthForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            ok = services.reauthenticate(
                current_session(), form.password.data or "", form.code.data or "", request_network()
            )
        except throttle.Throttled as error:
            form.code.errors = [str(error)]
            return render_template("accounts/reauthenticate.html", form=form), 429
        db.session.commit()
        if ok:
            return redirect(safe_next(form.next.data) or home_for(current_user.role))
        form.code.errors = [_("The password or code was not right.")]
    return render_template("accounts/reauthenticate.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    """Set a password from a one-time link, then enrol an authenticator app."""
    try:
        link = services.find_usable_link(token)
    except services.LinkNotUsable as error:
        return render_template("accounts/link_unusable.html", message=str(error)), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            session_token_value, _user = services.accept_link(link, form.password.data or "")
        except WeakPassword as error:
            form.password.errors = [*form.password.errors, str(error)]
        except services.LinkNotUsable as error:
            db.session.rollback()
            return render_template("accounts/link_unusable.html", message=str(error)), 410
        else:
            db.session.commit()
            return _with_cookie(redirect(url_for("accounts.enrol")), session_token_value)
    return render_template("accounts/accept_invitation.html", form=form, link=link)


@bp.route("/enrol", methods=["GET", "POST"])
def enrol() -> ResponseReturnValue:
    """Show the TOTP QR code and secret; confirm with the first code."""
    session_row = find_session(session_token(), SessionStage.ENROLLING)
    if session_row is None or session_row.user is None:
        flash(_("This enrolment has ended. Sign in, or ask an admin for a new link."), "info")
        return redirect(url_for("accounts.login"))
    user = session_row.user
    form = CodeForm()
    if form.validate_on_submit():
        try:
            services.confirm_enrolment(session_row, form.code.data or "")
        except services.AccountError as error:
            db.session.commit()  # keeps the step counter moving, so codes are never reused
            form.code.errors = [str(error)]
        else:
            db.session.commit()
            if user.is_vetted:
                flash(_("Your authenticator is set up. Sign in with it now."), "info")
            else:
                flash(
                    _("Your account is set up. An admin will vet it; then you can sign in."),
                    "info",
                )
            return _with_cookie(redirect(url_for("accounts.login")), None)
    uri = totp.provisioning_uri(user)
    return render_template(
        "accounts/enrol.html",
        form=form,
        qr_svg=_qr_svg(uri),
        secret=totp.totp_secret(user),
    )
