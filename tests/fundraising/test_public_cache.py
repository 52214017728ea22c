"""The public cache: a spike of visitors costs one read per worker per few seconds, and no
visitor ever gets another's CSRF token, nonce, staff menu or flashed message."""

from __future__ import annotations

import re

from flask import Flask

from fundraising.models import DriveStatus
from fundraising.public_cache import PublicCache
from tests.factories import make_drive, make_user
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

VALID = {"amount": "25.00", "payment_method": "pm_card_visa"}
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def cached_app(make_app, **settings) -> tuple[Flask, Ticker]:
    app = make_app(PUBLIC_CACHE_SECONDS=5, **settings)
    ticker = Ticker()
    app.extensions["public_cache"] = PublicCache(ticker)
    return app, ticker


def raised(client) -> int:
    response = client.get("/drives/relocation/progress.json")
    assert response.status_code == 200
    return int(response.get_json()["raised_minor"])


def test_progress_is_kept_for_the_configured_seconds_then_read_again(make_app):
    app, ticker = cached_app(make_app)
    drive_id = make_drive(app)
    client = app.test_client()
    assert raised(client) == 0
    deliver(client, make_gift(app, drive_id, 2500).succeeded())

    ticker.seconds += 4.9
    assert raised(client) == 0  # within the period: the kept answer
    ticker.seconds += 0.2
    assert raised(client) == 2500  # the period is over: read from the aggregate row again


def test_a_kept_progress_answer_still_gets_its_etag_and_304(make_app):
    app, _ = cached_app(make_app)
    make_drive(app)
    client = app.test_client()
    first = client.get("/drives/relocation/progress.json")
    assert first.headers["Cache-Control"] == "public, max-age=5"
    again = client.get(
        "/drives/relocation/progress.json", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.headers["Content-Security-Policy"]  # the security headers are still there


def test_progress_is_the_same_for_everyone_so_shared_caches_may_keep_it(make_app):
    app, _ = cached_app(make_app)
    make_drive(app)
    response = app.test_client().get("/drives/relocation/progress.json")
    assert response.headers["Cache-Control"] == "public, max-age=5"
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")  # the session was never read


def test_an_unknown_or_draft_drive_is_404_and_nothing_is_kept(make_app):
    app, _ = cached_app(make_app)
    make_drive(app, slug="not-yet", status=DriveStatus.DRAFT)
    client = app.test_client()
    assert client.get("/drives/nothing-here/progress.json").status_code == 404
    assert client.get("/drives/not-yet").status_code == 404
    assert client.get("/drives/not-yet/progress.json").status_code == 404
    assert app.extensions["public_cache"]._entries == {}


def test_the_kept_drive_page_carries_each_visitors_own_csrf_token(make_app):
    app, _ = cached_app(make_app, WTF_CSRF_ENABLED=True)
    make_drive(app)
    first, second = app.test_client(), app.test_client()
    first_token = TOKEN.search(first.get("/drives/relocation").get_data(as_text=True))
    second_page = second.get("/drives/relocation").get_data(as_text=True)
    second_token = TOKEN.search(second_page)
    assert first_token is not None
    assert second_token is not None
    assert first_token[1] != second_token[1]
    assert "\x00" not in second_page  # no hole left unfilled

    # Each token is good for its own visitor only.
    response = second.post(
        "/drives/relocation/donate", data={**VALID, "csrf_token": second_token[1]}
    )
    assert response.status_code == 503  # past CSRF and validation; Stripe is not configured
    stolen = second.post("/drives/relocation/donate", data={**VALID, "csrf_token": first_token[1]})
    assert stolen.status_code == 400
    assert "form expired or was sent from elsewhere" in stolen.get_data(as_text=True)


def test_recent_gifts_on_a_kept_page_appear_after_the_period(make_app):
    app, ticker = cached_app(make_app)
    drive_id = make_drive(app)
    client = app.test_client()
    assert "Amal" not in client.get("/drives/relocation").get_data(as_text=True)
    deliver(client, make_gift(app, drive_id, 2500, name="Amal Haddad").succeeded())
    assert "Amal" not in client.get("/drives/relocation").get_data(as_text=True)
    ticker.seconds += 6
    assert "<strong>Amal</strong> gave $25.00" in client.get("/drives/relocation").get_data(
        as_text=True
    )


def test_signed_in_staff_get_their_own_page_and_it_is_never_kept(make_app, clock):
    from tests.conftest import Auth

    app, _ = cached_app(make_app)
    make_drive(app)
    make_user(app, "admin", "admin@example.org")
    staff = app.test_client()
    Auth(app, staff, clock).login("admin@example.org")
    staff_page = staff.get("/drives/relocation").get_data(as_text=True)
    assert "Sign out" in staff_page

    public_page = app.test_client().get("/drives/relocation").get_data(as_text=True)
    assert "Sign out" not in public_page
    assert "Audit log" not in public_page


def test_a_page_with_a_flashed_message_is_built_for_that_visitor_alone(make_app):
    app, _ = cached_app(make_app)
    make_drive(app)
    client = app.test_client()
    client.get("/drives/relocation")  # the plain page is kept
    with client.session_transaction() as state:
        state["_flashes"] = [("message", "Your card was not charged.")]
    assert "Your card was not charged." in client.get("/drives/relocation").get_data(as_text=True)
    other = app.test_client().get("/drives/relocation").get_data(as_text=True)
    assert "Your card was not charged." not in other


def test_an_admins_change_to_a_drive_shows_at_once(make_app, clock):
    from tests.conftest import Auth

    app, _ = cached_app(make_app)
    drive_id = make_drive(app)
    make_user(app, "admin", "admin@example.org")
    visitor = app.test_client()
    assert "This drive has ended" not in visitor.get("/drives/relocation").get_data(as_text=True)

    admin = app.test_client()
    Auth(app, admin, clock).login("admin@example.org")
    assert admin.post(f"/admin/drives/{drive_id}/close").status_code == 302

    assert "This drive has ended" in visitor.get("/drives/relocation").get_data(as_text=True)
    assert visitor.get("/drives/relocation/progress.json").get_json()["open"] is False


def test_turned_off_every_request_reads_the_database(make_app):
    app = make_app(PUBLIC_CACHE_SECONDS=0)
    drive_id = make_drive(app)
    client = app.test_client()
    assert raised(client) == 0
    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    assert raised(client) == 2500
