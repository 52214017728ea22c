"""Receipts the app emails: one per succeeded gift with an email address, numbered from one
gap-free sequence, with the organisation's legal details, in the donor's language, neutral in
subject and sender; finance can send a copy (same number, audited); retried when the mail
server fails; nothing when SMTP is not configured."""

from __future__ import annotations

import contextlib
import email
import email.policy
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from functools import partial
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from config import ConfigError, load_config
from extensions import db
from fundraising import offline_gifts, services
from fundraising.models import Donation, DonationStatus, Drive, GiftMethod, Receipt
from fundraising.stripe_gateway import PaymentResult
from security import jobs, transactions
from tests.conftest import create_payment_method, settings_for, stripe_settings
from tests.factories import StaffMember, audit_actions, count_rows, make_drive
from tests.fundraising import stripe_objects
from tests.fundraising.support import Gift, make_gift
from tests.postgres import free_port

LEGAL = {
    "RECEIPT_LEGAL_NAME": "Safe Passage Relief e.V.",
    "RECEIPT_REGISTRATION_NUMBER": "VR 40213 B",
    "RECEIPT_ADDRESS": "Postfach 1201, 10001 Berlin, Germany",
}
DONOR = "ana@example.org"
NBSP = "\xa0"


class Inbox:
    """aiosmtpd's handler: keeps every message; can refuse the next few (451), as a relay in
    trouble does."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse_next = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        with self.lock:
            if self.refuse_next:
                self.refuse_next -= 1
                return "451 4.3.0 Mail server busy, try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

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
        # A sender name that would tell anyone glancing at a phone what the gift was for.
        "SMTP_FROM": "Queer Refugee Exit <receipts@example.org>",
    }


@pytest.fixture
def mail_app(make_app, inbox):
    return make_app(**smtp(inbox[1]), **LEGAL)


def succeed(app, gift: Gift) -> int:
    """Stripe's `payment_intent.succeeded` for the gift, through the webhook."""
    response = stripe_objects.deliver(app.test_client(), gift.succeeded())
    assert response.status_code == 200
    return response.status_code


def receipt_of(app, donation_id: str) -> Receipt | None:
    with app.app_context():
        receipt = db.session.scalar(select(Receipt).where(Receipt.donation_id == donation_id))
        if receipt is not None:
            db.session.expunge(receipt)
        return receipt


def numbers(app) -> list[int]:
    with app.app_context():
        return sorted(db.session.scalars(select(Receipt.number)))


def text_of(message: EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")


# --- The receipt ----------------------------------------------------------------------------


def test_a_succeeded_gift_gets_one_receipt_with_its_number_amount_and_legal_details(
    mail_app, inbox
):
    handler, _port = inbox
    drive_id = make_drive(mail_app, title="Get Ana's friends out of Grozny")
    gift = make_gift(mail_app, drive_id, 2500, email=DONOR, name="Ana Real", message="For Ruslan")
    assert handler.messages == []  # nothing while the gift is pending

    succeed(mail_app, gift)

    (message,) = handler.to(DONOR)
    body = text_of(message)
    assert message["Subject"] == "Receipt SP-000001: Donation"
    assert message["From"].addresses[0].display_name == "Receipts"
    assert message["From"].addresses[0].addr_spec == "receipts@example.org"
    for detail in (
        "Safe Passage Relief e.V.",
        "Registration number: VR 40213 B",
        "Postfach 1201, 10001 Berlin, Germany",
        "Receipt number: SP-000001",
        "Date of gift: November 22, 2026",
        "Amount: $25.00",
        "For: Donation",
    ):
        assert detail in body
    # Nothing that names the cause, the donor's message, or anyone else.
    everything = str(message)
    for secret in ("Grozny", "Ruslan", "Queer", "Refugee", "Ana Real"):
        assert secret not in everything
    receipt = receipt_of(mail_app, gift.donation_id)
    assert receipt is not None
    assert receipt.number == 1
    assert receipt.sent_at is not None


def test_the_drives_own_neutral_receipt_text_and_the_configured_prefix_are_used(make_app, inbox):
    handler, port = inbox
    app = make_app(**smtp(port), RECEIPT_PREFIX="2026/")
    drive_id = make_drive(app, receipt_description="Gift to the general fund")
    succeed(app, make_gift(app, drive_id, email=DONOR))
    (message,) = handler.to(DONOR)
    assert message["Subject"] == "Receipt 2026/000001: Gift to the general fund"
    assert "For: Gift to the general fund" in text_of(message)
    # Without RECEIPT_LEGAL_NAME the organisation's name issues it; absent details are left out.
    assert text_of(message).startswith("Safe Passage Fund\n\n")
    assert "Registration number" not in text_of(message)


def test_the_donate_answer_the_thank_you_page_and_the_webhook_for_one_payment_send_one_receipt(
    make_app, inbox, localstripe
):
    handler, port = inbox
    app = make_app(**stripe_settings(localstripe), **smtp(port))
    make_drive(app)
    client = app.test_client()
    answer = client.post(
        "/drives/relocation/donate",
        data={"amount": "25", "payment_method": create_payment_method(localstripe), "email": DONOR},
    )
    assert answer.status_code == 200
    assert answer.json["status"] == "succeeded"
    assert len(handler.to(DONOR)) == 1  # sent once the donate answer's transaction committed

    with app.app_context():
        donation = db.session.get(Donation, answer.json["donation_id"])
        intent_id = donation.payment_intent_id
    intent = requests.get(
        f"{localstripe}/v1/payment_intents/{intent_id}",
        headers={"Authorization": "Bearer sk_test_localstripe"},
        timeout=10,
    ).json()
    # The app sends the receipt, so Stripe is not asked to send one of its own.
    assert intent.get("receipt_email") is None
    webhook = stripe_objects.deliver(
        app.test_client(), stripe_objects.event("payment_intent.succeeded", intent)
    )
    assert webhook.status_code == 200
    thanks = client.get(f"/drives/relocation/thanks?payment_intent={intent_id}")
    assert thanks.status_code == 200

    assert len(handler.to(DONOR)) == 1
    assert numbers(app) == [1]


def test_two_writers_applying_one_payment_at_the_same_moment_issue_one_receipt(mail_app, inbox):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    gifts = [make_gift(mail_app, drive_id, email=f"donor{n}@example.org") for n in range(10)]

    def apply(gift: Gift, barrier: threading.Barrier) -> None:
        result = PaymentResult.from_stripe(gift.succeeded()["data"]["object"])
        with mail_app.app_context():
            barrier.wait()
            transactions.committed(partial(services.record_payment, result, gift.donation_id))

    with ThreadPoolExecutor(max_workers=2) as pool:
        for gift in gifts:
            barrier = threading.Barrier(2)
            racing = [pool.submit(apply, gift, barrier) for _writer in range(2)]
            for writer in racing:
                writer.result()

    assert numbers(mail_app) == list(range(1, 11))
    for number in range(10):
        assert len(handler.to(f"donor{number}@example.org")) == 1


def test_receipt_numbers_are_unique_and_gap_free_under_concurrent_gifts(mail_app, inbox):
    """30 gifts succeeding at once through the locked path (on PostgreSQL, truly at once):
    every number from 1 to 30, each once, each in its own donor's mail. The gifts are to ten
    drives, so they do not already queue behind one drive's totals row: only the counter's
    lock keeps their numbers apart."""
    handler, _port = inbox
    drives = [make_drive(mail_app, slug=f"drive-{n}") for n in range(10)]
    count = 30
    gifts = [
        make_gift(mail_app, drives[n % len(drives)], email=f"donor{n}@example.org")
        for n in range(count)
    ]
    barrier = threading.Barrier(10)

    def apply(gift: Gift) -> DonationStatus | None:
        result = PaymentResult.from_stripe(gift.succeeded()["data"]["object"])
        with mail_app.app_context():
            # Ten at a time start together (a straggler runs on without a full barrier).
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return transactions.committed(
                partial(services.record_payment, result, gift.donation_id)
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(apply, gifts))

    assert outcomes == [DonationStatus.SUCCEEDED] * count
    assert numbers(mail_app) == list(range(1, count + 1))
    with mail_app.app_context():
        by_donation = {
            receipt.donation_id: receipt.number for receipt in db.session.scalars(select(Receipt))
        }
    for n, gift in enumerate(gifts):
        (message,) = handler.to(f"donor{n}@example.org")
        assert f"Receipt number: SP-{by_donation[gift.donation_id]:06d}" in text_of(message)


def test_a_gift_whose_transaction_rolls_back_gives_its_number_back(mail_app, inbox):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    lost, kept = (make_gift(mail_app, drive_id, email=f"{who}@example.org") for who in "ab")
    with mail_app.app_context():
        result = PaymentResult.from_stripe(lost.succeeded()["data"]["object"])
        services.record_payment(result, lost.donation_id)
        db.session.rollback()  # e.g. the database failed before the commit
    succeed(mail_app, kept)
    assert numbers(mail_app) == [1]
    assert receipt_of(mail_app, kept.donation_id).number == 1
    assert handler.to("a@example.org") == []  # its mail was never started


def test_no_receipt_without_an_email_for_a_failed_gift_or_for_a_gift_outside_stripe(
    mail_app, inbox
):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    anonymous = make_gift(mail_app, drive_id, name="Ben")
    declined = make_gift(mail_app, drive_id, email="cem@example.org")
    succeed(mail_app, anonymous)
    failed = stripe_objects.deliver(mail_app.test_client(), declined.failed())
    assert failed.status_code == 200
    with mail_app.app_context():
        drive = db.session.get(Drive, drive_id)
        offline_gifts.record_offline_gift(drive, 10_000, GiftMethod.BANK_TRANSFER, "Dua")
        db.session.commit()
    assert handler.messages == []
    assert count_rows(mail_app, Receipt) == 0


def test_a_spanish_donor_gets_the_receipt_in_spanish_money_and_date_formats(
    make_app, inbox, localstripe
):
    handler, port = inbox
    app = make_app(**stripe_settings(localstripe), **smtp(port))
    make_drive(app)
    answer = app.test_client().post(
        "/drives/relocation/donate",
        data={"amount": "25", "payment_method": create_payment_method(localstripe), "email": DONOR},
        headers={"Accept-Language": "es-ES,es;q=0.9"},
    )
    assert answer.status_code == 200
    with app.app_context():
        assert db.session.get(Donation, answer.json["donation_id"]).locale == "es"
    (message,) = handler.to(DONOR)
    body = text_of(message)
    assert f"25,00{NBSP}US$" in body
    assert "22 de noviembre de 2026" in body
    assert "$25.00" not in body


def test_a_gift_from_before_languages_were_recorded_gets_an_english_receipt(mail_app, inbox):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    gift = make_gift(mail_app, drive_id, 123_456, email=DONOR)
    with mail_app.app_context():
        assert db.session.get(Donation, gift.donation_id).locale is None
    succeed(mail_app, gift)
    assert "Amount: $1,234.56" in text_of(handler.to(DONOR)[0])


# --- Finance sends a copy -------------------------------------------------------------------


@pytest.fixture
def finance(mail_app, clock):
    return StaffMember(mail_app, clock, Role.FINANCE)


def _issued(app) -> tuple[int, Receipt]:
    drive_id = make_drive(app)
    gift = make_gift(app, drive_id, email=DONOR)
    succeed(app, gift)
    receipt = receipt_of(app, gift.donation_id)
    assert receipt is not None
    return drive_id, receipt


def test_finance_sends_a_copy_with_the_same_number_marked_as_a_copy_and_audited(
    mail_app, inbox, finance
):
    handler, _port = inbox
    drive_id, receipt = _issued(mail_app)
    listing = finance.client.get(f"/finance/drives/{drive_id}/receipts")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert "SP-000001" in page
    assert DONOR not in page  # finance finds the receipt by number, date and amount
    assert f"/finance/drives/{drive_id}/receipts" in finance.client.get(
        f"/finance/drives/{drive_id}"
    ).get_data(as_text=True)

    response = finance.client.post(f"/finance/receipts/{receipt.id}/resend")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/finance/drives/{drive_id}/receipts")
    after = finance.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A copy of receipt SP-000001 is on its way to the donor." in after

    first, copy = handler.to(DONOR)
    assert copy["Subject"] == "Copy of receipt SP-000001: Donation"
    assert "COPY: sent again at your request." in text_of(copy)
    assert "Receipt number: SP-000001" in text_of(copy)
    assert "COPY" not in text_of(first)
    assert numbers(mail_app) == [1]  # no new number
    assert audit_actions(mail_app, "receipt.") == ["receipt.resent"]
    with mail_app.app_context():
        record = db.session.scalar(
            select(AuditRecord).where(AuditRecord.action == "receipt.resent")
        )
        assert record.actor_id == finance.id
        assert record.object_type == "receipt"
        assert record.object_id == "SP-000001"
        assert "example.org" not in record.details
        assert "Ana" not in record.details


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CASEWORKER])
def test_only_finance_can_list_or_resend_receipts(mail_app, inbox, clock, role):
    handler, _port = inbox
    drive_id, receipt = _issued(mail_app)
    other = StaffMember(mail_app, clock, role)
    assert other.client.post(f"/finance/receipts/{receipt.id}/resend").status_code == 403
    assert other.client.get(f"/finance/drives/{drive_id}/receipts").status_code == 403
    signed_out = mail_app.test_client().post(f"/finance/receipts/{receipt.id}/resend")
    assert signed_out.status_code == 302
    assert "/login" in signed_out.headers["Location"]
    assert len(handler.to(DONOR)) == 1
    assert audit_actions(mail_app, "receipt.") == []


def test_resending_a_receipt_that_does_not_exist_is_404(mail_app, finance):
    assert finance.client.post("/finance/receipts/999/resend").status_code == 404
    assert finance.client.get("/finance/drives/999/receipts").status_code == 404
    assert audit_actions(mail_app, "receipt.") == []


def test_a_gift_refunded_in_full_gets_no_copy_and_finance_is_told_why(mail_app, inbox, finance):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    gift = make_gift(mail_app, drive_id, email=DONOR)
    succeed(mail_app, gift)
    refund = stripe_objects.deliver(mail_app.test_client(), gift.refunded(gift.amount))
    assert refund.status_code == 200
    receipt = receipt_of(mail_app, gift.donation_id)
    page = finance.client.get(f"/finance/drives/{drive_id}/receipts").get_data(as_text=True)
    assert "refunded or lost to a dispute" in page
    response = finance.client.post(f"/finance/receipts/{receipt.id}/resend", follow_redirects=True)
    assert "This gift was refunded in full or lost to a dispute" in response.get_data(as_text=True)
    assert len(handler.to(DONOR)) == 1
    assert audit_actions(mail_app, "receipt.") == []


def test_without_smtp_finance_is_told_no_copy_can_be_sent(make_app, inbox, clock):
    handler, port = inbox
    with_mail = make_app(**smtp(port))
    drive_id, receipt = _issued(with_mail)
    without_mail = make_app()  # the same database, SMTP since removed
    staff = StaffMember(without_mail, clock, Role.FINANCE)
    page = staff.client.get(f"/finance/drives/{drive_id}/receipts").get_data(as_text=True)
    assert "Email is not set up (SMTP_HOST and SMTP_FROM)" in page
    response = staff.client.post(f"/finance/receipts/{receipt.id}/resend", follow_redirects=True)
    assert "no receipt can be sent" in response.get_data(as_text=True)
    assert len(handler.to(DONOR)) == 1
    assert audit_actions(without_mail, "receipt.") == []


def test_a_resend_without_the_forms_token_sends_nothing(make_app, inbox, clock):
    handler, port = inbox
    app = make_app(**smtp(port), WTF_CSRF_ENABLED=True)
    _drive_id, receipt = _issued(app)
    staff = StaffMember(app, clock, Role.FINANCE)
    response = staff.client.post(f"/finance/receipts/{receipt.id}/resend")
    assert response.status_code == 400
    assert "This form expired or was sent from elsewhere." in response.get_data(as_text=True)
    assert len(handler.to(DONOR)) == 1
    assert audit_actions(app, "receipt.") == []


# --- A mail server in trouble, or none --------------------------------------------------------


def test_a_failing_mail_server_is_retried_until_the_receipt_arrives(mail_app, inbox, caplog):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    gift = make_gift(mail_app, drive_id, email=DONOR)
    handler.refuse_next = 2
    with caplog.at_level(logging.WARNING, logger="security.jobs"):
        succeed(mail_app, gift)
    assert len(handler.to(DONOR)) == 1
    retries = [record for record in caplog.records if "trying again" in record.getMessage()]
    assert len(retries) == 2
    assert "receipt.send failed (MailNotSent)" in retries[0].getMessage()
    assert "example.org" not in caplog.text


def test_a_receipt_that_fails_for_good_is_left_for_finance_to_send_again(
    mail_app, inbox, finance, caplog
):
    handler, _port = inbox
    drive_id = make_drive(mail_app)
    gift = make_gift(mail_app, drive_id, email=DONOR)
    handler.refuse_next = 100
    with caplog.at_level(logging.WARNING):
        succeed(mail_app, gift)  # Stripe is answered 200 all the same
    assert handler.messages == []
    final = [record for record in caplog.records if "failed for good" in record.getMessage()]
    assert len(final) == 1
    assert f"after {1 + len(jobs.RETRY_INTERVALS)} tries" in final[0].getMessage()
    assert "example.org" not in caplog.text
    receipt = receipt_of(mail_app, gift.donation_id)
    assert receipt.sent_at is None
    page = finance.client.get(f"/finance/drives/{drive_id}/receipts").get_data(as_text=True)
    assert "not sent yet" in page

    handler.refuse_next = 0  # the relay is back
    assert finance.client.post(f"/finance/receipts/{receipt.id}/resend").status_code == 302
    assert len(handler.to(DONOR)) == 1
    assert receipt_of(mail_app, gift.donation_id).sent_at is not None


def test_without_smtp_no_receipt_is_issued_and_the_gift_goes_through(make_app, localstripe):
    app = make_app(**stripe_settings(localstripe))
    drive_id = make_drive(app)
    gift = make_gift(app, drive_id, email=DONOR)
    succeed(app, gift)
    answer = app.test_client().post(
        "/drives/relocation/donate",
        data={"amount": "25", "payment_method": create_payment_method(localstripe), "email": DONOR},
    )
    assert answer.status_code == 200
    assert answer.json["status"] == "succeeded"
    with app.app_context():
        statuses = set(db.session.scalars(select(Donation.status)))
    assert statuses == {DonationStatus.SUCCEEDED}
    assert count_rows(app, Receipt) == 0


# --- Configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["SP\nBcc: x@example.org", "A" * 13, "Rainbow Exit "])
def test_a_receipt_prefix_that_cannot_start_a_number_stops_start_up(tmp_path, clock, prefix):
    settings = settings_for("sqlite://", tmp_path, clock) | {"RECEIPT_PREFIX": prefix}
    with pytest.raises(ConfigError, match="RECEIPT_PREFIX must be at most 12 letters"):
        load_config(tmp_path, settings)
