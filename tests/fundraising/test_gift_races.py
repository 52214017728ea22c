"""The donate answer and the webhook for one payment, racing: every gift counted once.

Both writers lock the donation row, re-read its state under the lock, then move the drive's
totals (one lock order), so whichever comes second sees `succeeded` and adds nothing. The
races here are real: threads with their own clients, on SQLite and PostgreSQL, the webhook
delivered while the donate request is between Stripe's answer and its own write.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy.exc import OperationalError

from extensions import db
from fundraising import services
from fundraising.models import DonationStatus
from fundraising.stripe_gateway import PaymentResult, StripeGateway
from tests.conftest import create_payment_method
from tests.factories import make_drive
from tests.fundraising import stripe_objects
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import database_down, donation_status, recount, totals

GIFTS = 200
AMOUNT = 2500


class RacingStripe(StripeGateway):
    """Stripe that accepts every card and, like Stripe, sends the webhook at once: the event
    is delivered on another thread while the donate request has not yet written the answer.
    Used where the unit under test is our two writers, not Stripe (the real-Stripe versions
    of these flows run against localstripe in test_payments.py)."""

    def __init__(self, app: Any, seed: int) -> None:
        super().__init__(None, stripe_objects.WEBHOOK_SECRET)
        self.app = app
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.webhooks: list[threading.Thread] = []
        self.webhook_codes: list[int] = []

    def _pause(self) -> float:
        with self.lock:
            return self.random.choice((0, 0, 0.001, 0.003, 0.01))

    def create_payment(self, **payment: Any) -> PaymentResult:
        intent_id = stripe_objects.new_id("pi")
        intent = stripe_objects.payment_intent(
            intent_id,
            amount=payment["amount_minor"],
            charge_id="ch_" + intent_id.removeprefix("pi_"),
            metadata=payment["metadata"],
        )
        before, after = self._pause(), self._pause()

        def webhook() -> None:
            threading.Event().wait(before)
            response = deliver(
                self.app.test_client(), stripe_objects.event("payment_intent.succeeded", intent)
            )
            with self.lock:
                self.webhook_codes.append(response.status_code)

        thread = threading.Thread(target=webhook)
        with self.lock:
            self.webhooks.append(thread)
        thread.start()
        threading.Event().wait(after)  # the webhook may win, lose or tie
        return PaymentResult.from_stripe(intent)


def test_donate_answer_and_webhook_racing_count_each_gift_once(make_app):
    stripe = RacingStripe(None, seed=11)
    app = make_app(STRIPE_GATEWAY=stripe)
    stripe.app = app
    drive_id = make_drive(app)

    def give(number: int) -> tuple[int, Any]:
        response = app.test_client().post(
            "/drives/relocation/donate",
            data={"amount": "25.00", "payment_method": f"pm_race_{number}"},
        )
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(give, range(GIFTS)))
    for thread in stripe.webhooks:
        thread.join(timeout=60)

    assert [code for code, _body in answers] == [200] * GIFTS
    assert {body["status"] for _code, body in answers} == {"succeeded"}
    assert stripe.webhook_codes == [200] * GIFTS
    assert totals(app, drive_id) == (GIFTS * AMOUNT, GIFTS)
    assert recount(app, drive_id) == (GIFTS * AMOUNT, GIFTS)
    for _code, body in answers[:10]:
        assert donation_status(app, body["donation_id"]) is DonationStatus.SUCCEEDED


def _deadlock() -> OperationalError:
    return OperationalError(
        "SELECT ... FOR UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock detected")
    )


@pytest.mark.parametrize("failures", [1, 100], ids=["retried", "retries-exhausted"])
def test_a_deadlock_after_stripe_succeeded_never_reaches_the_donor(
    stripe_app, localstripe, monkeypatch, failures
):
    drive_id = make_drive(stripe_app)
    real_record = services.record_payment
    calls = {"count": 0}

    def deadlocking(result: PaymentResult, donation_id: str | None = None) -> Any:
        calls["count"] += 1
        if calls["count"] <= failures:
            real_record(result, donation_id)  # the lock and the write happened...
            raise _deadlock()  # ...and the database aborted the transaction
        return real_record(result, donation_id)

    monkeypatch.setattr(services, "record_payment", deadlocking)
    client = stripe_app.test_client()
    response = client.post(
        "/drives/relocation/donate",
        data={"amount": "25.00", "payment_method": create_payment_method(localstripe)},
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "succeeded"
    monkeypatch.undo()

    if failures == 1:  # the retry wrote it at once
        assert totals(stripe_app, drive_id) == (2500, 1)
        assert donation_status(stripe_app, body["donation_id"]) is DonationStatus.SUCCEEDED
        return
    # Every attempt rolled back: nothing counted yet, nothing counted twice...
    assert totals(stripe_app, drive_id) == (0, 0)
    assert donation_status(stripe_app, body["donation_id"]) is DonationStatus.PENDING
    # ...and Stripe's webhook finishes the books.
    intent = _intent_of(localstripe, body["client_secret"].split("_secret_")[0])
    assert (
        deliver(client, stripe_objects.event("payment_intent.succeeded", intent)).status_code == 200
    )
    assert totals(stripe_app, drive_id) == (2500, 1)
    assert recount(stripe_app, drive_id) == (2500, 1)


def _intent_of(localstripe: str, intent_id: str) -> dict[str, Any]:
    import requests

    response = requests.get(
        f"{localstripe}/v1/payment_intents/{intent_id}",
        headers={"Authorization": "Bearer sk_test_localstripe"},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def test_a_database_that_stays_down_after_stripe_succeeded_still_answers_success(
    stripe_app, localstripe, monkeypatch
):
    make_drive(stripe_app)

    monkeypatch.setattr(services, "record_payment", database_down)
    response = stripe_app.test_client().post(
        "/drives/relocation/donate",
        data={"amount": "25.00", "payment_method": create_payment_method(localstripe)},
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "succeeded"
    with stripe_app.app_context():
        db.session.remove()
