"""Throttle, don't lock: failures slow the next attempt from that address, for that account and
for the address as a whole, and never lock anyone out; sign-in, re-authentication and the
password change count the same way. Plus the per-IP rate limit in front of it all."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import LoginThrottle, Role
from tests.conftest import PASSWORD, Auth, current_code
from tests.factories import StaffMember, audit_actions, get_user, make_user, user_email

WRONG = "this is not the password"
OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}
HOME = {"REMOTE_ADDR": "198.51.100.20"}


def _client(app, address):
    client = app.test_client()
    client.environ_base.update(address)
    return client


def _fail(client, email, times):
    answers = []
    for _ in range(times):
        answers.append(client.post("/login", data={"email": email, "password": WRONG}))
        client.post("/login/two-factor", data={"code": "000000"})
    return answers


def _signs_in(app, clock, email, address):
    client = _client(app, address)
    response = Auth(app, client, clock).login(email)
    return client.get("/account/").status_code == 200, response


def test_an_outsiders_failures_do_not_stop_the_real_user_from_another_address(app, clock):
    email = user_email(app, make_user(app, Role.ADMIN))
    outsider = _client(app, OUTSIDER)
    _fail(outsider, email, 30)  # enough to have locked the account for hours before
    ok, _ = _signs_in(app, clock, email, HOME)
    assert ok
    assert get_user(app, 1).locked_until is None


def test_failures_from_one_address_make_it_wait_longer_each_time(app, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    outsider = _client(app, OUTSIDER)
    answers = _fail(outsider, email, 4)
    assert [answer.status_code for answer in answers] == [302, 302, 302, 302]
    # The fourth failure earned a 1-second wait: the right password is not even checked.
    refused = outsider.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Wait 1 second, then try again" in refused.get_data(as_text=True)
    clock.advance(seconds=1)
    _fail(outsider, email, 1)
    waits = outsider.post("/login", data={"email": email, "password": WRONG})
    assert "Wait 2 seconds" in waits.get_data(as_text=True)  # doubled
    clock.advance(seconds=2)
    ok, _ = _signs_in(app, clock, email, OUTSIDER)  # the person, from there, after the wait
    assert ok
    _fail(outsider, email, 3)  # a success forgot the earlier failures: three free again
    assert outsider.post("/login", data={"email": email, "password": WRONG}).status_code == 302


def test_an_unknown_email_is_throttled_exactly_like_a_known_one(app):
    known = user_email(app, make_user(app, Role.CASEWORKER))
    answers: dict[str, tuple[int, int]] = {}
    for email in (known, "nobody-here@example.org"):
        client = _client(app, {"REMOTE_ADDR": f"192.0.2.{len(answers) + 1}"})
        _fail(client, email, 4)
        response = client.post("/login", data={"email": email, "password": WRONG})
        answers[email] = (response.status_code, response.get_data(as_text=True).count("Wait"))
    assert answers[known] == answers["nobody-here@example.org"] == (429, 1)


def test_one_address_trying_many_accounts_is_slowed_for_every_account(app, clock):
    emails = [user_email(app, make_user(app, Role.FINANCE)) for _ in range(6)]
    sprayer = _client(app, OUTSIDER)
    for email in emails:
        _fail(sprayer, email, 2)  # under each account's allowance, but 12 from one address
    refused = sprayer.post("/login", data={"email": "another@example.org", "password": WRONG})
    assert refused.status_code == 429
    ok, _ = _signs_in(app, clock, emails[0], HOME)  # the staff themselves, elsewhere: fine
    assert ok


def test_wrong_codes_count_like_wrong_passwords(app, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    client = _client(app, OUTSIDER)
    for _ in range(4):
        client.post("/login", data={"email": email, "password": PASSWORD})
        client.post("/login/two-factor", data={"code": "000000"})
    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Wait 1 second" in refused.get_data(as_text=True)
    clock.advance(seconds=1)
    client.post("/login", data={"email": email, "password": PASSWORD})
    client.post("/login/two-factor", data={"code": "000000"})
    again = client.post("/login", data={"email": email, "password": PASSWORD})
    assert "Wait 2 seconds" in again.get_data(as_text=True)  # the fifth wrong code doubled it


def test_password_change_counts_failures_and_waits_like_sign_in(app, clock):
    member = StaffMember(app, clock, Role.CASEWORKER)
    member.client.environ_base.update(OUTSIDER)
    change = {"password": "violet lantern harbour sixty glide"}
    change["confirm"] = change["password"]
    for _ in range(4):
        wrong = member.client.post("/account/password", data={**change, "current": WRONG})
        assert wrong.status_code == 400
        assert "The current password is not right" in wrong.get_data(as_text=True)
    refused = member.client.post("/account/password", data={**change, "current": PASSWORD})
    assert refused.status_code == 429
    assert "Wait" in refused.get_data(as_text=True)
    assert audit_actions(app, "user.password_changed") == []
    clock.advance(seconds=1)
    done = member.client.post("/account/password", data={**change, "current": PASSWORD})
    assert done.status_code == 302
    assert audit_actions(app, "user.password_changed") == ["user.password_changed"]


def test_reauthentication_counts_failures_and_waits(app, clock):
    member = StaffMember(app, clock, Role.ADMIN)
    for _ in range(4):
        member.client.post("/reauthenticate", data={"password": WRONG, "code": "000000"})
    # Nothing is checked while the wait lasts: the right password is refused unseen.
    refused = member.client.post("/reauthenticate", data={"password": PASSWORD, "code": "123456"})
    assert refused.status_code == 429
    assert "Wait 1 second" in refused.get_data(as_text=True)
    clock.advance(seconds=30)
    code = current_code(app, member.email)
    done = member.client.post("/reauthenticate", data={"password": PASSWORD, "code": code})
    assert done.status_code == 302
    assert audit_actions(app, "user.reauthenticated") == ["user.reauthenticated"]


def test_failures_from_everywhere_raise_a_security_event_not_a_lock(app, clock):
    user_id = make_user(app, Role.ADMIN)
    email = user_email(app, user_id)
    for number in range(20):  # a spread-out attack: one try from each of 20 addresses
        _fail(_client(app, {"REMOTE_ADDR": f"192.0.2.{number + 1}"}), email, 1)
    assert audit_actions(app, "account.failures_alarm") == ["account.failures_alarm"]
    admin = StaffMember(app, clock, Role.ADMIN)
    page = admin.client.get("/admin/security").get_data(as_text=True)
    assert "Many failed sign-ins for one account" in page
    ok, _ = _signs_in(app, clock, email, HOME)
    assert ok


def test_the_throttle_table_holds_no_email_or_address(app):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    _fail(_client(app, OUTSIDER), email, 2)
    with app.app_context():
        from extensions import db

        rows = db.session.scalars(select(LoginThrottle)).all()
    assert len(rows) == 2  # the account at that address, and the address
    for row in rows:
        assert email not in row.key
        assert OUTSIDER["REMOTE_ADDR"] not in row.key
        assert len(row.key) == 64


def test_a_duress_lock_still_holds_until_an_admin_lifts_it(app, clock):
    member = StaffMember(app, clock, Role.CASEWORKER)
    member.client.post("/account/duress")
    ok, _ = _signs_in(app, clock, member.email, HOME)
    assert not ok


def test_login_posts_are_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    answers = [
        client.post("/login", data={"email": "someone@example.org", "password": WRONG})
        for _ in range(4)
    ]
    assert [answer.status_code for answer in answers] == [302, 302, 302, 429]
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    other = app.test_client()
    blocked = other.post("/login", data={"email": "a@example.org", "password": WRONG})
    assert blocked.status_code == 429  # the same address, whatever the cookie
    assert client.get("/login").status_code == 200  # only POST is limited
