"""Security events: the audit records every admin should see (a new assignment to a case,
break-glass, vetting, role changes, lockdown, duplicate referrals, card-testing alarms), listed
in the admin area and, when SMTP is configured, emailed to every admin once committed.

Each package names its own events (`add_security_events` from its init_app); accounts knows
none of the others. The email says what happened and when, and links to the list: never a
name, a case's contents, or anything else personal."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from accounts.mail import in_staff_language, send_mail
from accounts.models import Role, User
from audit.models import AuditRecord
from audit.services import add_listener
from extensions import db
from security.urls import external_url

log = logging.getLogger(__name__)
EVENTS_KEY = "security_events"
PENDING_KEY = "security_events_pending"


CASEWORKER_NAMED = _l("Caseworker %(name)s.")


@dataclass(frozen=True)
class SecurityEvent:
    """An audit action admins must see: its label in the list and the email's subject."""

    action: str
    label: str | LazyString  # lazy_gettext: the list and the email read in their own language
    # The page about the object, as an endpoint and the name of its id argument (the cases
    # package names its own manage page; accounts knows no other package's routes).
    link: tuple[str, str] | None = None
    # The sentence about the person a "staff" id in the details names, with %(name)s for them.
    staff_label: str | LazyString = CASEWORKER_NAMED


def add_security_events(app: Flask, *events: SecurityEvent) -> None:
    """Each package adds the actions of its own that are security events."""
    known: dict[str, SecurityEvent] = app.extensions.setdefault(EVENTS_KEY, {})
    for item in events:
        known[item.action] = item


def known_events() -> dict[str, SecurityEvent]:
    """Every security event this app was built with, by action."""
    events: dict[str, SecurityEvent] = current_app.extensions.get(EVENTS_KEY, {})
    return events


def events_query() -> Select[AuditRecord]:
    """The security events, newest first."""
    return (
        select(AuditRecord)
        .where(AuditRecord.action.in_(sorted(known_events())))
        .order_by(AuditRecord.id.desc())
    )


def details_of(entry: AuditRecord) -> dict[str, Any]:
    """An audit record's details as a dict."""
    details: dict[str, Any] = json.loads(entry.details or "{}")
    return details


# --- Email to admins, after the transaction that recorded the event commits -----------------


def _remember(entry: AuditRecord) -> None:
    """The audit log's listener: note a security event for the email after commit."""
    if entry.action in known_events():
        pending: list[tuple[str, str]] = db.session.info.setdefault(PENDING_KEY, [])
        pending.append((entry.action, entry.created_at.strftime("%Y-%m-%d %H:%M UTC")))


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(PENDING_KEY, None)


def _send_after_commit(session: Session) -> None:
    pending: list[tuple[str, str]] = session.info.pop(PENDING_KEY, [])
    if not pending or not has_app_context() or not current_app.config.get("SMTP_HOST"):
        return
    try:
        notify_admins(pending)
    except Exception:  # an email problem never undoes or breaks the action that was committed
        log.exception("security event email not sent")


def _list_url() -> str:
    """The security events page, from PUBLIC_URL (a command-line action has no request)."""
    return external_url("admin.security_events")


def notify_admins(pending: list[tuple[str, str]]) -> bool:
    """Email every active, vetted admin what happened and when (no names, no case contents)."""
    with Session(db.engine) as reading:  # the committed session must not start a new transaction
        admins = reading.scalars(
            select(User.email).where(
                User.role == Role.ADMIN, User.is_active.is_(True), User.is_vetted.is_(True)
            )
        ).all()
    if not admins:
        return False
    events = known_events()
    with in_staff_language():
        labels = [f"- {at}: {events[action].label}" for action, at in pending]
        subject = str(events[pending[0][0]].label)
        if len(pending) > 1:
            subject = ngettext(
                "%(event)s (and %(num)d more)",
                "%(event)s (and %(num)d more)",
                len(pending) - 1,
                event=subject,
            )
        body = (
            _("Security events were recorded:")
            + "\n\n"
            + "\n".join(labels)
            + "\n\n"
            + _("See who and what in the admin area, under Security events:")
            + "\n"
            + _list_url()
            + "\n"
        )
        subject = _("Security event: %(event)s", event=subject)
    return send_mail(list(admins), subject, body)


ACCOUNT_EVENTS = (
    SecurityEvent("invitation.created", _l("Invitation created")),
    SecurityEvent("user.reset_issued", _l("Sign-in reset issued")),
    SecurityEvent("user.vetted", _l("Account vetted")),
    SecurityEvent("user.role_change_requested", _l("Role change asked for")),
    SecurityEvent("user.role_changed", _l("Role changed"), staff_label=_l("Asked by %(name)s.")),
    SecurityEvent("user.reactivated", _l("Account reactivated")),
    SecurityEvent("user.unlocked", _l("Account unlocked")),
    SecurityEvent("user.duress_locked", _l("Account locked by its owner (duress)")),
    SecurityEvent("user.deactivated", _l("Account deactivated")),
    SecurityEvent("account.failures_alarm", _l("Many failed sign-ins for one account")),
)


def init_app(app: Flask) -> None:
    """Listen for security events in the audit log, and email them once committed."""
    add_security_events(app, *ACCOUNT_EVENTS)
    add_listener(app, _remember)
    scoped = db.session
    if not event.contains(scoped, "after_commit", _send_after_commit):
        event.listen(scoped, "after_commit", _send_after_commit)
        event.listen(scoped, "after_rollback", _forget)
