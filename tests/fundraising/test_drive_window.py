"""A drive takes money only inside its window, and its page and progress say so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from extensions import db
from fundraising import drives
from fundraising.models import Drive, DriveStatus
from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import count_donations, make_gift, totals

GIFT = {"amount": "25.00", "payment_method": "pm_card_visa", "email": "donor@example.org"}


def donate(client, slug="relocation", **fields):
    return client.post(f"/drives/{slug}/donate", data={**GIFT, **fields})


@pytest.mark.parametrize(
    ("starts_in", "ends_in"),
    [
        (timedelta(hours=2), timedelta(hours=50)),  # not started yet
        (timedelta(hours=-50), timedelta(hours=-1)),  # ended an hour ago
        (timedelta(hours=-50), timedelta(0)),  # ends this very moment
    ],
    ids=["before-start", "after-end", "at-the-end"],
)
def test_outside_the_window_donate_is_410_and_writes_nothing(
    app, client, clock, starts_in, ends_in
):
    make_drive(app, starts_at=clock.current + starts_in, ends_at=clock.current + ends_in)
    response = donate(client)
    assert response.status_code == 410
    assert "no longer taking gifts" in response.get_json()["error"]
    assert count_donations(app) == 0


def test_a_drive_that_ends_while_open_refuses_the_next_gift(app, client, clock):
    make_drive(app)
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is True
    clock.advance(hours=72)
    response = donate(client)
    assert response.status_code == 410
    assert count_donations(app) == 0


def test_a_draft_drive_does_not_exist_for_the_public(app, client):
    make_drive(app, status=DriveStatus.DRAFT)
    response = donate(client)
    assert response.status_code == 404
    assert "error" in response.get_json()
    assert client.get("/drives/relocation").status_code == 404
    assert client.get("/drives/relocation/progress.json").status_code == 404
    assert count_donations(app) == 0


def test_a_closed_drive_is_410(app, client):
    drive_id = make_drive(app)
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        drives.set_drive_status(drive, DriveStatus.CLOSED, actor=None)
        db.session.commit()
    response = donate(client)
    assert response.status_code == 410
    assert count_donations(app) == 0
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is False


def test_after_the_end_the_page_shows_the_final_total_and_no_form(app, client, clock):
    drive_id = make_drive(app)
    gift = make_gift(app, drive_id, 4250)
    deliver(client, gift.succeeded())
    open_page = client.get("/drives/relocation").get_data(as_text=True)
    assert 'id="donate-form"' in open_page
    clock.advance(hours=73)
    page = client.get("/drives/relocation")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "This drive has ended" in text
    assert "It raised <strong>$42.50</strong> from 1 donor." in text
    assert 'id="donate-form"' not in text
    assert 'name="payment_method"' not in text
    assert 'name="amount"' not in text


def test_before_the_start_the_page_says_when_it_opens(app, client, clock):
    make_drive(app, starts_at=clock.current + timedelta(days=1))
    text = client.get("/drives/relocation").get_data(as_text=True)
    assert "This drive has not started yet" in text
    assert 'id="donate-form"' not in text


def test_progress_json_has_exactly_the_documented_fields(app, client, clock):
    drive_id = make_drive(app, goal_minor=6_000_000)
    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    response = client.get("/drives/relocation/progress.json")
    body = response.get_json()
    assert set(body) == {
        "raised_minor",
        "goal_minor",
        "currency",
        "donors",
        "starts_at",
        "ends_at",
        "open",
    }
    assert body["raised_minor"] == 2500
    assert body["goal_minor"] == 6_000_000
    assert body["currency"] == "usd"
    assert body["donors"] == 1
    assert body["open"] is True
    assert body["ends_at"] == (clock.current + timedelta(hours=72)).isoformat()
    clock.advance(hours=80)
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is False


def test_progress_json_is_cacheable_and_conditional(app, client):
    drive_id = make_drive(app)
    first = client.get("/drives/relocation/progress.json")
    assert first.headers["Cache-Control"] == "public, max-age=5"
    etag = first.headers["ETag"]
    assert etag
    unchanged = client.get("/drives/relocation/progress.json", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""

    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    changed = client.get("/drives/relocation/progress.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["raised_minor"] == 2500
    assert changed.headers["ETag"] != etag


def test_progress_etag_changes_when_the_drive_ends(app, client, clock):
    make_drive(app)
    etag = client.get("/drives/relocation/progress.json").headers["ETag"]
    clock.advance(hours=72)
    after = client.get("/drives/relocation/progress.json", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.get_json()["open"] is False


def test_a_drive_that_closes_at_its_goal_stops_taking_gifts(app, client):
    drive_id = make_drive(app, goal_minor=5000, closes_at_goal=True)
    deliver(client, make_gift(app, drive_id, 3000).succeeded())
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is True
    deliver(client, make_gift(app, drive_id, 2000).succeeded())
    assert totals(app, drive_id) == (5000, 2)
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is False
    before = count_donations(app)
    response = donate(client)
    assert response.status_code == 410
    assert count_donations(app) == before
    assert "This drive has ended" in client.get("/drives/relocation").get_data(as_text=True)


def test_a_drive_without_closes_at_goal_keeps_taking_gifts_past_it(app, client):
    drive_id = make_drive(app, goal_minor=5000)
    deliver(client, make_gift(app, drive_id, 6000).succeeded())
    assert client.get("/drives/relocation/progress.json").get_json()["open"] is True
