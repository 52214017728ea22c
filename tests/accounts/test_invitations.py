"""Invitations, enrolment, vetting, and reset links."""

from __future__ import annotations

import re

import pyotp
import pytest

from accounts.models import Invitation, LinkPurpose, Role, User
from tests.conftest import PASSWORD, Auth, current_code
from tests.factories import (
    StaffMember,
    audit_actions,
    count_rows,
    get_user,
    make_user,
    user_email,
)

NEW_PASSWORD = "violet lantern harbour sixty glide"


def _admin_client(app, clock):
    member = StaffMember(app, clock, Role.ADMIN)
    member.reauthenticate()  # inviting and vetting ask for password and code again
    return member.client


@pytest.fixture
def admin(app, clock):
    """A client signed in as an admin, who has just re-authenticated."""
    return _admin_client(app, clock)


@pytest.fixture
def second_admin(app, clock, admin):
    """Another admin (vetting is for someone other than the admin who set the account up)."""
    return _admin_client(app, clock)


def _invite(admin, email="newcomer@example.org", role="caseworker"):
    response = admin.post(
        "/admin/invitations", data={"email": email, "name": "New Comer", "role": role}
    )
    assert response.status_code == 200
    match = re.search(r'value="http://localhost(/invite/[^"]+)"', response.get_data(as_text=True))
    assert match, "the page shows the one-time link"
    return match.group(1)


def _set_password(client, link, password=NEW_PASSWORD):
    return client.post(link, data={"password": password, "confirm": password})


def _enrol(client, clock):
    page = client.get("/enrol").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    clock.advance(seconds=30)
    response = client.post("/enrol", data={"code": pyotp.TOTP(secret).at(clock())})
    return page, secret, response


def _login(app, clock, email, password=NEW_PASSWORD):
    client = app.test_client()
    response = Auth(app, client, clock).login(email, password=password)
    return client, client.get(response.headers["Location"]).get_data(as_text=True)


def test_invitation_enrolment_and_vetting_lead_to_a_working_login(app, admin, second_admin, clock):
    link = _invite(admin)
    invitee = app.test_client()
    assert invitee.get(link).status_code == 200
    response = _set_password(invitee, link)
    assert response.headers["Location"].endswith("/enrol")

    page, secret, response = _enrol(invitee, clock)
    assert "<svg" in page  # the QR code is drawn by the server, inline
    assert secret in page
    assert response.headers["Location"].endswith("/login")

    client, page = _login(app, clock, "newcomer@example.org")
    assert "waiting to be vetted" in page
    assert client.get("/account/").status_code == 302

    user_id = _user_id(app, "newcomer@example.org")
    assert second_admin.post(f"/admin/users/{user_id}/vet").status_code == 302
    client, _ = _login(app, clock, "newcomer@example.org")
    assert client.get("/account/").status_code == 200
    assert get_user(app, user_id).role is Role.CASEWORKER
    for action in (
        "invitation.created",
        "invitation.accepted",
        "two_factor.enrolled",
        "user.vetted",
        "login.refused",
        "login.succeeded",
    ):
        assert action in audit_actions(app)


def _user_id(app, email):
    from accounts.services import find_user_by_email

    with app.app_context():
        return find_user_by_email(email).id


def test_an_invitation_link_works_once(app, admin):
    link = _invite(admin)
    _set_password(app.test_client(), link)
    second = app.test_client()
    assert second.get(link).status_code == 410
    response = _set_password(second, link, "another long passphrase here")
    assert response.status_code == 410
    assert "already been used" in response.get_data(as_text=True)


def test_an_invitation_expires_after_48_hours(app, admin, clock):
    link = _invite(admin)
    invitee = app.test_client()
    clock.advance(hours=47, minutes=59)
    assert invitee.get(link).status_code == 200
    clock.advance(minutes=1)
    response = invitee.get(link)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert _set_password(invitee, link).status_code == 410
    assert count_rows(app, User) == 1


def test_an_unknown_link_is_gone(client):
    assert client.get("/invite/not-a-real-token").status_code == 410


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "between 14 and 128"),
        ("passwordpassword", "Repeats"),
        ("correct horse " * 10, "between 14 and 128"),  # 140 characters
    ],
)
def test_a_weak_password_is_refused_next_to_the_field_and_creates_nothing(
    app, admin, password, message
):
    link = _invite(admin)
    invitee = app.test_client()
    response = _set_password(invitee, link, password)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="error" id="password-error">([^<]*)</p>', page)
    assert error
    assert message in error.group(1)
    assert count_rows(app, User) == 1
    assert invitee.get(link).status_code == 200  # the link is still unused


def test_a_long_strong_password_of_up_to_128_characters_is_taken(app, admin, clock):
    link = _invite(admin)
    invitee = app.test_client()
    password = "quiet otter mango " * 7  # 126 characters, past zxcvbn's own limit
    response = _set_password(invitee, link, password)
    assert response.headers["Location"].endswith("/enrol")


def test_the_two_passwords_must_match(app, admin):
    link = _invite(admin)
    response = app.test_client().post(link, data={"password": NEW_PASSWORD, "confirm": "x"})
    assert "The two passwords differ." in response.get_data(as_text=True)
    assert count_rows(app, User) == 1


def test_inviting_an_existing_email_is_refused(app, admin):
    email = user_email(app, make_user(app, Role.FINANCE))
    response = admin.post("/admin/invitations", data={"email": email, "name": "X", "role": "admin"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert count_rows(app, Invitation) == 0


def test_a_refused_invitation_keeps_the_pending_ones_on_the_page(app, admin):
    _invite(admin, email="waiting@example.org")
    page = admin.post("/admin/invitations", data={"email": "not an email", "name": "X"})
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "The invitation was not created" in text
    assert "waiting@example.org" in text  # the pending invitation is still listed
    assert count_rows(app, Invitation) == 1


def test_a_wrong_enrolment_code_is_refused(app, admin, clock):
    link = _invite(admin)
    invitee = app.test_client()
    _set_password(invitee, link)
    response = invitee.post("/enrol", data={"code": "000000"})
    assert response.status_code == 200
    assert "That code is not right" in response.get_data(as_text=True)
    assert get_user(app, _user_id(app, "newcomer@example.org")).totp_confirmed_at is None


def test_reset_link_needs_reauthentication_and_replaces_password_and_authenticator(
    app, admin, second_admin, clock
):
    user_id = make_user(app, Role.FINANCE)
    email = user_email(app, user_id)
    staff, _ = _login(app, clock, email, password=PASSWORD)
    assert staff.get("/account/").status_code == 200
    clock.advance(minutes=6)  # past the re-authentication window of the admin's sign-in

    response = admin.post(f"/admin/users/{user_id}/reset")
    assert response.headers["Location"].startswith("/reauthenticate")
    assert staff.get("/account/").status_code == 200  # nothing happened yet

    admin_email = user_email(app, 1)
    clock.advance(seconds=30)
    refused = admin.post("/reauthenticate", data={"password": "wrong one", "code": "000000"})
    assert "not right" in refused.get_data(as_text=True)
    confirmed = admin.post(
        "/reauthenticate",
        data={"password": PASSWORD, "code": current_code(app, admin_email)},
    )
    assert confirmed.status_code == 302
    response = admin.post(f"/admin/users/{user_id}/reset")
    assert response.status_code == 200
    link = re.search(r'value="http://localhost(/invite/[^"]+)"', response.get_data(as_text=True))
    assert staff.get("/account/").status_code == 302  # their sessions ended
    old = app.test_client()
    old.post("/login", data={"email": email, "password": PASSWORD})
    page = old.post("/login/two-factor", data={"code": "123456"}, follow_redirects=True)
    assert "Sign-in failed" in page.get_data(as_text=True)  # the old sign-in no longer works

    holder = app.test_client()
    assert _set_password(holder, link.group(1)).headers["Location"].endswith("/enrol")
    _enrol(holder, clock)
    # Whoever opened the link is not yet known to be them: no sign-in before an admin vets.
    waiting = app.test_client()
    waiting.post("/login", data={"email": email, "password": NEW_PASSWORD})
    clock.advance(seconds=30)
    code = current_code(app, email)
    refused = waiting.post("/login/two-factor", data={"code": code}, follow_redirects=True)
    assert "waiting to be vetted" in refused.get_data(as_text=True)
    assert get_user(app, user_id).is_vetted is False
    # The admin who issued the link cannot vet whoever opened it: that takes a second admin.
    own = admin.post(f"/admin/users/{user_id}/vet", follow_redirects=True)
    assert "another admin must vet them" in own.get_data(as_text=True)
    assert get_user(app, user_id).is_vetted is False
    clock.advance(seconds=30)
    second_admin.post(
        "/reauthenticate",
        data={"password": PASSWORD, "code": current_code(app, user_email(app, 2))},
    )
    assert second_admin.post(f"/admin/users/{user_id}/vet").status_code == 302
    client, _ = _login(app, clock, email)
    assert client.get("/account/").status_code == 200
    assert "user.reset_issued" in audit_actions(app)


def _reset_link(app, user_id):
    """A reset link issued by an admin (the service, as the admin's reset button calls it)."""
    from accounts import services
    from extensions import db

    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.role == Role.ADMIN))
        token, _ = services.issue_reset_link(db.session.get(User, user_id), actor=admin)
        db.session.commit()
    return f"/invite/{token}"


def test_a_newer_reset_link_makes_the_older_one_useless(app, admin):
    user_id = make_user(app, Role.FINANCE)
    older = _reset_link(app, user_id)
    newer = _reset_link(app, user_id)
    holder = app.test_client()
    assert holder.get(older).status_code == 410  # an old email, a forwarded link: refused
    assert _set_password(holder, older).status_code == 410
    assert holder.get(newer).status_code == 200
    with app.app_context():
        from sqlalchemy import select

        from audit.models import AuditRecord
        from extensions import db

        details = db.session.scalars(
            select(AuditRecord.details).where(AuditRecord.action == "user.reset_issued")
        ).all()
    assert '"links_revoked":1' in details[-1]


def test_using_a_link_revokes_every_other_open_link_for_that_person(app, admin):
    user_id = make_user(app, Role.FINANCE)
    email = user_email(app, user_id)
    reset = _reset_link(app, user_id)
    with app.app_context():  # another open link for the same email, made some other way
        from accounts import services
        from extensions import db

        other = services._issue_link(
            LinkPurpose.RESET,
            email,
            "Someone",
            Role.FINANCE,
            db.session.get(User, user_id),
            db.session.get(User, 1),
        )[0]
        db.session.commit()
    assert _set_password(app.test_client(), reset).status_code == 302
    assert app.test_client().get(f"/invite/{other}").status_code == 410


def test_a_reset_link_lives_a_day_by_default_and_as_long_as_configured(make_app, clock):
    app = make_app()
    make_user(app, Role.ADMIN)
    link = _reset_link(app, make_user(app, Role.FINANCE))
    clock.advance(hours=23, minutes=59)
    assert app.test_client().get(link).status_code == 200
    clock.advance(minutes=1)
    assert app.test_client().get(link).status_code == 410

    longer = make_app(RESET_LINK_HOURS=72)
    make_user(longer, Role.ADMIN)
    link = _reset_link(longer, make_user(longer, Role.FINANCE))
    clock.advance(hours=71)
    assert longer.test_client().get(link).status_code == 200
