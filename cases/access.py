"""Who may open a case: the one place that decides, its audited exceptions (break-glass for an
admin, for a short while, with a reason) and the emergency lockdown that closes every case."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, false, select

import audit
from accounts.models import Role, User
from accounts.sessions import end_every_session
from audit.models import AuditRecord
from cases import encryption
from cases.encryption import CaseError
from cases.models import BreakGlass, Case, CaseAssignment, Lockdown
from extensions import db
from security.clock import now

BREAK_GLASS_MINUTES = 30


class CaseNotFound(LookupError):
    """No such case for this person: missing, not theirs, or purged (never says which)."""


class CasesLockedDown(PermissionError):
    """An emergency lockdown is on: no case opens for anyone."""


def is_locked_down() -> bool:
    """True while an emergency lockdown is active."""
    return db.session.scalar(select(Lockdown.id).where(Lockdown.lifted_at.is_(None))) is not None


def require_open() -> None:
    """Every way into case records passes here (the functions below and intake), so a
    lockdown closes them all at once; views answer CasesLockedDown with the locked page."""
    if is_locked_down():
        raise CasesLockedDown(_("Case records are locked down by an admin."))


def cases_visible_to(user: User) -> Select[Case]:
    """The cases whose contents this user may read: assigned ones, or break-glass for admins."""
    require_open()
    query = select(Case).where(Case.purged_at.is_(None))
    if user.role is Role.CASEWORKER:
        return query.where(
            Case.id.in_(select(CaseAssignment.case_id).where(CaseAssignment.user_id == user.id))
        )
    if user.role is Role.ADMIN:
        return query.where(
            Case.id.in_(
                select(BreakGlass.case_id).where(
                    BreakGlass.admin_id == user.id, BreakGlass.expires_at > now()
                )
            )
        )
    return query.where(false())


def get_case_for(user: User, case_id: str, action: str = "read") -> Case:
    """A case the user may open, or CaseNotFound (audited) — the only way views fetch a case."""
    case = db.session.scalar(cases_visible_to(user).where(Case.id == case_id))
    if case is None:
        audit.record(user, "case.access_denied", "case", case_id[:64], method=action)
        raise CaseNotFound(case_id)
    if action in ("read", "export"):
        audit.record(user, f"case.{action}", "case", case.id)
    return case


def case_overview_for_admin() -> list[Case]:
    """Every case's clear fields (code, stage, risk, region, dates) for the admin list."""
    require_open()
    return list(db.session.scalars(select(Case).order_by(Case.created_at.desc())))


def case_facts_for_admin(admin: User, case_id: str) -> Case:
    """A case for the admin's own work on it (assign, unassign, purge): its clear facts only,
    since contents open to an admin through break-glass alone. CaseNotFound for anyone else,
    and for a purged or missing case."""
    require_open()
    if admin.role is not Role.ADMIN:
        raise CaseNotFound(case_id)
    case = db.session.scalar(select(Case).where(Case.id == case_id, Case.purged_at.is_(None)))
    if case is None:
        raise CaseNotFound(case_id)
    return case


# --- Break-glass and lockdown ----------------------------------------------------------------


def break_glass(case_id: str, admin: User, reason: str) -> BreakGlass:
    """Open one case to an admin for a short while, with a reason; audited and shown."""
    case = case_facts_for_admin(admin, case_id)
    if len(reason.strip()) < 10:
        raise CaseError(_("Explain why you need to open this case (at least a sentence)."))
    moment = now()
    grant = BreakGlass(
        case_id=case.id,
        admin_id=admin.id,
        created_at=moment,
        expires_at=moment + timedelta(minutes=BREAK_GLASS_MINUTES),
        reason_enc=encryption.encrypt(case, reason.strip(), "break-glass") or b"",
    )
    db.session.add(grant)
    audit.record(admin, "case.break_glass", "case", case.id)
    return grant


def break_glass_history(case: Case) -> list[tuple[BreakGlass, str | None]]:
    """Every break-glass opening of the case (shown to its caseworkers)."""
    grants = db.session.scalars(
        select(BreakGlass).where(BreakGlass.case_id == case.id).order_by(BreakGlass.id.desc())
    )
    return [(grant, encryption.decrypt(case, grant.reason_enc, "break-glass")) for grant in grants]


# Each change as a whole sentence, for the page to fill with the names: the person who made it
# (%(actor)s) and the caseworker it concerns (%(staff)s).
ACCESS_ACTIONS = {
    "case.created": _l("%(actor)s opened the case."),
    "case.assigned": _l("%(actor)s assigned %(staff)s."),
    "case.unassigned": _l("%(actor)s took off the case %(staff)s."),
    "case.break_glass": _l("%(actor)s opened it through break-glass."),
}


@dataclass(frozen=True)
class AccessChange:
    """One change of who can open a case: who did it, when, and to whom."""

    at: datetime
    actor_id: int | None
    what: LazyString  # a sentence with %(actor)s and %(staff)s for the names
    staff_id: int | None


def access_history(case: Case) -> list[AccessChange]:
    """Every change of who can open the case, oldest first, from the audit log (which nobody
    can edit quietly): shown to its caseworkers, so nobody is assigned silently."""
    rows = db.session.scalars(
        select(AuditRecord)
        .where(
            AuditRecord.object_type == "case",
            AuditRecord.object_id == case.id,
            AuditRecord.action.in_(sorted(ACCESS_ACTIONS)),
        )
        .order_by(AuditRecord.id)
    )
    changes = []
    for row in rows:
        staff = json.loads(row.details or "{}").get("staff")
        changes.append(
            AccessChange(row.created_at, row.actor_id, ACCESS_ACTIONS[row.action], staff)
        )
    return changes


def start_lockdown(actor: User) -> int:
    """End every staff session and close case pages to everyone until lifted."""
    if not is_locked_down():
        db.session.add(Lockdown(started_by_id=actor.id, started_at=now()))
    ended = end_every_session()
    audit.record(actor, "lockdown.started", "system", None, sessions_ended=ended)
    return ended


def lift_lockdown(actor: User) -> None:
    """Open case pages again."""
    for lockdown in db.session.scalars(select(Lockdown).where(Lockdown.lifted_at.is_(None))):
        lockdown.lifted_at = now()
        lockdown.lifted_by_id = actor.id
    audit.record(actor, "lockdown.lifted", "system", None)
