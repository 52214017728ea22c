"""CSRF: a state-changing request without the token is refused and writes nothing."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from accounts.models import Invitation, Role, StaffSession
from audit.models import AuditRecord
from tests.conftest import PASSWORD, current_code
from tests.factories import count_rows, make_user, user_email


@pytest.fixture
def app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def _token(page):
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if match is None:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has a csrf_token input"
    return match.group(1)


def _sign_in(app, client, clock, email):
    """The real two-step sign-in, tokens and all."""
    clock.advance(seconds=30)
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    token = _token(client.get("/login/two-factor").get_data(as_text=True))
    client.post("/login/two-factor", data={"code": current_code(app, email), "csrf_token": token})
    assert client.get("/account/").status_code == 200


def _counts(app):
    return {
        model.__name__: count_rows(app, model) for model in (AuditRecord, Invitation, StaffSession)
    }


def test_login_without_a_token_is_refused_and_writes_nothing(app, client):
    email = user_email(app, make_user(app, Role.ADMIN))
    before = _counts(app)
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_invitation_without_a_token_is_refused_and_writes_nothing(app, client, clock):
    _sign_in(app, client, clock, user_email(app, make_user(app, Role.ADMIN)))
    before = _counts(app)
    form = {"email": "new@example.org", "name": "New", "role": "finance"}
    assert client.post("/admin/invitations", data=form).status_code == 400
    assert client.post("/admin/invitations", data={**form, "csrf_token": "forged"}).status_code == (
        400
    )
    assert _counts(app) == before
    token = _token(client.get("/admin/").get_data(as_text=True))
    assert client.post("/admin/invitations", data={**form, "csrf_token": token}).status_code == 200
    assert count_rows(app, Invitation) == 1


def test_sign_out_everywhere_without_a_token_is_refused_and_ends_nothing(app, client, clock):
    _sign_in(app, client, clock, user_email(app, make_user(app, Role.CASEWORKER)))
    before = _counts(app)
    assert client.post("/account/sessions/end-all").status_code == 400
    assert _counts(app) == before
    assert client.get("/account/").status_code == 200


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (attributes.get("method") or "get").lower(), "names": []})
        elif tag in ("input", "select", "textarea", "button") and self.forms:
            self.forms[-1]["names"].append(attributes.get("name"))


def _post_forms(page):
    parser = _Forms()
    parser.feed(page)
    return [form for form in parser.forms if form["method"] == "post"]


def test_every_form_on_the_staff_pages_carries_a_csrf_token(app, client, clock):
    pages = {}
    pages["/login"] = client.get("/login").get_data(as_text=True)
    admin_email = user_email(app, make_user(app, Role.ADMIN))
    _sign_in(app, client, clock, admin_email)
    make_user(app, Role.FINANCE, is_vetted=False)
    for path in ("/admin/", "/account/", "/reauthenticate"):
        pages[path] = client.get(path).get_data(as_text=True)
    response = client.post(
        "/admin/invitations",
        data={
            "email": "n@example.org",
            "name": "N",
            "role": "finance",
            "csrf_token": _token(pages["/admin/"]),
        },
    )
    link = re.search(r'value="http://localhost(/invite/[^"]+)"', response.get_data(as_text=True))
    invitee = app.test_client()
    pages["/invite/..."] = page = invitee.get(link.group(1)).get_data(as_text=True)
    password = "violet lantern harbour sixty glide"
    invitee.post(
        link.group(1), data={"password": password, "confirm": password, "csrf_token": _token(page)}
    )
    pages["/enrol"] = invitee.get("/enrol").get_data(as_text=True)
    stranger = app.test_client()
    token = _token(stranger.get("/login").get_data(as_text=True))
    stranger.post("/login", data={"email": admin_email, "password": "x", "csrf_token": token})
    pages["/login/two-factor"] = stranger.get("/login/two-factor").get_data(as_text=True)

    for path, page in pages.items():
        forms = _post_forms(page)
        assert forms, f"{path} has a form"
        for form in forms:
            assert "csrf_token" in form["names"], path
    assert "<svg" in pages["/enrol"]  # the enrolment page itself, not a redirect
