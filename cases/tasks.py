"""A case's tasks: written by hand (the title encrypted under the case's key) or made by the
app (verify a new referral within 72 hours; renew a document 60 days before it expires), done
and undone (audited, ids only), listed on the case page and on each caseworker's home, and
mailed as a daily digest of counts and case codes (never a name or a task's text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update

import audit
from accounts import mail
from accounts.models import Role, User
from cases import access, encryption
from cases.document_models import CaseDocument
from cases.encryption import CaseError
from cases.models import Case, CaseAssignment, new_id
from cases.task_models import VERIFY_TITLE, CaseTask, TaskKind
from extensions import db
from security import fields as crypto
from security import jobs
from security.clock import now
from security.urls import external_url

SHREDDED_TABLES = (CaseTask.__tablename__,)
DIGEST_TASK = "cases.task_digest"
VERIFY_WITHIN = timedelta(hours=72)
RENEW_BEFORE = timedelta(days=60)
HOME_DAYS = 7  # the home list: overdue, and due within this many days from today
TITLE_LENGTH = 200


class TaskNotFound(LookupError):
    """No such task on this case (never says whether it exists elsewhere)."""


@dataclass(frozen=True)
class TaskEntry:
    """A task as a page lists it: its title in the reader's language, or as written."""

    task: CaseTask
    case: Case
    title: str
    is_overdue: bool


def _field(task_id: str) -> str:
    return f"task:{task_id}"


def today() -> date:
    return now().date()


# --- Making tasks ------------------------------------------------------------------------------


def add_verification_task(case: Case) -> CaseTask:
    """A new referral's first task: verify it within 72 hours (no one named: any of its
    caseworkers)."""
    task = CaseTask(
        case_id=case.id,
        kind=TaskKind.VERIFY_REFERRAL,
        due_on=(case.created_at + VERIFY_WITHIN).date(),
        created_at=now(),
    )
    db.session.add(task)
    return task


def add_renewal_task(case: Case, document: CaseDocument) -> CaseTask | None:
    """For a document with an expiry: renew it, due 60 days before (today if that is past)."""
    if document.expires_on is None:
        return None
    task = CaseTask(
        case_id=case.id,
        kind=TaskKind.DOCUMENT_EXPIRY,
        document_id=document.id,
        due_on=max(document.expires_on - RENEW_BEFORE, today()),
        created_by_id=document.created_by_id,
        created_at=now(),
    )
    db.session.add(task)
    return task


def add_task(
    case: Case, actor: User, title: str, due_on: date | None, assignee_id: int | None
) -> CaseTask:
    """A task written by hand; CaseError (nothing saved) for an empty or overlong title, a
    missing date, or an assignee who is not one of the case's caseworkers."""
    title = title.strip()
    if not title:
        raise CaseError(_("Write what needs doing."))
    if len(title) > TITLE_LENGTH:
        raise CaseError(_("Keep the task to %(count)s characters.", count=TITLE_LENGTH))
    if due_on is None:
        raise CaseError(_("Give the date the task is due."))
    if assignee_id is not None and assignee_id not in case.assignee_ids:
        raise CaseError(_("Choose one of the case's caseworkers, or nobody."))
    task = CaseTask(
        id=new_id(),
        case_id=case.id,
        kind=TaskKind.WRITTEN,
        due_on=due_on,
        assignee_id=assignee_id,
        created_by_id=actor.id,
        created_at=now(),
    )
    task.title_enc = crypto.encrypt(encryption.data_key(case), title, case.id, _field(task.id))
    db.session.add(task)
    case.updated_at = now()
    audit.record(actor, "case.task_added", "case", case.id, task=task.id)
    return task


# --- Done and undone ---------------------------------------------------------------------------


def get_task(case: Case, task_id: str) -> CaseTask:
    """One of the case's tasks, or TaskNotFound."""
    task = db.session.scalar(
        select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.id == task_id[:36])
    )
    if task is None:
        raise TaskNotFound(task_id)
    return task


def mark_done(case: Case, task: CaseTask, actor: User) -> None:
    """Done, by whom and when (audited); doing a done task again changes nothing."""
    if task.is_done:
        return
    task.done_at, task.done_by_id = now(), actor.id
    audit.record(actor, "case.task_done", "case", case.id, task=task.id)


def mark_undone(case: Case, task: CaseTask, actor: User) -> None:
    """Back to open (audited); undoing an open task changes nothing."""
    if not task.is_done:
        return
    task.done_at, task.done_by_id = None, None
    audit.record(actor, "case.task_undone", "case", case.id, task=task.id)


def release_assignee(case: Case, user_id: int) -> None:
    """A caseworker taken off the case is no longer named on its tasks."""
    db.session.execute(
        update(CaseTask)
        .where(CaseTask.case_id == case.id, CaseTask.assignee_id == user_id)
        .values(assignee_id=None)
    )


def delete_for_document(document_id: str) -> None:
    """A deleted document's renewal task goes with it."""
    db.session.execute(delete(CaseTask).where(CaseTask.document_id == document_id))


def delete_case_tasks(case: Case) -> None:
    """Every task of a case gone (its purge)."""
    db.session.execute(delete(CaseTask).where(CaseTask.case_id == case.id))


# --- Reading -----------------------------------------------------------------------------------


def _title(task: CaseTask, case: Case, keys: dict[str, bytes]) -> str:
    if task.kind is TaskKind.VERIFY_REFERRAL:
        return str(VERIFY_TITLE)
    if task.kind is TaskKind.DOCUMENT_EXPIRY:
        kind = task.document.kind.label if task.document is not None else _("document")
        return str(_("Renew %(document)s", document=kind))
    if task.title_enc is None:  # pragma: no cover - the check constraint forbids it
        return ""
    if case.id not in keys:
        keys[case.id] = encryption.reading_key(case)  # an audited opening of the case
    return crypto.decrypt(keys[case.id], task.title_enc, case.id, _field(task.id))


def _entries(rows: list[tuple[CaseTask, Case]]) -> list[TaskEntry]:
    keys: dict[str, bytes] = {}
    day = today()
    return [
        TaskEntry(task, case, _title(task, case, keys), not task.is_done and task.due_on < day)
        for task, case in rows
    ]


def tasks_for(case: Case) -> tuple[list[TaskEntry], list[TaskEntry]]:
    """The case's open tasks (soonest due first) and its done ones (latest done first)."""
    found = db.session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).all()
    open_tasks = sorted((t for t in found if not t.is_done), key=lambda t: (t.due_on, t.id))
    done = sorted((t for t in found if t.is_done), key=lambda t: t.done_at or now(), reverse=True)
    return (
        _entries([(task, case) for task in open_tasks]),
        _entries([(task, case) for task in done]),
    )


def _due_soon(user: User) -> list[tuple[CaseTask, Case]]:
    """Open tasks on the user's cases, named to them or to nobody, overdue or due within
    HOME_DAYS, overdue first."""
    visible = access.cases_visible_to(user).with_only_columns(Case.id)
    limit = today() + timedelta(days=HOME_DAYS - 1)
    rows = db.session.execute(
        select(CaseTask, Case)
        .join(Case, Case.id == CaseTask.case_id)
        .where(
            CaseTask.case_id.in_(visible),
            CaseTask.done_at.is_(None),
            CaseTask.due_on <= limit,
            or_(CaseTask.assignee_id == user.id, CaseTask.assignee_id.is_(None)),
        )
        .order_by(CaseTask.due_on, Case.code, CaseTask.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def home_tasks(user: User) -> list[TaskEntry]:
    """A caseworker's home list: overdue first, then due this week (case code, title, date)."""
    return _entries(_due_soon(user))


# --- The daily digest --------------------------------------------------------------------------


def queue_digests() -> int | None:
    """One digest job per caseworker with tasks overdue or due this week; None (nothing
    queued) when SMTP is not configured. The caller commits (the jobs start then)."""
    if not mail.is_configured():
        return None
    caseworkers = db.session.scalars(
        select(User)
        .where(User.role == Role.CASEWORKER, User.is_active.is_(True))
        .where(User.id.in_(select(CaseAssignment.user_id)))
        .order_by(User.id)
    ).all()
    queued = 0
    for user in caseworkers:
        if _due_soon(user):
            jobs.enqueue(DIGEST_TASK, user.id)
            queued += 1
    return queued


def digest_counts(user: User) -> tuple[int, int, list[str]]:
    """How many of the user's tasks are overdue and due this week, and their case codes."""
    day = today()
    rows = _due_soon(user)
    overdue = sum(1 for task, _case in rows if task.due_on < day)
    return overdue, len(rows) - overdue, sorted({case.code for _task, case in rows})


def send_digest(user_id: int) -> None:
    """Mail one caseworker their digest: counts and case codes only (no name, no task text:
    mail passes through servers the app does not control). Raises MailNotSent to be retried."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.role is not Role.CASEWORKER:
        return
    overdue, soon, codes = digest_counts(user)
    if not codes:
        return
    with mail.in_staff_language():
        subject = _("Your tasks for today")
        lines = [
            _("Overdue tasks: %(count)s", count=overdue),
            _("Due in the next 7 days: %(count)s", count=soon),
            _("Cases: %(codes)s", codes=", ".join(codes)),
            "",
            _("Open your cases to see them:"),
            external_url("cases.index"),
        ]
    mail.deliver([mail.new_message(user.email, subject, "\n".join(lines) + "\n")])
