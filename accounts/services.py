"""Account rules: creating, vetting and locking users; login with TOTP; invitation links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select

import audit
from accounts import throttle
from accounts.models import Invitation, LinkPurpose, Role, SessionStage, StaffSession, User
from accounts.passwords import check_password_policy, hash_password, verify_password
from accounts.sessions import end_all_sessions, hash_token, new_token, start_session
from accounts.totp import new_totp_secret, verify_totp
from extensions import db
from security.clock import now

GENERIC_LOGIN_FAILURE = _l(
    "Sign-in failed: the email, password or code was not right. "
    "After repeated failures from one place, each try there waits longer than the last."
)


class AccountError(ValueError):
    """An account action that cannot be done; the message is safe to show."""


class LinkNotUsable(AccountError):
    """The invitation or reset link is unknown, used, revoked or expired."""


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    """The user with this email, if any."""
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


# --- Users ----------------------------------------------------------------------------------


def create_user(email: str, name: str, role: Role, password: str, *, actor: User | None) -> User:
    """Create a vetted user with a TOTP secret (the CLI path); audited."""
    email = normalise_email(email)
    if find_user_by_email(email):
        raise AccountError(_("A user with this email already exists."))
    check_password_policy(password, email, name)
    moment = now()
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        is_vetted=True,
        vetted_at=moment,
        password_changed_at=moment,
    )
    new_totp_secret(user)
    user.totp_confirmed_at = moment
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.created", "user", user.id, role=role.value, method="cli")
    return user


def deactivate_user(user: User, *, actor: User) -> int:
    """Deactivate a user and end their sessions at once."""
    if user.id == actor.id:
        raise AccountError(_("You cannot deactivate your own account."))
    user.is_active = False
    ended = end_all_sessions(user)
    audit.record(actor, "user.deactivated", "user", user.id, sessions_ended=ended)
    return ended


def reactivate_user(user: User, *, actor: User) -> None:
    """Let a deactivated user sign in again."""
    user.is_active = True
    audit.record(actor, "user.reactivated", "user", user.id)


def unlock_user(user: User, *, actor: User) -> None:
    """Lift a duress lock (after an admin has checked in with the person)."""
    user.locked_until = None
    audit.record(actor, "user.unlocked", "user", user.id)


def change_password(user: User, current: str, new: str, network: str) -> int:
    """Change a password after checking the current one (throttled like sign-in); every
    session of the user ends."""
    throttle.check(user.email, network)
    if not verify_password(user.password_hash, current):
        _register_failure(user, "password change", network)
        raise AccountError(_("The current password is not right."))
    check_password_policy(new, user.email, user.name)
    user.password_hash = hash_password(new)
    user.password_changed_at = now()
    ended = end_all_sessions(user)
    audit.record(user, "user.password_changed", "user", user.id, sessions_ended=ended)
    return ended


def log_out_everywhere(user: User) -> int:
    """End every session of the user, on every device; audited."""
    ended = end_all_sessions(user)
    audit.record(user, "sessions.ended_all", "user", user.id, sessions_ended=ended)
    return ended


DURESS_LOCK_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


def duress_lock(user: User) -> int:
    """A seized phone or laptop: end every session and lock the account until an admin
    unlocks it after checking in with the person."""
    user.locked_until = DURESS_LOCK_UNTIL
    ended = end_all_sessions(user)
    audit.record(user, "user.duress_locked", "user", user.id, sessions_ended=ended)
    return ended


# --- Login ----------------------------------------------------------------------------------


def _register_failure(user: User, reason: str, network: str) -> None:
    audit.record(user.id, "login.failed", "user", user.id, reason=reason)
    throttle.register_failure(user.email, network, user.id)


def begin_login(email: str, password: str, network: str) -> str:
    """Check the password and open a pending session; the answer never says what was wrong.
    Throttled (before anything is checked) after repeated failures from this address."""
    throttle.check(email, network)
    user = find_user_by_email(email)
    is_locked = user is not None and user.is_locked(now())
    is_password_ok = verify_password(user.password_hash if user else None, password)
    if user is not None and is_locked:
        is_password_ok = False
        audit.record(user.id, "login.failed", "user", user.id, reason="locked")
    elif user is not None and not is_password_ok:
        _register_failure(user, "password", network)
    elif user is None:
        audit.record(None, "login.failed", "user", None, reason="unknown email")
        throttle.register_failure(email, network, None)  # counted the same, known or not
    token, _session = start_session(user, SessionStage.PENDING, is_password_ok=is_password_ok)
    return token


@dataclass(frozen=True)
class LoginResult:
    """What the second step decided: a session token, or a message to show."""

    token: str | None = None
    user: User | None = None
    message: str | LazyString = GENERIC_LOGIN_FAILURE


def complete_login(pending: StaffSession, code: str, network: str) -> LoginResult:
    """Check the TOTP code of a pending sign-in; on success start a fresh session token."""
    user = pending.user
    db.session.delete(pending)
    if user is None or not pending.is_password_ok or user.is_locked(now()):
        return LoginResult()
    throttle.check(user.email, network)
    if not verify_totp(user, code):
        _register_failure(user, "code", network)
        return LoginResult()
    # Password and code both proved who this is: now it is safe to say why they cannot enter.
    if not user.is_active:
        audit.record(user, "login.refused", "user", user.id, reason="deactivated")
        return LoginResult(message=_("This account has been deactivated. Ask an admin."))
    if not user.is_vetted:
        audit.record(user, "login.refused", "user", user.id, reason="not vetted")
        return LoginResult(message=_("Your account is waiting to be vetted by an admin."))
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = now()
    throttle.clear(user.email, network)
    token, _session = start_session(user, SessionStage.ACTIVE)
    audit.record(user, "login.succeeded", "user", user.id)
    return LoginResult(token=token, user=user, message="")


def reauthenticate(session_row: StaffSession, password: str, code: str, network: str) -> bool:
    """Confirm password and code again before a sensitive action (throttled like sign-in)."""
    user = session_row.user
    if user is None:
        return False
    throttle.check(user.email, network)
    is_password_ok = verify_password(user.password_hash, password)
    if not (is_password_ok and verify_totp(user, code)):
        _register_failure(user, "reauthentication", network)
        return False
    throttle.clear(user.email, network)
    session_row.reauthenticated_at = now()
    audit.record(user, "user.reauthenticated", "user", user.id)
    return True


def is_recently_reauthenticated(session_row: StaffSession) -> bool:
    """True within REAUTH_MINUTES of the last password + code check."""
    if session_row.reauthenticated_at is None:
        return False
    window = timedelta(minutes=current_app.config["REAUTH_MINUTES"])
    return now() - session_row.reauthenticated_at <= window


# --- Invitations and re-enrolment links -----------------------------------------------------


def link_hours(purpose: LinkPurpose) -> int:
    """How long a new link of this kind stays valid (INVITATION_HOURS, RESET_LINK_HOURS)."""
    setting = "RESET_LINK_HOURS" if purpose is LinkPurpose.RESET else "INVITATION_HOURS"
    return int(current_app.config[setting])


def _revoke_open_links(email: str, keep: Invitation | None = None) -> int:
    """Make every unused link for this email unusable (but `keep`): one open link per person."""
    revoked = 0
    for earlier in db.session.scalars(
        select(Invitation).where(
            Invitation.email == email,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        if earlier is not keep:
            earlier.revoked_at = now()
            revoked += 1
    return revoked


def _issue_link(
    purpose: LinkPurpose, email: str, name: str, role: Role, user: User | None, actor: User
) -> tuple[str, Invitation]:
    token, token_hash = new_token()
    moment = now()
    link = Invitation(
        token_hash=token_hash,
        purpose=purpose,
        email=email,
        name=name,
        role=role,
        user_id=user.id if user else None,
        invited_by_id=actor.id,
        created_at=moment,
        expires_at=moment + timedelta(hours=link_hours(purpose)),
    )
    db.session.add(link)
    db.session.flush()
    return token, link


def invite_user(email: str, name: str, role: Role, *, actor: User) -> tuple[str, Invitation]:
    """Create a one-time invitation link for a new staff member (shown to the admin once)."""
    email = normalise_email(email)
    if find_user_by_email(email):
        raise AccountError(_("A user with this email already exists."))
    _revoke_open_links(email)
    token, link = _issue_link(LinkPurpose.INVITE, email, name.strip(), role, None, actor)
    audit.record(actor, "invitation.created", "invitation", link.id, role=role.value)
    return token, link


def issue_reset_link(user: User, *, actor: User) -> tuple[str, Invitation]:
    """Reset a user's password and authenticator: their sessions end, a new link is issued,
    and the account needs vetting again (whoever opens the link is not yet known to be them)."""
    user.password_hash = None
    user.totp_secret_sealed = None
    user.totp_confirmed_at = None
    user.is_vetted = False
    user.vetted_at = None
    ended = end_all_sessions(user)
    revoked = _revoke_open_links(user.email)  # an older link must not hand the account over
    token, link = _issue_link(LinkPurpose.RESET, user.email, user.name, user.role, user, actor)
    audit.record(
        actor, "user.reset_issued", "user", user.id, sessions_ended=ended, links_revoked=revoked
    )
    return token, link


def revoke_invitation(link: Invitation, *, actor: User) -> None:
    """Make an unused link unusable."""
    link.revoked_at = now()
    audit.record(actor, "invitation.revoked", "invitation", link.id)


def find_usable_link(token: str) -> Invitation:
    """The invitation for a token, or LinkNotUsable with a message for the person holding it."""
    link = db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if link is None:
        raise LinkNotUsable(_("This link is not valid. Ask an admin for a new one."))
    if link.used_at is not None:
        raise LinkNotUsable(_("This link has already been used. Ask an admin for a new one."))
    if link.revoked_at is not None or link.expires_at <= now():
        raise LinkNotUsable(_("This link has expired. Ask an admin for a new one."))
    return link


def accept_link(link: Invitation, password: str) -> tuple[str, User]:
    """Set the password, give a new TOTP secret, and open an enrolment session."""
    check_password_policy(password, link.email, link.name)
    moment = now()
    if link.purpose is LinkPurpose.INVITE:
        if find_user_by_email(link.email):
            raise LinkNotUsable(_("An account with this email already exists."))
        user = User(email=link.email, name=link.name, role=link.role, is_vetted=False)
        db.session.add(user)
    else:
        found = db.session.get(User, link.user_id)
        if found is None:
            raise LinkNotUsable(_("This link is not valid. Ask an admin for a new one."))
        user = found
    user.password_hash = hash_password(password)
    user.password_changed_at = moment
    new_totp_secret(user)
    link.used_at = moment
    _revoke_open_links(link.email, keep=link)
    db.session.flush()
    link.user_id = user.id
    audit.record(user, "invitation.accepted", "invitation", link.id, scope=link.purpose.value)
    token, _session = start_session(user, SessionStage.ENROLLING)
    return token, user


def confirm_enrolment(session_row: StaffSession, code: str) -> User:
    """Confirm the authenticator app with its first code, then end the enrolment session."""
    user = session_row.user
    if user is None:
        raise AccountError(_("This enrolment has ended. Sign in or ask an admin for a new link."))
    if not verify_totp(user, code):
        raise AccountError(_("That code is not right. Check the time on your phone and try again."))
    user.totp_confirmed_at = now()
    db.session.delete(session_row)
    audit.record(user, "two_factor.enrolled", "user", user.id)
    return user
