"""`flask stripe reconcile-pending`: gifts whose answer never reached us, settled from Stripe.

Each gift here is left in limbo the way production leaves it (the write after Stripe's answer
lost, a worker gone before it wrote the intent id, a request that never reached Stripe), with
real PaymentIntents in localstripe; the sweep must count what Stripe charged, exactly once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from extensions import db
from fundraising import pending, services
from fundraising.cli import parse_age
from fundraising.models import Donation, DonationStatus, Drive
from tests.conftest import create_payment_method
from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver, event
from tests.fundraising.support import database_down, donation_status, recount, totals

SECRET = {"Authorization": "Bearer sk_test_localstripe"}
AMOUNT = 2500
DECLINED_CARD = "4000000000000002"


@pytest.fixture
def live_clock(clock):
    """The app's clock at the real time: localstripe stamps intents with the real time."""
    clock.current = datetime.now(UTC)
    return clock


def pending_donation(app, drive_id: int, intent_id: str | None = None) -> str:
    """A donation as /donate writes it before calling Stripe (with an intent id if given)."""
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        donation = services.start_donation(drive, services.GiftRequest(amount_minor=AMOUNT))
        donation.payment_intent_id = intent_id
        db.session.commit()
        return donation.id


def stripe_intent(
    localstripe: str, donation_id: str, card: str = "4242424242424242", *, confirm: bool = True
) -> dict[str, Any]:
    """A PaymentIntent for the donation, made at localstripe as /donate makes it."""
    response = requests.post(
        localstripe + "/v1/payment_intents",
        headers=SECRET,
        data={
            "amount": AMOUNT,
            "currency": "usd",
            "payment_method": create_payment_method(localstripe, card),
            "payment_method_types[]": "card",
            "confirm": "true" if confirm else "false",
            "metadata[donation_id]": donation_id,
        },
        timeout=10,
    )
    if response.status_code == 402:  # declined: the intent stays at Stripe, failed
        return {}
    response.raise_for_status()
    return dict(response.json())


def sweep(app, older_than: str = "10m") -> pending.SweepReport:
    with app.app_context():
        return pending.reconcile_pending(app.extensions["stripe_gateway"], parse_age(older_than))


def failure_message(app, donation_id: str) -> str | None:
    with app.app_context():
        return db.session.get(Donation, donation_id).failure_message


def test_a_gift_charged_at_stripe_whose_write_was_lost_is_counted_once(
    stripe_app, localstripe, live_clock, monkeypatch
):
    drive_id = make_drive(stripe_app)

    monkeypatch.setattr(services, "record_payment", database_down)
    response = stripe_app.test_client().post(
        "/drives/relocation/donate",
        data={"amount": "25.00", "payment_method": create_payment_method(localstripe)},
    )
    assert response.get_json()["status"] == "succeeded"  # the donor was charged...
    monkeypatch.undo()
    donation_id = response.get_json()["donation_id"]
    assert donation_status(stripe_app, donation_id) is DonationStatus.PENDING
    assert totals(stripe_app, drive_id) == (0, 0)  # ...and the books do not know it yet

    assert sweep(stripe_app).checked == 0  # too young: its own answer may still be coming
    live_clock.advance(minutes=15)
    report = sweep(stripe_app)
    assert (report.checked, report.changed, report.unavailable) == (1, 1, 0)
    assert donation_status(stripe_app, donation_id) is DonationStatus.SUCCEEDED
    assert totals(stripe_app, drive_id) == (AMOUNT, 1)

    live_clock.advance(minutes=15)
    assert sweep(stripe_app).checked == 0  # settled: never asked about again
    assert totals(stripe_app, drive_id) == recount(stripe_app, drive_id) == (AMOUNT, 1)


def test_each_kind_of_limbo_is_settled_as_stripe_knows_it(stripe_app, localstripe, live_clock):
    drive_id = make_drive(stripe_app)
    paid_id = pending_donation(stripe_app, drive_id)
    paid = stripe_intent(localstripe, paid_id)
    with stripe_app.app_context():  # the worker wrote the intent id, then died
        db.session.get(Donation, paid_id).payment_intent_id = paid["id"]
        db.session.commit()
    lost_id = pending_donation(stripe_app, drive_id)  # died before writing the intent id
    stripe_intent(localstripe, lost_id)
    declined_id = pending_donation(stripe_app, drive_id)
    stripe_intent(localstripe, declined_id, DECLINED_CARD)
    waiting_id = pending_donation(stripe_app, drive_id)  # confirmed by nobody yet
    stripe_intent(localstripe, waiting_id, confirm=False)
    never_id = pending_donation(stripe_app, drive_id)  # the request never reached Stripe

    live_clock.advance(minutes=15)
    report = sweep(stripe_app)
    assert (report.checked, report.changed, report.never_charged) == (5, 5, 1)
    assert donation_status(stripe_app, paid_id) is DonationStatus.SUCCEEDED
    assert donation_status(stripe_app, lost_id) is DonationStatus.SUCCEEDED
    assert donation_status(stripe_app, declined_id) is DonationStatus.FAILED
    assert donation_status(stripe_app, waiting_id) is DonationStatus.PROCESSING
    assert donation_status(stripe_app, never_id) is DonationStatus.FAILED
    assert failure_message(stripe_app, never_id) == pending.NEVER_CHARGED
    assert "declined" in (failure_message(stripe_app, declined_id) or "")  # found at Stripe
    assert totals(stripe_app, drive_id) == recount(stripe_app, drive_id) == (2 * AMOUNT, 2)

    live_clock.advance(minutes=15)
    again = sweep(stripe_app)  # only the one still processing is asked about again
    assert (again.checked, again.changed, again.unchanged) == (1, 0, 1)
    assert totals(stripe_app, drive_id) == (2 * AMOUNT, 2)


def test_the_sweep_and_the_webhook_racing_on_one_gift_count_it_once(
    stripe_app, localstripe, live_clock
):
    drive_id = make_drive(stripe_app)
    gifts = []
    for _ in range(12):
        donation_id = pending_donation(stripe_app, drive_id)
        gifts.append((donation_id, stripe_intent(localstripe, donation_id)))
    live_clock.advance(minutes=15)

    codes: list[int] = []

    def webhooks() -> None:
        client = stripe_app.test_client()
        for _donation_id, intent in gifts:
            codes.append(deliver(client, event("payment_intent.succeeded", intent)).status_code)

    thread = threading.Thread(target=webhooks)
    thread.start()
    sweep(stripe_app)
    thread.join(timeout=60)

    assert codes == [200] * len(gifts)
    for donation_id, _intent in gifts:
        assert donation_status(stripe_app, donation_id) is DonationStatus.SUCCEEDED
    assert totals(stripe_app, drive_id) == recount(stripe_app, drive_id) == (12 * AMOUNT, 12)


def test_stripe_unreachable_leaves_the_gift_as_it_was_and_says_so(make_app, runner, live_clock):
    app = make_app(
        STRIPE_SECRET_KEY="sk_test_localstripe",
        STRIPE_API_BASE="http://127.0.0.1:9",  # nothing listens there
        STRIPE_TIMEOUT_SECONDS=2,
    )
    drive_id = make_drive(app)
    donation_id = pending_donation(app, drive_id)
    live_clock.advance(minutes=15)
    result = app.test_cli_runner().invoke(args=["stripe", "reconcile-pending"])
    assert result.exit_code == 1
    assert "1 checked" in result.output
    assert "1 not answered by Stripe" in result.output
    assert "run again later" in result.output
    assert donation_status(app, donation_id) is DonationStatus.PENDING


def test_the_command_reports_what_it_did(stripe_app, localstripe, live_clock):
    drive_id = make_drive(stripe_app)
    pending_donation(stripe_app, drive_id)
    live_clock.advance(minutes=45)
    runner = stripe_app.test_cli_runner()
    result = runner.invoke(args=["stripe", "reconcile-pending", "--older-than", "30m"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "1 checked: 1 changed, 0 unchanged (1 never reached Stripe, marked failed), "
        "0 not answered by Stripe"
    )


@pytest.mark.parametrize("value", ["", "10", "m", "ten minutes", "-5m", "1.5h", "10w"])
def test_a_bad_age_is_refused_and_nothing_is_swept(stripe_app, localstripe, live_clock, value):
    drive_id = make_drive(stripe_app)
    donation_id = pending_donation(stripe_app, drive_id)
    live_clock.advance(days=2)
    result = stripe_app.test_cli_runner().invoke(
        args=["stripe", "reconcile-pending", "--older-than", value]
    )
    assert result.exit_code == 2
    assert "is not an age; use a whole number and a unit: 30s, 10m, 2h or 1d" in result.output
    assert donation_status(stripe_app, donation_id) is DonationStatus.PENDING


def test_localstripe_lists_intents_newest_first_within_created_bounds(localstripe):
    """The sweep's lookup by metadata relies on Stripe's `created` filter: our localstripe
    wrapper must apply it as Stripe does, or the test above could pass on a full listing."""
    first = stripe_intent(localstripe, "first")
    second = stripe_intent(localstripe, "second")

    def listed(**created: Any) -> list[str]:
        params = {f"created[{name}]": value for name, value in created.items()}
        response = requests.get(
            localstripe + "/v1/payment_intents",
            headers=SECRET,
            params={"limit": 100, **params},
            timeout=10,
        )
        response.raise_for_status()
        return [intent["id"] for intent in response.json()["data"]]

    around = listed(gte=first["created"], lte=second["created"])
    assert around.index(second["id"]) < around.index(first["id"])
    assert first["id"] not in listed(gt=second["created"] + 1)
    assert first["id"] not in listed(lt=first["created"])
    assert listed(gte=second["created"] + 3600) == []
    bad = requests.get(
        localstripe + "/v1/payment_intents",
        headers=SECRET,
        params={"created[since]": "yesterday"},
        timeout=10,
    )
    assert bad.status_code == 400
