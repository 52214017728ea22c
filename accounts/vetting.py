"""Two people for every grant of access: vetting a new or reset account, and role changes.

An account is vetted by an admin other than the one who set it up (invitation or reset link);
a role change asked for by one admin applies only when a second approves it. A group with a
single admin does either from the server's command line, and the audit log says so."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

import audit
from accounts.models import Invitation, Role, User
from accounts.services import AccountError
from accounts.sessions import end_all_sessions
from extensions import db
from security.clock import now


def inviter_of(user: User) -> int | None:
    """The admin who issued the link this account was last set up from (invitation or reset)."""
    return db.session.scalar(
        select(Invitation.invited_by_id)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_not(None))
        .order_by(Invitation.used_at.desc(), Invitation.id.desc())
        .limit(1)
    )


def _other_admins(*excluded: int | None) -> int:
    """How many active, vetted admins there are besides these people."""
    query = select(func.count(User.id)).where(
        User.role == Role.ADMIN,
        User.is_active.is_(True),
        User.is_vetted.is_(True),
        User.id.not_in([user_id for user_id in excluded if user_id is not None]),
    )
    return int(db.session.scalar(query) or 0)


def vet_user(user: User, *, actor: User) -> None:
    """Mark a user as vetted so they can sign in: by an admin other than the one who set the
    account up, so no single admin can mint an account of their own."""
    if user.is_vetted:
        return
    if user.totp_confirmed_at is None or user.password_hash is None:
        raise AccountError(
            _("%(name)s has not finished setting up their account yet.", name=user.name)
        )
    if inviter_of(user) == actor.id:
        raise AccountError(
            _("You set up %(name)s's account, so another admin must vet them.", name=user.name)
        )
    user.is_vetted = True
    user.vetted_at = now()
    audit.record(actor, "user.vetted", "user", user.id, role=user.role.value, method="admin")


SINGLE_ADMIN_ONLY = (
    "Another admin can do this in the admin area; the command line does it only when "
    "there is no second admin who could."
)


def vet_user_from_cli(user: User) -> None:
    """Vet from the server's command line: only when no admin but the one who set the account
    up could vet it (a group with a single admin), and the audit log says so."""
    if user.is_vetted:
        raise AccountError(f"{user.email} is already vetted.")
    if user.totp_confirmed_at is None or user.password_hash is None:
        raise AccountError(f"{user.email} has not finished setting up their account yet.")
    if _other_admins(inviter_of(user), user.id):
        raise AccountError(SINGLE_ADMIN_ONLY)
    user.is_vetted = True
    user.vetted_at = now()
    audit.record(
        None,
        "user.vetted",
        "user",
        user.id,
        role=user.role.value,
        method="cli",
        reason="single admin",
    )


def request_role_change(user: User, role: Role, *, actor: User) -> bool:
    """Ask for a user's role to change; a second admin approves it. False when nothing changes."""
    if user.id == actor.id:
        raise AccountError(_("You cannot change your own role."))
    if user.role is role:
        if user.pending_role is None:
            return False
        cancel_role_change(user, actor=actor)
        return True
    user.pending_role = role
    user.role_requested_by_id = actor.id
    user.role_requested_at = now()
    audit.record(
        actor,
        "user.role_change_requested",
        "user",
        user.id,
        old_role=user.role.value,
        new_role=role.value,
    )
    return True


def approve_role_change(user: User, *, actor: User) -> None:
    """A second admin approves a requested role change; the user's sessions end so it applies
    everywhere at once."""
    if user.pending_role is None:
        raise AccountError(_("No role change is waiting for %(name)s.", name=user.name))
    if user.id == actor.id:
        raise AccountError(_("You cannot approve a change of your own role."))
    if user.role_requested_by_id == actor.id:
        raise AccountError(_("You asked for this change, so another admin must approve it."))
    _apply_role(user, user.pending_role, actor, method="admin")


def _apply_role(user: User, role: Role, actor: User | None, *, method: str) -> None:
    old_role = user.role
    requested_by = user.role_requested_by_id
    user.role = role
    user.pending_role = None
    user.role_requested_by_id = None
    user.role_requested_at = None
    ended = end_all_sessions(user)
    audit.record(
        actor,
        "user.role_changed",
        "user",
        user.id,
        old_role=old_role.value,
        new_role=role.value,
        staff=requested_by,
        method=method,
        sessions_ended=ended,
    )


def change_role_from_cli(user: User, role: Role) -> None:
    """Change a role from the server's command line: only when the admin area could not (it
    takes one admin to ask and a second to approve, neither of them the person changed)."""
    if user.role is role:
        raise AccountError(f"{user.email} already has the role {role.value}.")
    if user.role is Role.ADMIN and not _other_admins(user.id):
        raise AccountError("This is the only admin: there would be no admin left.")
    if _other_admins(user.id) >= 2:  # one to ask and another to approve: the admin area
        raise AccountError(SINGLE_ADMIN_ONLY)
    _apply_role(user, role, None, method="cli")


def cancel_role_change(user: User, *, actor: User) -> None:
    """Withdraw a waiting role change (any admin may)."""
    if user.pending_role is None:
        return
    audit.record(
        actor, "user.role_change_cancelled", "user", user.id, new_role=user.pending_role.value
    )
    user.pending_role = None
    user.role_requested_by_id = None
    user.role_requested_at = None
