"""Receipts in a browser: finance finds a gift's receipt on the drive's receipts page and sends
the donor a copy; axe on each page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from accounts.models import Role
from extensions import db
from fundraising import services
from fundraising.models import Drive
from fundraising.stripe_gateway import PaymentResult
from tests.e2e.helpers import LiveServer, assert_accessible, screenshot, sign_in
from tests.factories import make_drive, make_user, user_email
from tests.postgres import free_port

pytestmark = pytest.mark.browser


class Counting(Sink):
    """An SMTP server that counts what it takes."""

    def __init__(self) -> None:
        self.taken = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.taken += 1
        return "250 OK"


@pytest.fixture
def mail_server(live_server: LiveServer) -> Iterator[Counting]:
    """A local SMTP server, and the served app sending to it for the test."""
    handler = Counting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "none"}
    smtp["SMTP_FROM"] = "receipts@example.org"
    before = {name: live_server.app.config.get(name) for name in smtp}
    live_server.app.config.update(smtp)
    yield handler
    live_server.app.config.update(before)
    controller.stop()


def test_finance_sends_a_copy_of_a_receipt(
    page: Any, live_server: LiveServer, mail_server: Counting
) -> None:
    app = live_server.app
    drive_id = make_drive(app, slug="receipts", title="Safe houses")
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        donation = services.start_donation(
            drive, services.GiftRequest(amount_minor=4_000, email="donor@example.org")
        )
        donation.payment_intent_id = "pi_e2e_receipt"
        db.session.commit()
        result = PaymentResult(
            payment_intent_id="pi_e2e_receipt",
            status="succeeded",
            amount_minor=4_000,
            currency="usd",
        )
        services.record_payment(result, donation.id)
        db.session.commit()
    assert mail_server.taken == 1

    sign_in(page, live_server, user_email(app, make_user(app, Role.FINANCE)))
    page.goto(live_server(f"/finance/drives/{drive_id}"))
    page.get_by_role("link", name="Receipts emailed to donors").click()
    row = page.get_by_role("row").filter(has_text="SP-000001")
    assert row.get_by_text("$40.00").is_visible()
    assert_accessible(page)
    screenshot(page, "finance-receipts")

    row.get_by_role("button", name="Send a copy of receipt SP-000001").click()
    assert page.get_by_text("A copy of receipt SP-000001 is on its way to the donor.").is_visible()
    assert_accessible(page)
    assert mail_server.taken == 2
