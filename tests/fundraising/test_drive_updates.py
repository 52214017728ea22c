"""Drive updates: admins post them, donors read them on the page and in a feed, and those who
asked get each one by email (through the job queue, retried when the mail server fails) with a
one-click unsubscribe link."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import select

from accounts.models import Role
from extensions import db
from fundraising import services
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus, DriveUpdate
from security import jobs
from tests import redis_server
from tests.conftest import create_payment_method, stripe_settings
from tests.factories import StaffMember, audit_actions, count_rows, make_drive
from tests.postgres import free_port

ATOM = "{http://www.w3.org/2005/Atom}"
UNSUBSCRIBE_LINK = re.compile(r"http://localhost/updates/unsubscribe/[A-Za-z0-9_.\-]+")


class Inbox:
    """aiosmtpd's handler: keeps every message; can refuse the next few, as a relay in trouble
    does (451: try again later)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse_next = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 Mail server busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    @property
    def recipients(self) -> list[str]:
        return sorted(recipient for sent, _ in self.messages for recipient in sent)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for sent, message in self.messages if address in sent]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback, as a local relay would be."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def smtp(port: int) -> dict[str, Any]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "news@example.org",
    }


@pytest.fixture
def mail_app(make_app, inbox):
    return make_app(**smtp(inbox[1]))


@pytest.fixture
def admin(app, clock):
    return StaffMember(app, clock, Role.ADMIN)


def post(staff: StaffMember, drive_id: int, body: str, title: str = "", *, emailed: bool = True):
    data = {"title": title, "body": body} | ({"is_emailed": "y"} if emailed else {})
    return staff.client.post(f"/admin/drives/{drive_id}/updates/", data=data)


def gift(
    app,
    drive_id: int,
    address: str,
    *,
    wants_updates: bool = True,
    status: DonationStatus = DonationStatus.SUCCEEDED,
) -> str:
    """A donation by `address` through the services /donate uses, in the given state."""
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        request = services.GiftRequest(
            amount_minor=2500, email=address, wants_updates=wants_updates
        )
        donation = services.start_donation(drive, request)
        if status is not DonationStatus.PENDING:
            services.set_payment_status(donation, status)
        db.session.commit()
        return donation.id


def page(client, slug: str = "relocation") -> str:
    response = client.get(f"/drives/{slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def unsubscribe_link(message: EmailMessage) -> str:
    found = UNSUBSCRIBE_LINK.findall(message.get_content())
    assert len(found) == 1, "one unsubscribe link in the text"
    return found[0]


def withdrawn(app, donation_id: str):
    with app.app_context():
        return db.session.get(Donation, donation_id).updates_withdrawn_at


# --- Posting, editing, deleting ---------------------------------------------------------------


def test_an_admin_posts_edits_and_deletes_an_update_and_each_is_audited(app, admin, client):
    drive_id = make_drive(app)
    response = post(admin, drive_id, "Three people are **safe** now.", "Good news")
    assert response.status_code == 302
    text = page(client)
    assert '<h2 id="updates-heading">Updates</h2>' in text
    assert "Good news" in text
    assert "Three people are <strong>safe</strong> now." in text
    with app.app_context():
        update_id = db.session.scalar(select(DriveUpdate.id))

    response = admin.client.post(
        f"/admin/drives/{drive_id}/updates/{update_id}",
        data={"title": "Better news", "body": "Four people are safe now."},
    )
    assert response.status_code == 302
    text = page(client)
    assert "Four people are safe now." in text
    assert "Three people" not in text

    response = admin.client.post(f"/admin/drives/{drive_id}/updates/{update_id}/delete")
    assert response.status_code == 302
    assert "Four people" not in page(client)
    assert count_rows(app, DriveUpdate) == 0
    assert audit_actions(app, "drive_update.") == [
        "drive_update.posted",
        "drive_update.edited",
        "drive_update.deleted",
    ]


@pytest.mark.parametrize("role", [Role.FINANCE, Role.CASEWORKER])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/drives/{drive}/updates/"),
        ("post", "/admin/drives/{drive}/updates/"),
        ("get", "/admin/drives/{drive}/updates/{update}"),
        ("post", "/admin/drives/{drive}/updates/{update}"),
        ("post", "/admin/drives/{drive}/updates/{update}/delete"),
    ],
)
def test_finance_and_caseworkers_cannot_manage_updates(app, clock, admin, role, method, path):
    drive_id = make_drive(app)
    post(admin, drive_id, "Flights are booked.", emailed=False)
    with app.app_context():
        update_id = db.session.scalar(select(DriveUpdate.id))
    staff = StaffMember(app, clock, role)
    url = path.format(drive=drive_id, update=update_id)
    data = {"title": "Hijacked", "body": "Not from an admin."}
    response = getattr(staff.client, method)(url, data=data if method == "post" else None)
    assert response.status_code == 403
    with app.app_context():
        update = db.session.get(DriveUpdate, update_id)
        assert update.body == "Flights are booked."
    assert "access.role_denied" in audit_actions(app)


def test_anyone_signed_out_is_sent_to_sign_in_and_a_missing_update_is_404(app, admin, client):
    drive_id = make_drive(app)
    other_drive = make_drive(app, slug="visas")
    post(admin, other_drive, "Visas granted.", emailed=False)
    with app.app_context():
        update_id = db.session.scalar(select(DriveUpdate.id))
    response = client.post(f"/admin/drives/{drive_id}/updates/", data={"body": "Anonymous"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    # The update is the other drive's: not found under this one, and nothing changes.
    assert admin.client.get(f"/admin/drives/{drive_id}/updates/{update_id}").status_code == 404
    deleting = admin.client.post(f"/admin/drives/{drive_id}/updates/{update_id}/delete")
    assert deleting.status_code == 404
    assert admin.client.get("/admin/drives/999/updates/").status_code == 404
    assert count_rows(app, DriveUpdate) == 1


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "", "Write the update: its text cannot be empty."),
        ("", "   \n  ", "Write the update: its text cannot be empty."),
        ("x" * 161, "Text", "Keep the title under 160 characters."),
        ("", "x" * 20001, "Keep the update under 20000 characters."),
    ],
)
def test_a_bad_update_is_refused_with_its_reason_and_nothing_is_posted(
    app, admin, title, body, message
):
    drive_id = make_drive(app)
    response = admin.client.post(
        f"/admin/drives/{drive_id}/updates/", data={"title": title, "body": body}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_rows(app, DriveUpdate) == 0
    assert audit_actions(app, "drive_update.") == []


def test_an_update_is_sanitised_exactly_like_the_story(app, admin, client):
    drive_id = make_drive(app)
    post(
        admin,
        drive_id,
        "We need **flights**.\n\n<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(2)">\n\n'
        "Read [the report](https://example.org/report) and [this](javascript:alert(3)).",
        emailed=False,
    )
    text = page(client)
    updates = text[text.index('id="updates-heading"') :]
    assert "<strong>flights</strong>" in updates
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in updates
    assert "<img" not in updates
    assert 'href="https://example.org/report" rel="noopener nofollow"' in updates
    assert 'href="javascript:' not in text


def test_updates_are_shown_newest_first_with_their_dates(app, admin, client, clock):
    drive_id = make_drive(app)
    for title in ("First", "Second", "Third"):
        post(admin, drive_id, f"The {title.lower()} update.", title, emailed=False)
        clock.advance(minutes=5)  # inside the staff session's idle limit
    text = page(client)
    positions = [text.index(f">{title}</h3>") for title in ("Third", "Second", "First")]
    assert positions == sorted(positions)
    untitled = post(admin, drive_id, "No title, just news.", emailed=False)
    assert untitled.status_code == 302
    text = page(client)
    # An untitled update is headed by its date, and still comes first.
    assert text.index("No title, just news.") < text.index(">Third</h3>")


# --- The Atom feed --------------------------------------------------------------------------


def _feed(client, slug: str = "relocation") -> ET.Element:
    response = client.get(f"/drives/{slug}/updates.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.data)  # noqa: S314  (our own document, in a test)


def test_the_feed_is_valid_atom_with_absolute_links(make_app, clock):
    app = make_app(PUBLIC_URL="https://donate.example.org")
    admin = StaffMember(app, clock, Role.ADMIN)
    drive_id = make_drive(app)
    post(admin, drive_id, "Flights **booked**. <script>alert(1)</script>", "Flights", emailed=False)
    clock.advance(minutes=10)
    post(admin, drive_id, "Everyone arrived.", emailed=False)

    root = _feed(app.test_client())
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author/" + ATOM + "name"):
        element = root.find(ATOM + required)
        assert element is not None, required
        assert element.text, required
    assert root.find(f"{ATOM}id").text.startswith("urn:uuid:")
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {
        "self": "https://donate.example.org/drives/relocation/updates.atom",
        "alternate": "https://donate.example.org/drives/relocation",
    }
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        for required in ("id", "title", "updated", "published", "content"):
            assert entry.find(ATOM + required) is not None, required
        assert entry.find(f"{ATOM}id").text.startswith("urn:uuid:")
        assert (
            entry.find(f"{ATOM}link")
            .get("href")
            .startswith("https://donate.example.org/drives/relocation#update-")
        )
    newest, oldest = entries
    assert newest.find(f"{ATOM}title").text.startswith("Update of ")  # untitled: its date
    assert oldest.find(f"{ATOM}title").text == "Flights"
    content = oldest.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<strong>booked</strong>" in content.text  # HTML, escaped inside the XML
    assert "<script>" not in content.text
    assert root.find(f"{ATOM}updated").text == newest.find(f"{ATOM}updated").text
    ids = {entry.find(f"{ATOM}id").text for entry in entries}
    assert len(ids) == 2


def test_an_edit_moves_the_entrys_updated_time_but_not_its_id(app, admin, client, clock):
    drive_id = make_drive(app)
    post(admin, drive_id, "Draft wording.", emailed=False)
    before = _feed(client).find(f"{ATOM}entry")
    with app.app_context():
        update_id = db.session.scalar(select(DriveUpdate.id))
    clock.advance(minutes=10)
    admin.client.post(
        f"/admin/drives/{drive_id}/updates/{update_id}", data={"body": "Final wording."}
    )
    after = _feed(client).find(f"{ATOM}entry")
    assert after.find(f"{ATOM}id").text == before.find(f"{ATOM}id").text
    assert after.find(f"{ATOM}updated").text > before.find(f"{ATOM}updated").text
    assert after.find(f"{ATOM}published").text == before.find(f"{ATOM}published").text


def test_a_drive_without_updates_has_an_empty_valid_feed_and_drafts_have_none(app, client):
    make_drive(app)
    make_drive(app, slug="hidden", status=DriveStatus.DRAFT)
    assert 'type="application/atom+xml"' in page(client)  # feed readers find it
    root = _feed(client)
    assert root.find(f"{ATOM}entry") is None
    assert root.find(f"{ATOM}updated").text
    assert client.get("/drives/hidden/updates.atom").status_code == 404
    assert client.get("/drives/nothing/updates.atom").status_code == 404


# --- Consent on the donation form -----------------------------------------------------------


def test_the_consent_box_is_unticked_by_default(app, client):
    make_drive(app)
    box = re.search(r"<input[^>]*id=\"wants_updates\"[^>]*>", page(client))
    assert box is not None
    assert "checked" not in box.group(0)
    assert "Email me updates about this drive" in page(client)


def _donate(client, base: str, **fields: str):
    data = {"amount": "25", "payment_method": create_payment_method(base)} | fields
    return client.post("/drives/relocation/donate", data=data)


def test_the_form_records_consent_with_its_time_only_when_ticked(make_app, localstripe, clock):
    app = make_app(**stripe_settings(localstripe))
    drive_id = make_drive(app)
    client = app.test_client()
    ticked = _donate(client, localstripe, email="ana@example.org", wants_updates="y")
    unticked = _donate(client, localstripe, email="ben@example.org")
    assert ticked.status_code == unticked.status_code == 200
    with app.app_context():
        by_id = {
            donation.id: donation
            for donation in db.session.scalars(
                select(Donation).where(Donation.drive_id == drive_id)
            )
        }
        assert by_id[ticked.json["donation_id"]].updates_consented_at == clock()
        assert by_id[unticked.json["donation_id"]].updates_consented_at is None
        # The address is sealed like the rest of the donor's details, never in clear.
        sealed = by_id[ticked.json["donation_id"]].email_sealed
        assert "ana@example.org" not in sealed
        assert services.donor_details(by_id[ticked.json["donation_id"]])["email"] == (
            "ana@example.org"
        )


def test_asking_for_updates_without_an_email_is_refused_before_any_charge(app, client):
    make_drive(app)
    response = client.post(
        "/drives/relocation/donate",
        data={"amount": "25", "payment_method": "pm_card_visa", "wants_updates": "y"},
    )
    assert response.status_code == 400
    assert response.json["field"] == "email"
    assert "Enter your email address to get updates" in response.json["error"]
    assert count_rows(app, Donation) == 0


# --- Mail ---------------------------------------------------------------------------------


def test_an_update_is_mailed_once_per_consenting_address_and_to_nobody_else(mail_app, inbox, clock):
    handler, _port = inbox
    app = mail_app
    admin = StaffMember(app, clock, Role.ADMIN)
    drive_id = make_drive(app)
    other_drive = make_drive(app, slug="visas")
    gift(app, drive_id, "ana@example.org")
    clock.advance(minutes=1)
    gift(app, drive_id, "Ana@Example.org ")  # the same address, giving again: mailed as first
    gift(app, drive_id, "ben@example.org")
    gift(app, drive_id, "cem@example.org", wants_updates=False)
    gift(app, drive_id, "dua@example.org", status=DonationStatus.FAILED)
    gift(app, drive_id, "eli@example.org", status=DonationStatus.PENDING)
    gift(app, other_drive, "fay@example.org")
    everyone = [f"{name}@example.org" for name in ("ana", "ben", "cem", "dua", "eli", "fay")]

    response = post(admin, drive_id, "Three people are safe now.", "Good news")
    assert response.status_code == 302
    assert handler.recipients == ["ana@example.org", "ben@example.org"]
    for address in ("ana@example.org", "ben@example.org"):
        (message,) = handler.to(address)
        assert message["To"] == address
        assert message["Subject"] == "An update from Safe Passage Fund"  # neutral
        text = message.get_content()
        assert "Three people are safe now." in text
        assert "http://localhost/drives/relocation#update-" in text
        link = unsubscribe_link(message)
        assert message["List-Unsubscribe"] == f"<{link}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "example.org" not in link.removeprefix("http://localhost")  # no address
        for other in everyone:
            if other != address:
                assert other not in message.as_string().lower()


def test_a_gift_without_consent_gets_no_mail(mail_app, inbox, clock):
    handler, _port = inbox
    admin = StaffMember(mail_app, clock, Role.ADMIN)
    drive_id = make_drive(mail_app)
    gift(mail_app, drive_id, "cem@example.org", wants_updates=False)
    assert post(admin, drive_id, "News.").status_code == 302
    assert handler.messages == []


def test_an_update_posted_without_email_is_not_mailed(mail_app, inbox, clock):
    handler, _port = inbox
    admin = StaffMember(mail_app, clock, Role.ADMIN)
    drive_id = make_drive(mail_app)
    gift(mail_app, drive_id, "ana@example.org")
    assert post(admin, drive_id, "A correction.", emailed=False).status_code == 302
    assert handler.messages == []


def test_one_click_unsubscribes_and_the_next_update_skips_that_address(mail_app, inbox, clock):
    handler, _port = inbox
    app = mail_app
    admin = StaffMember(app, clock, Role.ADMIN)
    drive_id = make_drive(app)
    first = gift(app, drive_id, "ana@example.org")
    clock.advance(minutes=1)
    second = gift(app, drive_id, "ANA@example.org")
    gift(app, drive_id, "ben@example.org")
    post(admin, drive_id, "First news.")
    (to_ana,) = handler.to("ana@example.org")
    (to_ben,) = handler.to("ben@example.org")

    client = app.test_client()
    response = client.get(unsubscribe_link(to_ana).removeprefix("http://localhost"))
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert withdrawn(app, first) == withdrawn(app, second) == clock()
    # A mail client's one-click POST (RFC 8058, no form token) works too.
    ben_link = to_ben["List-Unsubscribe"].strip("<>").removeprefix("http://localhost")
    assert client.post(ben_link).status_code == 200
    assert client.get(unsubscribe_link(to_ana).removeprefix("http://localhost")).status_code == 200

    handler.messages.clear()
    gift(app, drive_id, "cem@example.org")
    post(admin, drive_id, "Second news.")
    assert handler.recipients == ["cem@example.org"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        lambda token: token[: len(token) // 2],
        lambda _token: "not-a-token",
    ],
    ids=["forged-signature", "cut-short", "garbage"],
)
def test_a_bad_unsubscribe_link_says_so_and_changes_nothing(mail_app, inbox, clock, damage):
    handler, _port = inbox
    admin = StaffMember(mail_app, clock, Role.ADMIN)
    drive_id = make_drive(mail_app)
    donation_id = gift(mail_app, drive_id, "ana@example.org")
    post(admin, drive_id, "News.")
    link = unsubscribe_link(handler.to("ana@example.org")[0])
    base, token = link.rsplit("/", 1)
    response = mail_app.test_client().get(
        base.removeprefix("http://localhost") + "/" + damage(token)
    )
    assert response.status_code == 400
    assert "This unsubscribe link does not work" in response.get_data(as_text=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert withdrawn(mail_app, donation_id) is None


def test_with_csrf_on_the_one_click_post_works_and_posting_an_update_needs_its_token(
    make_app, clock
):
    from fundraising.update_mail import unsubscribe_token

    app = make_app(WTF_CSRF_ENABLED=True)
    drive_id = make_drive(app)
    donation_id = gift(app, drive_id, "ana@example.org")
    admin = StaffMember(app, clock, Role.ADMIN)
    refused = post(admin, drive_id, "Without the form's token.")
    assert refused.status_code == 400
    assert count_rows(app, DriveUpdate) == 0
    with app.app_context():
        token = unsubscribe_token(donation_id)
    # RFC 8058: the mail client posts `List-Unsubscribe=One-Click` and no form token.
    response = app.test_client().post(
        f"/updates/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert withdrawn(app, donation_id) == clock()


def test_a_signed_token_for_a_donation_that_does_not_exist_changes_nothing(mail_app, clock):
    from fundraising.update_mail import unsubscribe_token

    with mail_app.app_context():
        token = unsubscribe_token("00000000-0000-4000-8000-000000000000")
    response = mail_app.test_client().get(f"/updates/unsubscribe/{token}")
    assert response.status_code == 400


# --- Retries --------------------------------------------------------------------------------


def test_a_failing_mail_server_is_retried_until_the_mail_arrives(mail_app, inbox, clock, caplog):
    handler, _port = inbox
    admin = StaffMember(mail_app, clock, Role.ADMIN)
    drive_id = make_drive(mail_app)
    gift(mail_app, drive_id, "ana@example.org")
    handler.refuse_next = 2
    with caplog.at_level(logging.WARNING, logger="security.jobs"):
        assert post(admin, drive_id, "News after a hiccup.").status_code == 302
    assert handler.recipients == ["ana@example.org"]
    retries = [record for record in caplog.records if "trying again" in record.getMessage()]
    assert len(retries) == 2
    assert "drive_update.send failed (MailNotSent)" in retries[0].getMessage()
    assert "ana@example.org" not in caplog.text


def test_a_mail_that_fails_for_good_is_logged_without_its_address(mail_app, inbox, clock, caplog):
    handler, _port = inbox
    admin = StaffMember(mail_app, clock, Role.ADMIN)
    drive_id = make_drive(mail_app)
    gift(mail_app, drive_id, "ana@example.org")
    handler.refuse_next = 100
    with caplog.at_level(logging.WARNING):
        response = post(admin, drive_id, "Nobody will get this one.")
    assert response.status_code == 302  # the update is posted all the same
    assert handler.messages == []
    assert count_rows(mail_app, DriveUpdate) == 1
    final = [record for record in caplog.records if "failed for good" in record.getMessage()]
    assert len(final) == 1
    assert final[0].levelno == logging.ERROR
    assert f"after {1 + len(jobs.RETRY_INTERVALS)} tries" in final[0].getMessage()
    assert "ana@example.org" not in caplog.text
    assert "example.org" not in caplog.text.replace("news@example.org", "")


# --- The job queue on a real Redis ----------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_server.is_installed():
        pytest.skip("redis-server not found (install the redis-server package)")
    with redis_server.running(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def queue_app(make_app, inbox, redis_url):
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    connection.close()
    return make_app(JOBS_REDIS_URL=redis_url, **smtp(inbox[1]))


def _work(app) -> None:
    """`flask --app app jobs worker --burst`: run what is due, then stop."""
    result = app.test_cli_runner().invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code == 0, result.output


def test_the_worker_without_redis_says_what_is_missing(app):
    result = app.test_cli_runner().invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code == 1
    assert "JOBS_REDIS_URL is not set" in result.output


def test_with_redis_mail_waits_for_the_worker_and_is_retried_with_back_off(
    queue_app, inbox, clock, monkeypatch, caplog
):
    from rq import scheduler

    handler, _port = inbox
    admin = StaffMember(queue_app, clock, Role.ADMIN)
    drive_id = make_drive(queue_app)
    gift(queue_app, drive_id, "ana@example.org")
    gift(queue_app, drive_id, "ben@example.org")
    assert post(admin, drive_id, "Queued news.").status_code == 302
    assert handler.messages == []  # never sent from the request

    handler.refuse_next = 1  # the first send fails, the second goes through
    with caplog.at_level(logging.INFO):
        _work(queue_app)
    assert "drive_update.send failed (MailNotSent); try 1, retried later" in caplog.text
    ours = [record for record in caplog.records if not record.name.startswith("mail.log")]
    assert ours  # RQ's and ours; mail.log is the test's own SMTP server
    for record in ours:
        text = record.getMessage() + (record.exc_text or "")
        assert "@example.org" not in text.replace("news@example.org", "")
    assert len(handler.messages) == 1
    with queue_app.app_context():
        waiting = jobs.queue().scheduled_job_registry
        (job_id,) = waiting.get_job_ids()
        job = jobs.queue().fetch_job(job_id)
        assert job.retries_left == len(jobs.RETRY_INTERVALS) - 1
        delay = waiting.get_scheduled_time(job) - job.ended_at
        assert timedelta(seconds=5) < delay < timedelta(seconds=jobs.RETRY_INTERVALS[0] + 5)
        assert job.description == "drive_update.send"  # what RQ logs: no address
        assert "example.org" not in str(job.args)

    _work(queue_app)  # not due yet: nothing more is sent
    assert len(handler.messages) == 1
    later = int(time.time()) + jobs.RETRY_INTERVALS[0] + 1
    monkeypatch.setattr(scheduler, "current_timestamp", lambda: later)
    _work(queue_app)
    assert handler.recipients == ["ana@example.org", "ben@example.org"]
