"""The public drive pages: a safe story, honest figures, and nothing about donors it should not."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db
from fundraising import drives, services
from fundraising.models import Donation, Drive, DriveStatus
from tests.conftest import create_payment_method
from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

LOCAL_STRIPE_JS = "http://127.0.0.1:8420/js.stripe.com/v3/"


def page_text(client, slug="relocation"):
    response = client.get(f"/drives/{slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_story_is_markdown_without_raw_html(app, client):
    make_drive(
        app,
        story=(
            "We need **flights**.\n\n<script>alert(1)</script>\n\n"
            '<img src=x onerror="alert(2)">\n\n'
            "Read [the report](https://example.org/report) and [this](javascript:alert(3))."
        ),
    )
    text = page_text(client)
    assert "<strong>flights</strong>" in text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img" not in text
    assert '&lt;img src=x onerror="alert(2)"&gt;' in text  # shown as text, never markup
    assert 'href="https://example.org/report" rel="noopener nofollow"' in text
    assert 'href="javascript:' not in text


def test_the_page_shows_raised_goal_and_donors(app, client):
    drive_id = make_drive(app, goal_minor=6_000_000)
    for amount in (2500, 5000):
        deliver(client, make_gift(app, drive_id, amount).succeeded())
    make_gift(app, drive_id, 9900)  # pending: not counted yet
    text = page_text(client)
    assert '<strong id="raised">$75.00</strong>' in text
    assert '<span id="goal">$60,000.00</span>' in text
    assert '<span id="donors">2</span> donors' in text


@pytest.mark.parametrize(
    ("raised", "valuenow", "width"),
    [(0, 0, 0), (500, 0, 1), (27_000, 4, 4), (300_000, 50, 50), (900_000, 100, 100)],
)
def test_the_bar_shows_the_true_percent_and_any_gift_at_all(app, client, raised, valuenow, width):
    drive_id = make_drive(app, goal_minor=600_000)
    if raised:
        deliver(client, make_gift(app, drive_id, raised).succeeded())
    for text in (page_text(client), client.get("/").get_data(as_text=True)):
        bar = re.search(
            r'<div class="bar"[^>]*aria-valuenow="(\d+)"><span class="bar-fill w-(\d+)"', text
        )
        assert bar is not None
        assert (int(bar.group(1)), int(bar.group(2))) == (valuenow, width)


def test_recent_gifts_show_a_first_name_or_anonymous_never_the_email(app, client):
    drive_id = make_drive(app)
    named = make_gift(
        app,
        drive_id,
        2500,
        name="Amal Haddad",
        email="amal.haddad@example.org",
        message="Stay safe.",
    )
    hidden = make_gift(
        app, drive_id, 4000, name="Wendell Quill", email="wq@example.org", is_anonymous=True
    )
    failed = make_gift(app, drive_id, 7700, name="Priya Failed")
    for gift in (named, hidden):
        deliver(client, gift.succeeded())
    deliver(client, failed.failed())
    text = page_text(client)
    assert "<strong>Amal</strong> gave $25.00<q>Stay safe.</q>" in text
    assert "<strong>Anonymous</strong> gave $40.00" in text
    for secret in ("Haddad", "amal.haddad@example.org", "Wendell", "Quill", "wq@example.org"):
        assert secret not in text
    assert "Priya" not in text  # a failed payment is not a gift


def test_a_donors_message_is_shown_as_text(app, client):
    drive_id = make_drive(app)
    gift = make_gift(app, drive_id, message='<b onmouseover="x()">bold</b> & brave')
    deliver(client, gift.succeeded())
    text = page_text(client)
    assert "<b onmouseover" not in text
    assert "&lt;b onmouseover=&#34;x()&#34;&gt;bold&lt;/b&gt; &amp; brave" in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # reads the file's bytes
def test_donor_name_and_email_are_not_stored_in_plaintext(stripe_app, localstripe, caplog):
    with stripe_app.app_context():
        database_file = Path(db.engine.url.database)
    make_drive(stripe_app)
    caplog.set_level(logging.DEBUG)
    client = stripe_app.test_client()
    response = client.post(
        "/drives/relocation/donate",
        data={
            "amount": "30",
            "payment_method": create_payment_method(localstripe),
            "name": "Zeynep Kaplanoglu",
            "email": "zeynep.private@example.net",
        },
    )
    assert response.status_code == 200, response.get_json()
    with stripe_app.app_context():
        donation = db.session.scalars(select(Donation)).one()
        assert donation.email_sealed
        assert services.donor_details(donation) == {
            "name": "Zeynep Kaplanoglu",
            "email": "zeynep.private@example.net",
        }
        db.session.remove()
        db.engine.dispose()  # close connections so every page is in the file
    stored = b"".join(
        path.read_bytes()
        for path in database_file.parent.glob(database_file.name + "*")
        if path.is_file()
    )
    assert b"Zeynep" in stored  # the public first name: the gift's row is in these bytes
    assert b"zeynep.private" not in stored
    assert b"Kaplanoglu" not in stored
    assert "zeynep.private" not in caplog.text
    assert "Kaplanoglu" not in caplog.text


def test_the_index_lists_live_drives_only(app, client, clock):
    moment = clock.current
    make_drive(app, slug="open-now", title="Open now drive")
    make_drive(app, slug="draft", title="Draft drive", status=DriveStatus.DRAFT)
    make_drive(
        app,
        slug="ended",
        title="Ended drive",
        starts_at=moment - timedelta(days=5),
        ends_at=moment - timedelta(days=1),
    )
    make_drive(
        app,
        slug="future",
        title="Future drive",
        starts_at=moment + timedelta(days=1),
        ends_at=moment + timedelta(days=4),
    )
    closed_id = make_drive(app, slug="closed", title="Closed drive")
    with app.app_context():
        drives.set_drive_status(db.session.get(Drive, closed_id), DriveStatus.CLOSED, actor=None)
        db.session.commit()
    text = client.get("/").get_data(as_text=True)
    assert "Open now drive" in text
    assert 'href="/drives/open-now"' in text
    for title in ("Draft drive", "Ended drive", "Future drive", "Closed drive"):
        assert title not in text


def test_the_index_says_so_when_nothing_is_open(client):
    assert "There is no drive open right now" in client.get("/").get_data(as_text=True)


def test_the_drive_page_csp_allows_stripe_and_staff_pages_do_not(make_app):
    app = make_app(STRIPE_JS_URL=LOCAL_STRIPE_JS, STRIPE_PUBLISHABLE_KEY="pk_test_x")
    make_drive(app)
    client = app.test_client()
    drive_page = client.get("/drives/relocation")
    drive_csp = drive_page.headers["Content-Security-Policy"]
    script_src = next(
        part for part in drive_csp.split(";") if part.strip().startswith("script-src")
    )
    assert "http://127.0.0.1:8420" in script_src
    assert "https://js.stripe.com" in script_src
    assert f'<script src="{LOCAL_STRIPE_JS}"></script>' in drive_page.get_data(as_text=True)

    login = client.get("/login")
    assert login.status_code == 200
    staff_csp = login.headers["Content-Security-Policy"]
    assert "127.0.0.1:8420" not in staff_csp
    assert "stripe" not in staff_csp
    assert "frame-src 'none'" in staff_csp
    assert LOCAL_STRIPE_JS not in login.get_data(as_text=True)


def test_an_ended_drive_page_does_not_load_stripe_js(make_app, clock):
    app = make_app(STRIPE_JS_URL=LOCAL_STRIPE_JS, STRIPE_PUBLISHABLE_KEY="pk_test_x")
    make_drive(app)
    clock.advance(hours=100)
    assert LOCAL_STRIPE_JS not in page_text(app.test_client())


def test_an_open_drive_page_links_to_its_form_and_an_ended_one_does_not(app, client, clock):
    make_drive(app)
    assert 'href="#give-heading">Give now</a>' in page_text(client)
    clock.advance(hours=100)
    text = page_text(client)
    assert "#give-heading" not in text
    assert "This drive has ended" in text
