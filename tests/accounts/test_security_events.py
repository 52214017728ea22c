"""Nobody is assigned silently: the admins' security events list and its email, and a case's
history of who has had access, shown to its own caseworkers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from accounts.models import Role
from config import ConfigError
from tests.cases.conftest import INTAKE, SECRETS
from tests.conftest import settings_for
from tests.factories import StaffMember, audit_actions


class Inbox:
    """aiosmtpd's handler: keeps every message the app sends."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback (aiosmtpd), as a local relay would be."""
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _smtp(port: int) -> dict[str, object]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "safe-passage@example.org",
    }


def _new_case(worker: StaffMember) -> str:
    response = worker.client.post("/cases/new", data=INTAKE)
    assert response.status_code == 302
    return response.headers["Location"].rsplit("/", 1)[-1]


def _assign(admin: StaffMember, case_id: str, worker_id: int) -> None:
    admin.reauthenticate()
    response = admin.client.post(f"/cases/{case_id}/manage", data={"user_id": worker_id})
    assert response.status_code == 302


def test_admins_see_assignments_break_glass_and_role_changes_as_security_events(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    owner = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    newcomer = StaffMember(app, clock, Role.CASEWORKER, "newcomer@example.org")
    case_id = _new_case(owner)
    _assign(admin, case_id, newcomer.id)
    admin.client.post(f"/cases/{case_id}/break-glass", data={"reason": "Owner unreachable now"})
    admin.client.post(f"/admin/users/{owner.id}/role", data={"role": "finance"})

    page = admin.client.get("/admin/security")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for label in (
        "Caseworker assigned to a case",
        "Break-glass: an admin opened a case",
        "Role change asked for",
    ):
        assert label in text
    assert "Caseworker Test Caseworker 2" in text  # who was assigned, by name
    assert f'href="/cases/{case_id}/manage"' in text
    # Three events and the header row: sign-ins, reads and intake stay in the audit log only.
    assert text.count("<tr>") == 4
    for secret in SECRETS:
        assert secret not in text
    assert "no-store" in page.headers["Cache-Control"]


def test_only_admins_see_security_events(app, clock):
    worker = StaffMember(app, clock, Role.CASEWORKER)
    finance = StaffMember(app, clock, Role.FINANCE)
    assert worker.client.get("/admin/security").status_code == 403
    assert finance.client.get("/admin/security").status_code == 403
    assert app.test_client().get("/admin/security").status_code == 302


def test_a_case_shows_its_caseworkers_who_was_given_access_and_by_whom(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    owner = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    newcomer = StaffMember(app, clock, Role.CASEWORKER, "newcomer@example.org")
    case_id = _new_case(owner)
    _assign(admin, case_id, newcomer.id)
    admin.client.post(f"/cases/{case_id}/unassign/{newcomer.id}")

    text = owner.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Who has had access" in text
    admin_name = "Test Admin 0"
    assert "Test Caseworker 1 opened the case" in text
    assert f"{admin_name} assigned Test Caseworker 2" in text
    assert f"{admin_name} took off the case Test Caseworker 2" in text
    manage = admin.client.get(f"/cases/{case_id}/manage").get_data(as_text=True)
    assert f"{admin_name} assigned Test Caseworker 2" in manage


def test_every_admin_is_emailed_a_security_event_with_nothing_personal(make_app, clock, inbox):
    handler, port = inbox
    app = make_app(**_smtp(port))
    first = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    StaffMember(app, clock, Role.ADMIN, "grace@example.org")
    owner = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    newcomer = StaffMember(app, clock, Role.CASEWORKER, "newcomer@example.org")
    case_id = _new_case(owner)
    assert handler.messages == []  # opening a case is not a security event

    _assign(first, case_id, newcomer.id)
    recipients = sorted(recipient for sent, _ in handler.messages for recipient in sent)
    assert recipients == ["ada@example.org", "grace@example.org"]  # one message each
    body = handler.messages[0][1]
    assert "Subject: Security event: Caseworker assigned to a case" in body
    assert "http://localhost/admin/security" in body
    for personal in [*SECRETS, "Test Caseworker", case_id, "newcomer@example.org"]:
        assert personal not in body


def test_an_action_refused_or_rolled_back_sends_no_email(make_app, clock, inbox):
    handler, port = inbox
    app = make_app(**_smtp(port))
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    owner = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    case_id = _new_case(owner)
    admin.reauthenticate()
    admin.client.post(f"/cases/{case_id}/break-glass", data={"reason": "short"})
    assert handler.messages == []
    assert "case.break_glass" not in audit_actions(app)


def test_a_mail_server_that_is_down_does_not_undo_the_action(make_app, clock):
    app = make_app(**_smtp(_free_port()))  # nothing listens there
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    owner = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    newcomer = StaffMember(app, clock, Role.CASEWORKER, "newcomer@example.org")
    case_id = _new_case(owner)
    _assign(admin, case_id, newcomer.id)
    assert "case.assigned" in audit_actions(app)
    assert newcomer.client.get(f"/cases/{case_id}").status_code == 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SMTP_SECURITY": "tls"}, "SMTP_SECURITY must be starttls, ssl or none"),
        (
            {"SMTP_SECURITY": "none", "SMTP_HOST": "mail.example.org"},
            "only for a mail relay on this machine",
        ),
    ],
)
def test_unprotected_smtp_across_the_network_is_refused_at_start_up(
    tmp_path, clock, settings, message
):
    from app import create_app

    config = settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, clock)
    config.update(settings)
    with pytest.raises(ConfigError, match=message):
        create_app(config)
