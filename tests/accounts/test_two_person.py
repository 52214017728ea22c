"""Two people for every grant of access: vetting, role changes, and re-authentication first.

The attack these stop: one admin invites a puppet, accepts the link themself, vets it, and
assigns it to any case (or makes it a finance user who approves their own requests)."""

from __future__ import annotations

import re
import uuid

import pyotp
import pytest

from accounts.models import Role, User
from tests.conftest import PASSWORD, current_code
from tests.factories import StaffMember, audit_actions, get_user, make_user

PUPPET_PASSWORD = "violet lantern harbour sixty glide"


@pytest.fixture
def first(app, clock):
    member = StaffMember(app, clock, Role.ADMIN, "first@example.org")
    member.reauthenticate()
    return member


@pytest.fixture
def second(app, clock, first):
    member = StaffMember(app, clock, Role.ADMIN, "second@example.org")
    member.reauthenticate()
    return member


def _mint_puppet(app, clock, admin, role="caseworker"):
    """The admin invites an account and sets it up themself, as an insider would."""
    response = admin.client.post(
        "/admin/invitations",
        data={"email": "puppet@example.org", "name": "Puppet", "role": role},
    )
    link = re.search(r'value="http://localhost(/invite/[^"]+)"', response.get_data(as_text=True))
    holder = app.test_client()
    holder.post(link.group(1), data={"password": PUPPET_PASSWORD, "confirm": PUPPET_PASSWORD})
    page = holder.get("/enrol").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    clock.advance(seconds=30)
    holder.post("/enrol", data={"code": pyotp.TOTP(secret).at(clock())})
    with app.app_context():
        from accounts.services import find_user_by_email

        return find_user_by_email("puppet@example.org").id


def _flash(response) -> str:
    return response.get_data(as_text=True)


def test_the_admin_who_invited_an_account_cannot_vet_it(app, clock, first, second):
    puppet = _mint_puppet(app, clock, first)
    page = first.client.get("/admin/").get_data(as_text=True)
    assert "You set this account up: another admin vets it." in page
    refused = first.client.post(f"/admin/users/{puppet}/vet", follow_redirects=True)
    assert "another admin must vet them" in _flash(refused)
    assert get_user(app, puppet).is_vetted is False
    assert "user.vetted" not in audit_actions(app)

    assert second.client.post(f"/admin/users/{puppet}/vet").status_code == 302
    assert get_user(app, puppet).is_vetted is True
    assert "user.vetted" in audit_actions(app)


def test_an_account_that_has_not_finished_setting_up_cannot_be_vetted(app, clock, first, second):
    first.client.post(
        "/admin/invitations", data={"email": "half@example.org", "name": "Half", "role": "finance"}
    )
    user_id = make_user(app, Role.FINANCE, "unenrolled@example.org", is_vetted=False)
    with app.app_context():
        from extensions import db

        db.session.get(User, user_id).totp_confirmed_at = None
        db.session.commit()
    refused = second.client.post(f"/admin/users/{user_id}/vet", follow_redirects=True)
    assert "has not finished setting up" in _flash(refused)
    assert get_user(app, user_id).is_vetted is False


def test_the_command_line_vets_only_when_there_is_no_second_admin(app, clock, first, runner):
    puppet = _mint_puppet(app, clock, first)
    second = make_user(app, Role.ADMIN, "second@example.org")
    refused = runner.invoke(args=["users", "vet", "--email", "puppet@example.org"])
    assert refused.exit_code != 0
    assert "Another admin can do this in the admin area" in refused.output
    assert get_user(app, puppet).is_vetted is False

    with app.app_context():  # the second admin leaves: now only the inviter is left
        from extensions import db

        db.session.get(User, second).is_active = False
        db.session.commit()
    result = runner.invoke(args=["users", "vet", "--email", "puppet@example.org"])
    assert result.exit_code == 0, result.output
    assert "vetted from the command line" in result.output
    assert get_user(app, puppet).is_vetted is True
    with app.app_context():
        from sqlalchemy import select

        from audit.models import AuditRecord
        from extensions import db

        record = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "user.vetted")
        ).one()
    assert record.actor_id is None
    assert '"method":"cli"' in record.details
    assert '"reason":"single admin"' in record.details

    again = runner.invoke(args=["users", "vet", "--email", "puppet@example.org"])
    assert "already vetted" in again.output
    missing = runner.invoke(args=["users", "vet", "--email", "nobody@example.org"])
    assert "No such user" in missing.output


def test_a_role_change_waits_for_a_second_admin(app, clock, first, second):
    staff = StaffMember(app, clock, Role.CASEWORKER, "worker@example.org")
    first.client.post(f"/admin/users/{staff.id}/role", data={"role": "finance"})
    assert get_user(app, staff.id).role is Role.CASEWORKER
    assert get_user(app, staff.id).pending_role is Role.FINANCE
    assert staff.client.get("/account/").status_code == 200  # nothing changed for them yet
    page = first.client.get("/admin/").get_data(as_text=True)
    assert "another admin approves it" in page

    own = first.client.post(f"/admin/users/{staff.id}/role/approve", follow_redirects=True)
    assert "another admin must approve it" in _flash(own)
    assert get_user(app, staff.id).role is Role.CASEWORKER

    assert second.client.post(f"/admin/users/{staff.id}/role/approve").status_code == 302
    changed = get_user(app, staff.id)
    assert changed.role is Role.FINANCE
    assert changed.pending_role is None
    assert staff.client.get("/account/").status_code == 302  # their sessions ended
    assert audit_actions(app, "user.role_change") == [
        "user.role_change_requested",
        "user.role_changed",
    ]


def test_a_waiting_role_change_can_be_withdrawn_and_approving_nothing_is_refused(
    app, clock, first, second
):
    target = make_user(app, Role.FINANCE)
    first.client.post(f"/admin/users/{target}/role", data={"role": "admin"})
    second.client.post(f"/admin/users/{target}/role/cancel")
    assert get_user(app, target).pending_role is None
    refused = second.client.post(f"/admin/users/{target}/role/approve", follow_redirects=True)
    assert "No role change is waiting" in _flash(refused)
    assert get_user(app, target).role is Role.FINANCE
    own = first.client.post(f"/admin/users/{first.id}/role", data={"role": "finance"})
    assert "cannot change your own role" in _flash(first.client.get("/admin/"))
    assert own.status_code == 302
    assert get_user(app, first.id).pending_role is None


def test_an_admin_cannot_approve_a_change_of_their_own_role(app, clock, first, second):
    third = StaffMember(app, clock, Role.ADMIN, "third@example.org")
    third.reauthenticate()
    first.client.post(f"/admin/users/{second.id}/role", data={"role": "caseworker"})
    refused = second.client.post(f"/admin/users/{second.id}/role/approve", follow_redirects=True)
    assert "own role" in _flash(refused)
    assert get_user(app, second.id).role is Role.ADMIN
    third.client.post(f"/admin/users/{second.id}/role/approve")
    assert get_user(app, second.id).role is Role.CASEWORKER


def test_the_command_line_changes_a_role_only_without_a_second_admin(app, runner):
    make_user(app, Role.ADMIN, "only@example.org")
    target = make_user(app, Role.CASEWORKER, "target@example.org")
    last = runner.invoke(args=["users", "role", "--email", "only@example.org", "--role", "finance"])
    assert "no admin left" in last.output
    assert get_user(app, 1).role is Role.ADMIN

    result = runner.invoke(
        args=["users", "role", "--email", "target@example.org", "--role", "finance"]
    )
    assert result.exit_code == 0, result.output  # one admin: nobody else could approve it
    assert get_user(app, target).role is Role.FINANCE
    assert audit_actions(app, "user.role_changed") == ["user.role_changed"]

    make_user(app, Role.ADMIN, "another@example.org")
    blocked = runner.invoke(
        args=["users", "role", "--email", "target@example.org", "--role", "admin"]
    )
    assert "Another admin can do this" in blocked.output
    assert get_user(app, target).role is Role.FINANCE


def _case_for(app, clock):
    from tests.cases.conftest import INTAKE

    worker = StaffMember(app, clock, Role.CASEWORKER, "owner@example.org")
    response = worker.client.post("/cases/new", data=INTAKE)
    return response.headers["Location"].rsplit("/", 1)[-1]


GRANTS = [
    ("invite", "/admin/invitations", {"email": "n@example.org", "name": "N", "role": "admin"}),
    ("vet", "/admin/users/{user}/vet", None),
    ("role", "/admin/users/{user}/role", {"role": "admin"}),
    ("approve", "/admin/users/{user}/role/approve", None),
    ("unlock", "/admin/users/{user}/unlock", None),
    ("reactivate", "/admin/users/{user}/reactivate", None),
    ("assign", "/cases/{case}/manage", {"user_id": "{worker}"}),
    ("break-glass", "/cases/{case}/break-glass", {"reason": "The caseworker is unreachable now"}),
]


@pytest.mark.parametrize(("name", "path", "data"), GRANTS, ids=[grant[0] for grant in GRANTS])
def test_every_grant_of_access_asks_for_password_and_code_first(app, clock, name, path, data):
    admin = StaffMember(app, clock, Role.ADMIN, "admin@example.org")
    other = StaffMember(app, clock, Role.ADMIN, "other@example.org")
    worker = make_user(app, Role.CASEWORKER, "spare@example.org")
    case_id = _case_for(app, clock)
    user = make_user(app, Role.FINANCE, "target@example.org", is_vetted=False, is_active=False)
    with app.app_context():
        from datetime import timedelta

        from extensions import db
        from security.clock import now

        row = db.session.get(User, user)
        row.locked_until = now() + timedelta(hours=1)
        row.pending_role = Role.ADMIN
        row.role_requested_by_id = other.id
        db.session.commit()
    clock.advance(minutes=6)  # past the re-authentication window of the sign-in
    before = audit_actions(app)
    values = {"user": user, "case": case_id, "worker": worker}
    form = {key: value.format(**values) for key, value in (data or {}).items()}
    response = admin.client.post(path.format(**values), data=form)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/reauthenticate")
    assert audit_actions(app) == before  # nothing was granted, nothing recorded
    target = get_user(app, user)
    assert (target.is_vetted, target.is_active, target.role) == (False, False, Role.FINANCE)
    assert target.locked_until is not None

    clock.advance(seconds=30)
    admin.client.post(
        "/reauthenticate",
        data={"password": PASSWORD, "code": current_code(app, "admin@example.org")},
    )
    again = admin.client.post(path.format(**values), data=form)
    assert not again.headers.get("Location", "").startswith("/reauthenticate")


def test_only_vetted_caseworkers_can_be_assigned(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN)
    admin.reauthenticate()
    case_id = _case_for(app, clock)
    unvetted = make_user(app, Role.CASEWORKER, "new@example.org", is_vetted=False)
    page = admin.client.get(f"/cases/{case_id}/manage").get_data(as_text=True)
    assert f'value="{unvetted}"' not in page
    response = admin.client.post(f"/cases/{case_id}/manage", data={"user_id": unvetted})
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert "case.assigned" not in audit_actions(app)


def test_an_unknown_case_stays_unknown_behind_the_reauthentication(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN)
    admin.reauthenticate()
    response = admin.client.post(f"/cases/{uuid.uuid4()}/manage", data={"user_id": "1"})
    assert response.status_code == 404
