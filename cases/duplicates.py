"""Duplicate referrals without an oracle.

"Is this person already a case?" is asked by blind index (cases.encryption), and the answer is
never given to the caseworker who asked: a referral that matches another live case is saved
exactly like any other, and the hit goes to the admins' review list (with both case codes) and
into the audit log, committed with the case. So a caseworker cannot learn, by trying names or
phone numbers, whether someone they cannot see is known. To keep probing slow as well as blind:

- an intake takes one legal name, one other name and one contact; more go in once the case
  exists, one new name and one new contact per save, each checked the same way;
- DUPLICATE_HIT_LIMIT hits by one caseworker within DUPLICATE_HIT_WINDOW_HOURS pause intake
  (and adding names or contacts) for them, and admins see it as a security event, until an
  admin lifts the pause.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

import audit
from accounts.models import User
from audit.models import AuditRecord
from cases.encryption import CaseError, index_entries
from cases.models import BlindIndexEntry, Case, DuplicateReview, IntakePause
from extensions import db
from security.clock import now

SEPARATORS = (",", ";", "\n")
HIT = "case.duplicate_hit"
PAUSED_MESSAGE = _l(
    "Intake is paused for your account, and an admin has been told. "
    "They will lift it after talking with you."
)


class IntakePaused(CaseError):
    """Intake (and adding names or contacts) is paused for this caseworker."""


def check_legal_name(identity: dict[str, str | None]) -> None:
    """A case has one legal name (the index reads commas and semicolons as separators)."""
    if any(mark in (identity.get("legal_name") or "") for mark in SEPARATORS):
        raise CaseError(_("Enter one legal name, without commas or semicolons."))


def check_single_identity(identity: dict[str, str | None]) -> None:
    """An intake names one person by one legal name, one other name and one contact."""
    check_legal_name(identity)
    if any(mark in (identity.get("known_as") or "").strip() for mark in SEPARATORS):
        raise CaseError(_("Enter one other name now; add more once the case is saved."))
    if any(mark in (identity.get("contact") or "").strip() for mark in SEPARATORS):
        raise CaseError(_("Enter one contact now; add more once the case is saved."))


def check_additions(before: dict[str, str | None], after: dict[str, str | None]) -> int:
    """An edit adds at most one new name and one new contact; the number of new entries."""
    new = set(index_entries(after)) - set(index_entries(before))
    kinds = [kind for kind, _ in new]
    if kinds.count("name") > 1 or kinds.count("contact") > 1:
        raise CaseError(
            _(
                "Add one new name and one new contact at a time: each is checked against"
                " other cases."
            )
        )
    return len(new)


def _matches(case: Case, digests: list[str]) -> dict[str, set[str]]:
    """Other live cases sharing any of these digests, with what matched."""
    if not digests:
        return {}
    rows = db.session.execute(
        select(BlindIndexEntry.case_id, BlindIndexEntry.kind)
        .join(Case, Case.id == BlindIndexEntry.case_id)
        .where(
            BlindIndexEntry.digest.in_(digests),
            BlindIndexEntry.case_id != case.id,
            Case.purged_at.is_(None),
        )
    )
    found: dict[str, set[str]] = {}
    for case_id, kind in rows:
        found.setdefault(case_id, set()).add(kind)
    return found


def record_hits(case: Case, found_by: User, digests: list[str]) -> int:
    """Put every match for these digests on the admins' review list and in the audit log;
    pause intake for a caseworker with too many. Returns the number of matched cases (for
    the caller's records only: nothing about it may reach the caseworker)."""
    matches = _matches(case, digests)
    for matched_case_id, kinds in sorted(matches.items()):
        db.session.add(
            DuplicateReview(
                case_id=case.id,
                matched_case_id=matched_case_id,
                kinds=",".join(sorted(kinds)),
                found_by_id=found_by.id,
                found_at=now(),
            )
        )
    if matches:
        audit.record(found_by, HIT, "case", case.id, count=len(matches))
        db.session.flush()
        _pause_if_probing(found_by)
    return len(matches)


def _open_pause(user_id: int) -> IntakePause | None:
    return db.session.scalar(
        select(IntakePause).where(IntakePause.user_id == user_id, IntakePause.lifted_at.is_(None))
    )


def require_intake_open(user: User) -> None:
    """IntakePaused while an admin has not lifted this caseworker's pause."""
    if _open_pause(user.id) is not None:
        raise IntakePaused(str(PAUSED_MESSAGE))


def _pause_if_probing(user: User) -> None:
    config = current_app.config
    since: datetime = now() - timedelta(hours=config["DUPLICATE_HIT_WINDOW_HOURS"])
    last_lift = db.session.scalar(
        select(func.max(IntakePause.lifted_at)).where(IntakePause.user_id == user.id)
    )
    if last_lift is not None and last_lift > since:
        since = last_lift  # a lifted pause starts the count again
    hits = db.session.scalar(  # saves that matched: one audited hit each
        select(func.count(AuditRecord.id)).where(
            AuditRecord.action == HIT,
            AuditRecord.actor_id == user.id,
            AuditRecord.created_at > since,
        )
    )
    if (hits or 0) >= config["DUPLICATE_HIT_LIMIT"] and _open_pause(user.id) is None:
        db.session.add(IntakePause(user_id=user.id, started_at=now()))
        audit.record(None, "case.intake_paused", "user", user.id, count=hits)


# --- The admins' review ------------------------------------------------------------------------


def open_reviews() -> list[DuplicateReview]:
    """Hits not yet reviewed, oldest first."""
    return list(
        db.session.scalars(
            select(DuplicateReview)
            .where(DuplicateReview.reviewed_at.is_(None))
            .order_by(DuplicateReview.id)
        )
    )


def codes_of(reviews: list[DuplicateReview]) -> dict[str, str]:
    """The codes of the cases a list of reviews mentions (clear fields, for admins)."""
    ids = {review.case_id for review in reviews} | {
        review.matched_case_id for review in reviews if review.matched_case_id
    }
    rows = db.session.execute(select(Case.id, Case.code).where(Case.id.in_(ids)))
    return {row.id: row.code for row in rows}


# An admin's decisions, as the review's buttons say them.
OUTCOMES = {"different": _l("Different people"), "same": _l("The same person")}


def review(review_id: int, outcome: str, admin: User) -> DuplicateReview:
    """An admin's decision on a hit: the same person (then they merge or close by hand) or
    different people."""
    if outcome not in OUTCOMES:
        raise CaseError(_("Choose whether these are the same person or different people."))
    found = db.session.get(DuplicateReview, review_id)
    if found is None:
        raise CaseError(_("No such possible duplicate."))
    if found.reviewed_at is not None:
        raise CaseError(_("This possible duplicate was already reviewed."))
    found.outcome = outcome
    found.reviewed_at = now()
    found.reviewed_by_id = admin.id
    audit.record(admin, "case.duplicate_reviewed", "case", found.case_id, outcome=outcome)
    return found


def open_pauses() -> list[IntakePause]:
    """Caseworkers whose intake is paused."""
    return list(
        db.session.scalars(
            select(IntakePause).where(IntakePause.lifted_at.is_(None)).order_by(IntakePause.id)
        )
    )


def lift_pause(pause_id: int, admin: User) -> IntakePause:
    """Open intake again for a caseworker (after an admin has talked with them)."""
    pause = db.session.get(IntakePause, pause_id)
    if pause is None or pause.lifted_at is not None:
        raise CaseError(_("This pause was already lifted."))
    pause.lifted_at = now()
    pause.lifted_by_id = admin.id
    audit.record(admin, "case.intake_pause_lifted", "user", pause.user_id)
    return pause


def look_up(name: str, contact: str, admin: User) -> list[str]:
    """Admins only: the codes of live cases whose blind index holds this name or contact
    (normalised as at intake). Audited with the count, never the query."""
    entries = index_entries({"legal_name": name, "contact": contact})
    if not entries:
        raise CaseError(_("Enter a name or a contact to look up."))
    digests = [digest for _, digest in entries]
    codes = sorted(
        db.session.scalars(
            select(Case.code)
            .join(BlindIndexEntry, BlindIndexEntry.case_id == Case.id)
            .where(BlindIndexEntry.digest.in_(digests), Case.purged_at.is_(None))
            .distinct()
        )
    )
    audit.record(admin, "case.lookup", "case", None, count=len(codes))
    return codes
