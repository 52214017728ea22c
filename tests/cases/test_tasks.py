"""Tasks per case: made by the app (verify a referral in 72 hours, renew an expiring document)
and by hand (the title encrypted), listed on each caseworker's home overdue first, done and
undone (audited), hidden from everyone else, shredded with the case, mailed as a digest."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from audit.models import AuditRecord
from cases import services
from cases.models import Case
from cases.task_models import CaseTask, TaskKind
from extensions import db
from tests.cases.test_documents import _pdf, upload
from tests.cases.test_encryption import database_bytes
from tests.factories import audit_actions
from tests.fundraising.test_drive_updates import inbox, smtp  # noqa: F401 (the fixture)

TITLE = "Ring Marisol Okonkwo-Vance at the Tbilisi safehouse"


def _tasks(app, case_id):
    with app.app_context():
        found = db.session.scalars(
            select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.due_on)
        ).all()
        for task in found:
            db.session.expunge(task)
        return list(found)


def _add(worker, case_id, title=TITLE, due="2026-11-25", assignee=""):
    return worker.client.post(
        f"/cases/{case_id}/tasks", data={"title": title, "due_on": due, "assignee": assignee}
    )


def _home(worker) -> str:
    return worker.client.get("/cases/").get_data(as_text=True)


def test_a_new_referral_gets_a_verification_task_due_72_hours_later(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    (task,) = _tasks(app, case_id)
    assert task.kind is TaskKind.VERIFY_REFERRAL
    assert task.title_enc is None
    with app.app_context():
        created = db.session.get(Case, case_id).created_at
    assert task.due_on == (created + timedelta(hours=72)).date()
    assert task.due_on == (clock() + timedelta(hours=72)).date()
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Verify the referral" in page
    arabic = worker.client.get(f"/cases/{case_id}", headers={"Accept-Language": "ar"})
    assert "Verify the referral" not in arabic.get_data(as_text=True)


@pytest.mark.parametrize(
    ("expires_on", "due_on"),
    [
        ("2027-06-30", date(2027, 5, 1)),  # 60 days before expiry
        ("2026-12-01", date(2026, 11, 22)),  # 60 days before is past: due today
    ],
)
def test_a_document_with_an_expiry_gets_a_renewal_task(app, person, expires_on, due_on):
    worker = person()
    case_id = worker.create_case()
    assert upload(worker, case_id, _pdf(), expires_on=expires_on).status_code == 302
    renewals = [task for task in _tasks(app, case_id) if task.kind is TaskKind.DOCUMENT_EXPIRY]
    assert [task.due_on for task in renewals] == [due_on]
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Renew Passport" in page


def test_a_document_without_an_expiry_gets_no_task(app, person):
    worker = person()
    case_id = worker.create_case()
    upload(worker, case_id, _pdf())
    assert [task.kind for task in _tasks(app, case_id)] == [TaskKind.VERIFY_REFERRAL]


def test_a_deleted_document_takes_its_renewal_task_with_it(app, person):
    worker = person()
    case_id = worker.create_case()
    upload(worker, case_id, _pdf(), expires_on="2027-06-30")
    (renewal,) = [t for t in _tasks(app, case_id) if t.kind is TaskKind.DOCUMENT_EXPIRY]
    worker.client.post(f"/cases/{case_id}/documents/{renewal.document_id}/delete")
    assert [task.kind for task in _tasks(app, case_id)] == [TaskKind.VERIFY_REFERRAL]


def test_home_lists_overdue_first_and_only_this_caseworkers_cases(app, person, clock):
    worker, other = person(), person()
    mine = worker.create_case()
    theirs = other.create_case(legal_name="Somebody Else Entirely", contact="+15550111")
    assert _add(worker, mine, "Book the bus", due="2026-11-27").status_code == 302
    assert _add(worker, mine, "Call the lawyer", due="2026-11-20").status_code == 302
    _add(worker, mine, "Far in the future", due="2027-01-15")
    _add(other, theirs, "Their own errand", due="2026-11-23")
    home = _home(worker)
    section = home[home.index('id="home-tasks-heading"') :]
    order = [section.index(text) for text in ("Call the lawyer", "Book the bus")]
    assert order == sorted(order)
    assert "Overdue" in section
    assert "Verify the referral" in section  # due 25 Nov: this week
    assert "Far in the future" not in section
    assert "Their own errand" not in home
    with app.app_context():
        codes = {row[0]: row[1] for row in db.session.execute(select(Case.id, Case.code))}
    assert codes[mine] in section
    assert codes[theirs] not in home
    filtered = worker.client.get("/cases/?stage=screening").get_data(as_text=True)
    assert "Tasks due this week" not in filtered  # a filtered list shows matching cases alone


def test_a_task_named_to_another_caseworker_stays_off_my_home(app, person):
    worker, admin = person(), person(Role.ADMIN)
    helper = person()
    case_id = worker.create_case()
    admin.client.post(f"/cases/{case_id}/manage", data={"user_id": helper.id})
    assert _add(worker, case_id, "For the helper", assignee=str(helper.id)).status_code == 302
    assert "For the helper" in _home(helper)
    assert "For the helper" not in _home(worker)


def test_the_assignee_must_be_one_of_the_cases_caseworkers(app, person):
    worker, stranger = person(), person()
    case_id = worker.create_case()
    response = _add(worker, case_id, assignee=str(stranger.id))
    assert response.status_code == 302
    page = worker.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose one of the case&#39;s caseworkers, or nobody." in page
    assert len(_tasks(app, case_id)) == 1


@pytest.mark.parametrize(
    ("title", "due", "message"),
    [
        ("", "2026-11-25", "Write what needs doing."),
        ("   ", "2026-11-25", "Write what needs doing."),
        ("Something", "", "Give the date the task is due."),
        ("Something", "next tuesday", "Not a valid date value."),
        ("x" * 201, "2026-11-25", "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_task_input_says_why_and_saves_nothing(app, person, title, due, message):
    worker = person()
    case_id = worker.create_case()
    response = _add(worker, case_id, title, due)
    page = worker.client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert len(_tasks(app, case_id)) == 1  # the verification task only
    assert "case.task_added" not in audit_actions(app)


def test_another_caseworker_can_neither_see_nor_complete_a_task(app, person):
    worker, other = person(), person()
    case_id = worker.create_case()
    _add(worker, case_id)
    task = next(t for t in _tasks(app, case_id) if t.kind is TaskKind.WRITTEN)
    assert other.client.get(f"/cases/{case_id}").status_code == 404
    for verb in ("done", "undo"):
        response = other.client.post(f"/cases/{case_id}/tasks/{task.id}/{verb}")
        assert response.status_code == 404
    assert _add(other, case_id, "Sneaky").status_code == 404
    assert TITLE not in _home(other)
    assert all(t.done_at is None for t in _tasks(app, case_id))
    # A task id of another case, on a case of one's own: 404 as well.
    own = other.create_case(legal_name="Somebody Else Entirely", contact="+15550111")
    assert other.client.post(f"/cases/{own}/tasks/{task.id}/done").status_code == 404


def test_a_written_title_is_encrypted_at_rest(request, app, person):
    worker = person()
    case_id = worker.create_case()
    _add(worker, case_id)
    assert TITLE in worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert TITLE in _home(worker)
    raw = database_bytes(request, app)
    assert case_id.encode() in raw
    assert TITLE.encode() not in raw
    assert b"Okonkwo-Vance" not in raw


def test_done_and_undo_are_audited_with_ids_only(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    _add(worker, case_id)
    task = next(t for t in _tasks(app, case_id) if t.kind is TaskKind.WRITTEN)
    clock.advance(minutes=5)
    response = worker.client.post(f"/cases/{case_id}/tasks/{task.id}/done", data={"back": "home"})
    assert response.headers["Location"].endswith("/cases/#tasks")
    (done,) = [t for t in _tasks(app, case_id) if t.id == task.id]
    assert done.done_at == clock()
    assert done.done_by_id == worker.id
    assert TITLE not in _home(worker)
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Undo" in page
    worker.client.post(f"/cases/{case_id}/tasks/{task.id}/undo")
    (undone,) = [t for t in _tasks(app, case_id) if t.id == task.id]
    assert undone.done_at is None
    assert undone.done_by_id is None
    assert TITLE in _home(worker)
    assert audit_actions(app, "case.task_") == [
        "case.task_added",
        "case.task_done",
        "case.task_undone",
    ]
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action.like("case.task_%"))
        ).all()
        for record in records:
            assert record.object_id == case_id
            assert json.loads(record.details) == {"task": task.id}
            assert TITLE not in str(record.details)


def test_tasks_are_shredded_with_the_case(app, person):
    worker = person()
    case_id = worker.create_case()
    _add(worker, case_id)
    upload(worker, case_id, _pdf(), expires_on="2027-06-30")
    assert len(_tasks(app, case_id)) == 3
    assert "case_tasks" in services.SHREDDED_TABLES
    with app.app_context():
        services.purge_case(db.session.get(Case, case_id), None, "emergency")
        db.session.commit()
        count = select(func.count()).select_from(CaseTask).where(CaseTask.case_id == case_id)
        assert db.session.scalar(count) == 0


def test_digest_without_smtp_sends_nothing(app, person):
    worker = person()
    worker.create_case()
    result = app.test_cli_runner().invoke(args=["cases", "task-digest"])
    assert result.exit_code == 0
    assert "SMTP is not configured" in result.output


def test_digest_carries_counts_and_case_codes_only(make_app, inbox, clock):  # noqa: F811
    from tests.cases.conftest import Person

    handler, port = inbox
    app = make_app(**smtp(port))
    worker, idle = Person(app, clock, Role.CASEWORKER), Person(app, clock, Role.CASEWORKER)
    first = worker.create_case()
    second = worker.create_case(legal_name="Somebody Else Entirely", contact="+15550111")
    _add(worker, first, due="2026-11-20")  # overdue
    idle.client.get("/cases/")  # a caseworker with no case gets no mail
    result = app.test_cli_runner().invoke(args=["cases", "task-digest"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 task digest(s)." in result.output
    assert handler.recipients == [worker.email]
    (message,) = handler.to(worker.email)
    body = message.get_content()
    with app.app_context():
        codes = {row[0]: row[1] for row in db.session.execute(select(Case.id, Case.code))}
    assert "Overdue tasks: 1" in body
    assert "Due in the next 7 days: 2" in body  # the two verification tasks
    assert codes[first] in body
    assert codes[second] in body
    for secret in (TITLE, "Okonkwo", "Verify the referral", "Zuleika", "Somebody Else"):
        assert secret not in body
        assert secret not in str(message["Subject"])
