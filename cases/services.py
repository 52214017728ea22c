"""Case rules: creating and changing cases, notes, stages, verification, assignment, purge,
money. Who may open a case is `cases.access`; how its contents are encrypted, `cases.encryption`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, update

import audit
from accounts.models import Role, User
from cases import access, documents, duplicates, encryption, tasks
from cases.encryption import CaseError
from cases.models import (
    IDENTITY_FIELDS,
    BlindIndexEntry,
    BreakGlass,
    Case,
    CaseAssignment,
    CaseKey,
    CaseNote,
    Outcome,
    ReferralSource,
    RiskLevel,
    Stage,
    StageChange,
    Verification,
)
from extensions import db
from finance import services as finance_services
from security import fields as crypto
from security import keystore, shredding
from security.clock import now

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B

_FORWARD: dict[Stage, frozenset[Stage]] = {
    Stage.REFERRED: frozenset({Stage.SCREENING}),
    Stage.SCREENING: frozenset({Stage.VERIFIED}),
    Stage.VERIFIED: frozenset({Stage.APPROVED}),
    Stage.APPROVED: frozenset({Stage.DOCUMENTS, Stage.FUNDED}),
    Stage.DOCUMENTS: frozenset({Stage.FUNDED}),
    Stage.FUNDED: frozenset({Stage.TRAVEL_BOOKED}),
    Stage.TRAVEL_BOOKED: frozenset({Stage.IN_TRANSIT}),
    Stage.IN_TRANSIT: frozenset({Stage.ARRIVED}),
    Stage.ARRIVED: frozenset({Stage.SETTLING}),
    Stage.SETTLING: frozenset(),
}
# Every open stage may close (with an outcome); a closed case only reopens (admins).
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    **{stage: forward | {Stage.CLOSED} for stage, forward in _FORWARD.items()},
    Stage.CLOSED: frozenset(),
    Stage.DECLINED: frozenset(),
    Stage.WITHDRAWN: frozenset(),
}
# Which outcomes fit where the case stands when it closes.
_ARRIVED = frozenset({Stage.ARRIVED, Stage.SETTLING})
_BEFORE_MONEY = frozenset({Stage.REFERRED, Stage.SCREENING, Stage.VERIFIED, Stage.APPROVED})
OUTCOMES_FROM: dict[Outcome, frozenset[Stage]] = {
    Outcome.RELOCATED: _ARRIVED,
    Outcome.CASH_ASSISTANCE: frozenset(_FORWARD) - {Stage.REFERRED, Stage.SCREENING},
    Outcome.REFERRED_OUT: frozenset(_FORWARD),
    Outcome.DECLINED: _BEFORE_MONEY | {Stage.DOCUMENTS},
    Outcome.WITHDRAWN: frozenset(_FORWARD),
    Outcome.LOST_CONTACT: frozenset(_FORWARD),
}


def outcomes_for(stage: Stage) -> list[Outcome]:
    """The outcomes a case in this stage may close with, in the order shown."""
    return [outcome for outcome in Outcome if stage in OUTCOMES_FROM[outcome]]


# --- Creating and changing cases ----------------------------------------------------------------


@dataclass(frozen=True)
class ClearFields:
    """The non-identifying facts kept in clear for lists and reports."""

    risk_level: RiskLevel
    region: str
    household_size: int = 1
    referral_source: ReferralSource = ReferralSource.PARTNER
    destination_country: str | None = None


def _new_code() -> str:
    for _attempt in range(20):
        code = "RC-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))
        if db.session.scalar(select(Case.id).where(Case.code == code)) is None:
            return code
    return "RC-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def create_case(creator: User, identity: dict[str, str | None], clear: ClearFields) -> Case:
    """Create an encrypted case assigned to its creator. A match with another case is saved
    the same way, and goes to the admins' review (cases.duplicates), never to the creator."""
    access.require_open()
    duplicates.require_intake_open(creator)
    if not (identity.get("legal_name") or "").strip():
        raise CaseError(_("Enter the person's legal name."))
    duplicates.check_single_identity(identity)
    moment = now()
    case = Case(
        code=_new_code(),
        stage=Stage.REFERRED,
        risk_level=clear.risk_level,
        region=clear.region.strip(),
        household_size=clear.household_size,
        referral_source=clear.referral_source,
        destination_country=clear.destination_country,
        created_by_id=creator.id,
        created_at=moment,
        updated_at=moment,
        stage_changed_at=moment,
    )
    db.session.add(case)
    db.session.flush()
    case.key = encryption.new_case_key(case)
    db.session.flush()
    new_digests = encryption.write_identity(case, identity)
    case.assignments.append(CaseAssignment(user_id=creator.id, assigned_at=moment))
    db.session.add(
        StageChange(
            case_id=case.id,
            from_stage=None,
            to_stage=Stage.REFERRED,
            actor_id=creator.id,
            created_at=moment,
        )
    )
    tasks.add_verification_task(case)
    audit.record(creator, "case.created", "case", case.id, risk=clear.risk_level.value)
    duplicates.record_hits(case, creator, new_digests)
    return case


def update_case(
    case: Case, actor: User, identity: dict[str, str | None], clear: ClearFields
) -> None:
    """Change a case's fields; audited with the names of the changed fields only."""
    before = encryption.read_identity(case)
    changed = sorted(
        field
        for field in IDENTITY_FIELDS
        if field in identity and (identity[field] or None) != before[field]
    )
    duplicates.check_legal_name(identity)
    if duplicates.check_additions(before, {**before, **identity}):
        duplicates.require_intake_open(actor)
    new_digests = encryption.write_identity(case, identity)
    for name in (
        "risk_level",
        "region",
        "household_size",
        "referral_source",
        "destination_country",
    ):
        if getattr(case, name) != getattr(clear, name):
            changed.append(name)
            setattr(case, name, getattr(clear, name))
    case.updated_at = now()
    audit.record(actor, "case.updated", "case", case.id, fields=",".join(changed))
    duplicates.record_hits(case, actor, new_digests)


def add_note(case: Case, author: User, body: str) -> CaseNote:
    """Add an encrypted note."""
    if not body.strip():
        raise CaseError(_("Write something in the note."))
    note = CaseNote(
        case_id=case.id,
        author_id=author.id,
        created_at=now(),
        body_enc=crypto.encrypt(encryption.data_key(case), body.strip(), case.id, "note"),
    )
    db.session.add(note)
    case.updated_at = now()
    audit.record(author, "case.note_added", "case", case.id)
    return note


def notes_for(case: Case) -> list[tuple[CaseNote, str]]:
    """Notes, newest first, decrypted."""
    notes = db.session.scalars(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.created_at.desc())
    )
    key = encryption.data_key(case)
    return [(note, crypto.decrypt(key, note.body_enc, case.id, "note")) for note in notes]


def history_for(case: Case) -> list[tuple[StageChange, str | None]]:
    """Stage changes, oldest first, with their decrypted reasons."""
    changes = db.session.scalars(
        select(StageChange).where(StageChange.case_id == case.id).order_by(StageChange.id)
    )
    return [
        (change, encryption.decrypt(case, change.reason_enc, "stage-reason")) for change in changes
    ]


def _check_stage_change(
    case: Case,
    to_stage: Stage,
    reason: str,
    outcome: Outcome | None,
    transit_country: str | None,
) -> str:
    """Refuse a change that breaks a stage rule; the transit country, trimmed."""
    if to_stage not in TRANSITIONS[case.stage]:
        raise CaseError(
            _(
                "A case cannot move from %(from_stage)s to %(to_stage)s.",
                from_stage=case.stage.label,
                to_stage=to_stage.label,
            )
        )
    if not reason.strip():
        raise CaseError(_("Give a short reason for the change."))
    if to_stage is Stage.CLOSED:
        if outcome is None:
            raise CaseError(_("Choose how the case ended to close it."))
        if case.stage not in OUTCOMES_FROM[outcome]:
            raise CaseError(
                _(
                    "A case in %(stage)s cannot close as %(outcome)s.",
                    stage=case.stage.label,
                    outcome=outcome.label.lower(),
                )
            )
    elif outcome is not None:
        raise CaseError(_("An outcome is given only when closing a case."))
    country = (transit_country or "").strip()
    if country and to_stage is not Stage.IN_TRANSIT:
        raise CaseError(_("A transit country is given only when moving to In transit."))
    if len(country) > 80:
        raise CaseError(_("Keep the transit country to a country's name (80 characters)."))
    if to_stage is Stage.VERIFIED:
        verification = db.session.get(Verification, case.id)
        if verification is None or verification.confirmed_at is None:
            raise CaseError(_("Verification must be recorded and confirmed by a second person."))
    return country


def change_stage(
    case: Case,
    actor: User,
    to_stage: Stage,
    reason: str,
    *,
    outcome: Outcome | None = None,
    transit_country: str | None = None,
) -> None:
    """Move along the stage graph; `verified` needs a confirmed verification, closing an
    outcome that fits the stage, and `in_transit` may name the transit country."""
    country = _check_stage_change(case, to_stage, reason, outcome, transit_country)
    moment = now()
    db.session.add(
        StageChange(
            case_id=case.id,
            from_stage=case.stage,
            to_stage=to_stage,
            actor_id=actor.id,
            created_at=moment,
            reason_enc=encryption.encrypt(case, reason.strip(), "stage-reason"),
        )
    )
    audit.record(
        actor,
        "case.stage_changed",
        "case",
        case.id,
        from_stage=case.stage.value,
        to_stage=to_stage.value,
    )
    case.stage = to_stage
    case.stage_changed_at = moment
    case.updated_at = moment
    if to_stage is Stage.IN_TRANSIT:
        case.transit_country = country or None
    if to_stage.is_closed:
        case.outcome = outcome
        case.closed_at = moment
        case.purge_after = moment + timedelta(days=current_app.config["CASE_RETENTION_DAYS"])


def reopen_case(case: Case, actor: User, reason: str) -> Stage:
    """An admin reopens a closed case that is not purged: back to the stage it closed from,
    its outcome and purge date cleared; the reason encrypted like any stage change."""
    if case.is_purged:
        raise CaseError(_("This case was purged: its contents no longer exist."))
    if not case.stage.is_closed:
        raise CaseError(_("Only a closed case can be reopened."))
    if len(reason.strip()) < 10:
        raise CaseError(_("Explain why the case is reopened (at least a sentence)."))
    closing = db.session.scalar(
        select(StageChange)
        .where(StageChange.case_id == case.id, StageChange.to_stage == case.stage)
        .order_by(StageChange.created_at.desc(), StageChange.id.desc())
        .limit(1)
    )
    back_to = closing.from_stage if closing is not None else None
    if back_to is None or back_to.is_closed:
        back_to = Stage.SCREENING
    moment = now()
    db.session.add(
        StageChange(
            case_id=case.id,
            from_stage=case.stage,
            to_stage=back_to,
            actor_id=actor.id,
            created_at=moment,
            reason_enc=encryption.encrypt(case, reason.strip(), "stage-reason"),
        )
    )
    audit.record(
        actor, "case.reopened", "case", case.id, from_stage=case.stage.value, to_stage=back_to.value
    )
    case.stage = back_to
    case.stage_changed_at = moment
    case.updated_at = moment
    case.outcome = None
    case.closed_at = None
    case.purge_after = None
    return back_to


# --- Verification: four eyes --------------------------------------------------------------------


def record_verification(
    case: Case,
    actor: User,
    *,
    has_seen_documents: bool,
    has_contacted_references: bool,
    has_assessed_risk: bool,
    notes: str,
) -> Verification:
    """Record the checks done; any earlier confirmation is withdrawn."""
    verification = db.session.get(Verification, case.id) or Verification(case_id=case.id)
    verification.has_seen_documents = has_seen_documents
    verification.has_contacted_references = has_contacted_references
    verification.has_assessed_risk = has_assessed_risk
    verification.notes_enc = encryption.encrypt(case, notes.strip(), "verification")
    verification.recorded_by_id = actor.id
    verification.recorded_at = now()
    verification.confirmed_by_id = None
    verification.confirmed_at = None
    db.session.add(verification)
    audit.record(actor, "case.verification_recorded", "case", case.id)
    return verification


def confirm_verification(case: Case, actor: User) -> None:
    """A second person (admin or another assigned caseworker) confirms the checks."""
    verification = db.session.get(Verification, case.id)
    if verification is None:
        raise CaseError(_("No verification has been recorded yet."))
    if verification.recorded_by_id == actor.id:
        raise CaseError(_("Someone other than the person who recorded the checks must confirm."))
    if not (
        verification.has_seen_documents
        and verification.has_contacted_references
        and verification.has_assessed_risk
    ):
        raise CaseError(_("All three checks must be done before confirming."))
    verification.confirmed_by_id = actor.id
    verification.confirmed_at = now()
    audit.record(actor, "case.verification_confirmed", "case", case.id)


# --- Assignment ------------------------------------------------------------------


def assign(case: Case, caseworker: User, actor: User) -> None:
    """Give a caseworker access to the case."""
    if caseworker.role is not Role.CASEWORKER or not (
        caseworker.is_active and caseworker.is_vetted
    ):
        raise CaseError(_("Only vetted, active caseworkers can be assigned."))
    if caseworker.id in case.assignee_ids:
        return
    case.assignments.append(CaseAssignment(user_id=caseworker.id, assigned_at=now()))
    audit.record(actor, "case.assigned", "case", case.id, staff=caseworker.id)


def unassign(case: Case, caseworker_id: int, actor: User) -> None:
    """Take a caseworker off the case (a case keeps at least one)."""
    remaining = [a for a in case.assignments if a.user_id != caseworker_id]
    if not remaining:
        raise CaseError(_("A case needs at least one assigned caseworker."))
    case.assignments = remaining
    tasks.release_assignee(case, caseworker_id)
    audit.record(actor, "case.unassigned", "case", case.id, staff=caseworker_id)


# --- Retention and purge (crypto-shredding) ---------------------------------------------------


def purge_case(case: Case, actor: User | None, reason: str) -> None:
    """Destroy the data key and every ciphertext; a tombstone keeps code, stage and dates."""
    if case.is_purged:
        return
    db.session.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
    db.session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.case_id == case.id))
    db.session.execute(delete(BreakGlass).where(BreakGlass.case_id == case.id))
    db.session.execute(delete(Verification).where(Verification.case_id == case.id))
    tasks.delete_case_tasks(case)
    documents.delete_case_documents(case)
    db.session.execute(
        update(StageChange).where(StageChange.case_id == case.id).values(reason_enc=None)
    )
    for field in IDENTITY_FIELDS:
        setattr(case, f"{field}_enc", None)
    case.key = None
    case.purged_at = now()
    audit.record(actor, "case.purged", "case", case.id, reason=reason)


# Tables whose rows a purge deletes or empties: scrubbed of old copies once it commits.
SHREDDED_TABLES = (
    CaseKey.__tablename__,
    CaseNote.__tablename__,
    BlindIndexEntry.__tablename__,
    BreakGlass.__tablename__,
    Verification.__tablename__,
    *documents.SHREDDED_TABLES,
    *tasks.SHREDDED_TABLES,
)


def finish_purge(actor: User | None, *, emergency: bool = False) -> keystore.RotationReport | None:
    """After a purge committed: with `emergency`, a new key generation and every older one
    destroyed in the token (no existing backup opens any case from then on), audited; then the
    database's own files scrubbed of the shredded rows."""
    report = None
    if emergency:
        report = keystore.emergency_rotation()
        audit.record(
            actor,
            "keys.emergency_rotation",
            "key_generation",
            report.current,
            count=len(report.destroyed),
        )
        db.session.commit()
    shredding.scrub(SHREDDED_TABLES)
    return report


def purge_expired() -> int:
    """Purge every closed case whose retention has run out; return how many."""
    due = db.session.scalars(
        select(Case).where(
            Case.purged_at.is_(None), Case.purge_after.is_not(None), Case.purge_after <= now()
        )
    ).all()
    for case in due:
        purge_case(case, None, "retention")
    return len(due)


# --- Money for a case: the request goes to finance with the case code and ciphertext only -----


def request_money(
    case: Case,
    requester: User,
    *,
    drive_id: int,
    category: Any,
    amount_minor: int,
    payee: str,
    note: str,
) -> Any:
    """Ask finance for money for this case; payee and note stay encrypted under the case key."""
    return finance_services.request_disbursement(
        case_id=case.id,
        case_code=case.code,
        drive_id=drive_id,
        category=category,
        amount_minor=amount_minor,
        payee_enc=encryption.encrypt(case, payee.strip(), "payee"),
        note_enc=encryption.encrypt(case, note.strip(), "disbursement-note"),
        requester=requester,
    )


def money_for(case: Case) -> list[tuple[Any, str | None, str | None]]:
    """The case's disbursements with payee and note decrypted (for its caseworkers)."""
    return [
        (
            item,
            encryption.decrypt(case, item.payee_enc, "payee"),
            encryption.decrypt(case, item.note_enc, "disbursement-note"),
        )
        for item in finance_services.disbursements(case_id=case.id)
    ]
