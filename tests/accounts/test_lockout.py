"""Lockout after repeated failures, its expiry and back-off, and the per-IP rate limit."""

from __future__ import annotations

from accounts.models import Role
from tests.conftest import PASSWORD, Auth
from tests.factories import audit_actions, get_user, make_user, user_email

WRONG = "this is not the password"


def _fail(client, email, times):
    for _ in range(times):
        client.post("/login", data={"email": email, "password": WRONG})
        client.post("/login/two-factor", data={"code": "000000"})


def _can_sign_in(app, clock, email):
    client = app.test_client()
    Auth(app, client, clock).login(email)
    return client.get("/account/").status_code == 200


def test_five_failures_lock_the_account_until_the_lock_expires(app, client, clock):
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    _fail(client, email, 4)
    assert get_user(app, user_id).locked_until is None
    _fail(client, email, 1)
    assert "account.locked" in audit_actions(app)
    assert not _can_sign_in(app, clock, email)  # the right password and code, still refused
    clock.advance(minutes=13)  # each sign-in moves the clock on by one 30-second step
    assert not _can_sign_in(app, clock, email)
    clock.advance(minutes=1, seconds=1)
    assert _can_sign_in(app, clock, email)


def test_the_second_lockout_lasts_longer(app, client, clock):
    user_id = make_user(app, Role.FINANCE)
    email = user_email(app, user_id)
    _fail(client, email, 5)
    first = get_user(app, user_id).locked_until - clock()
    clock.advance(minutes=16)
    _fail(client, email, 5)
    second = get_user(app, user_id).locked_until - clock()
    assert second > first
    clock.advance(minutes=20)
    assert not _can_sign_in(app, clock, email)  # the first lock's length has passed
    clock.advance(minutes=11)
    assert _can_sign_in(app, clock, email)
    assert audit_actions(app, "account.") == ["account.locked", "account.locked"]


def test_a_successful_sign_in_clears_earlier_failures(app, client, clock):
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    _fail(client, email, 4)
    assert _can_sign_in(app, clock, email)
    _fail(client, email, 4)
    assert get_user(app, user_id).locked_until is None


def test_wrong_codes_count_towards_the_lockout(app, client):
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    for _ in range(5):
        client.post("/login", data={"email": email, "password": PASSWORD})
        client.post("/login/two-factor", data={"code": "000000"})
    assert get_user(app, user_id).locked_until is not None


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
