"""The admin area: staff, invitations, vetting, roles, and the audit log viewer."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from accounts import security_events as events
from accounts import services, vetting
from accounts.forms import AuditFilterForm, ConfirmForm, InviteForm, RoleForm
from accounts.guards import current_staff, reauth_required, role_required
from accounts.mail import send_link
from accounts.models import ROLE_LABELS, Invitation, Role, User
from audit.models import AuditRecord
from extensions import db
from security import keystore
from security.clock import now
from security.urls import external_url

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE_SIZE = 50


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _link_page(token: str, link: Invitation, heading: str) -> ResponseReturnValue:
    url = external_url("accounts.accept_invitation", token=token)
    # In the language of the admin who sent it (the link's page then follows the reader's own).
    opening = ngettext(
        "Open this link within %(num)d hour to set your password:",
        "Open this link within %(num)d hours to set your password:",
        services.link_hours(link.purpose),
    )
    sent = send_link(link.email, heading, f"{opening}\n\n{url}\n")
    db.session.commit()
    return render_template(
        "admin/link_created.html", url=url, link=link, heading=heading, sent=sent
    )


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Staff list, pending invitations, and the invitation form."""
    return _admin_page(InviteForm())


def _admin_page(invite_form: InviteForm) -> str:
    """The admin page, with the invitation form as given (blank, or with its errors)."""
    users = db.session.scalars(select(User).order_by(User.is_vetted, User.name)).all()
    set_up_by = {user.id: vetting.inviter_of(user) for user in users if not user.is_vetted}
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc())
    ).all()
    return render_template(
        "admin/index.html",
        users=users,
        invitations=invitations,
        invite_form=invite_form,
        confirm_form=ConfirmForm(),
        role_form=RoleForm(),
        set_up_by=set_up_by,
        moment=now(),
        software_keys=not keystore.uses_token(),
    )


@bp.post("/invitations")
@role_required(Role.ADMIN)
@reauth_required
def invite() -> ResponseReturnValue:
    """Create an invitation link to show to the admin (and email it if SMTP is set up)."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            token, link = services.invite_user(
                form.email.data or "",
                form.name.data or "",
                Role(form.role.data),
                actor=current_staff(),
            )
        except services.AccountError as error:
            form.email.errors = [str(error)]
        else:
            return _link_page(token, link, _("Your invitation"))
    flash(_("The invitation was not created: check the form."), "error")
    return _admin_page(form), 400


@bp.post("/invitations/<int:invitation_id>/revoke")
@role_required(Role.ADMIN)
def revoke_invitation(invitation_id: int) -> ResponseReturnValue:
    """Make an unused invitation unusable."""
    link = db.session.get(Invitation, invitation_id)
    if link is None or not ConfirmForm().validate_on_submit():
        abort(404)
    services.revoke_invitation(link, actor=current_staff())
    db.session.commit()
    flash(_("Invitation revoked."), "info")
    return redirect(url_for("admin.index"))


def _user_action(user_id: int, action: str) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = user.name
    actions = {
        "vet": (vetting.vet_user, _("%(name)s is vetted and can sign in.", name=name)),
        "deactivate": (
            services.deactivate_user,
            _("%(name)s is deactivated; their sessions ended.", name=name),
        ),
        "reactivate": (services.reactivate_user, _("%(name)s can sign in again.", name=name)),
        "unlock": (services.unlock_user, _("%(name)s is unlocked.", name=name)),
    }
    function, message = actions[action]
    try:
        function(user, actor=current_staff())
    except services.AccountError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.index"))
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/vet")
@role_required(Role.ADMIN)
@reauth_required
def vet(user_id: int) -> ResponseReturnValue:
    """Mark a user vetted."""
    return _user_action(user_id, "vet")


@bp.post("/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate(user_id: int) -> ResponseReturnValue:
    """Deactivate a user and end their sessions."""
    return _user_action(user_id, "deactivate")


@bp.post("/users/<int:user_id>/reactivate")
@role_required(Role.ADMIN)
@reauth_required
def reactivate(user_id: int) -> ResponseReturnValue:
    """Reactivate a user."""
    return _user_action(user_id, "reactivate")


@bp.post("/users/<int:user_id>/unlock")
@role_required(Role.ADMIN)
@reauth_required
def unlock(user_id: int) -> ResponseReturnValue:
    """Lift a lockout."""
    return _user_action(user_id, "unlock")


@bp.post("/users/<int:user_id>/role")
@role_required(Role.ADMIN)
@reauth_required
def change_role(user_id: int) -> ResponseReturnValue:
    """Ask for a user's role to change; it applies when a second admin approves."""
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = vetting.request_role_change(user, Role(form.role.data), actor=current_staff())
    except services.AccountError as error:
        flash(str(error), "error")
    else:
        db.session.commit()
        if changed and user.pending_role is not None:
            flash(
                _(
                    "Asked to make %(name)s %(role)s: another admin must approve it.",
                    name=user.name,
                    role=user.pending_role.label,
                ),
                "info",
            )
        elif changed:
            flash(_("The waiting role change for %(name)s is withdrawn.", name=user.name), "info")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/role/approve")
@role_required(Role.ADMIN)
@reauth_required
def approve_role(user_id: int) -> ResponseReturnValue:
    """A second admin approves a waiting role change."""
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        vetting.approve_role_change(user, actor=current_staff())
    except services.AccountError as error:
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(
            _(
                "%(name)s is now %(role)s; their sessions ended.",
                name=user.name,
                role=user.role.label,
            ),
            "info",
        )
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/role/cancel")
@role_required(Role.ADMIN)
def cancel_role(user_id: int) -> ResponseReturnValue:
    """Withdraw a waiting role change (taking access back needs no second person)."""
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    vetting.cancel_role_change(user, actor=current_staff())
    db.session.commit()
    flash(_("The waiting role change for %(name)s is withdrawn.", name=user.name), "info")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/reset")
@role_required(Role.ADMIN)
@reauth_required
def reset(user_id: int) -> ResponseReturnValue:
    """Reset a user's password and authenticator; a new one-time link is shown."""
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if user.id == current_staff().id:
        flash(_("You cannot reset your own account; ask another admin."), "error")
        return redirect(url_for("admin.index"))
    token, link = services.issue_reset_link(user, actor=current_staff())
    return _link_page(token, link, _("Reset your sign-in"))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log() -> ResponseReturnValue:
    """The audit log, newest first, filtered by action, object and actor."""
    form = AuditFilterForm(request.args)
    query = select(AuditRecord).order_by(AuditRecord.id.desc())
    if form.validate():
        if form.action.data:
            query = query.where(AuditRecord.action.startswith(form.action.data.strip()))
        if form.object_type.data:
            query = query.where(AuditRecord.object_type == form.object_type.data.strip())
        if form.object_id.data:
            query = query.where(AuditRecord.object_id == form.object_id.data.strip())
        if form.actor_id.data and form.actor_id.data.strip().isdigit():
            query = query.where(AuditRecord.actor_id == int(form.actor_id.data))
    page = db.paginate(query, per_page=AUDIT_PAGE_SIZE, error_out=False)
    names = {user.id: user.name for user in db.session.scalars(select(User))}
    pager_args = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "admin/audit.html", form=form, page=page, names=names, pager_args=pager_args
    )


@bp.get("/security")
@role_required(Role.ADMIN)
def security_events() -> ResponseReturnValue:
    """Security events, newest first: what every admin should know happened."""
    page = db.paginate(events.events_query(), per_page=AUDIT_PAGE_SIZE, error_out=False)
    details = {entry.id: events.details_of(entry) for entry in page.items}
    people = {entry.actor_id for entry in page.items}
    people |= {entry.object_id for entry in page.items if entry.object_type == "user"}
    people |= {detail.get("staff") for detail in details.values()}
    return render_template(
        "admin/security.html",
        page=page,
        details=details,
        events=events.known_events(),
        names=_names(people),
        roles=ROLE_LABELS,  # by value: a role in the details reads as its label
    )


def _names(ids: set[object]) -> dict[str, str]:
    """Staff names by id (as text: audit object ids are text) for the ids a page mentions."""
    wanted = {int(str(value)) for value in ids if value is not None and str(value).isdigit()}
    rows = db.session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {str(row.id): row.name for row in rows}
