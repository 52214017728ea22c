"""Stripe's webhook: signatures checked, each event counted once, state rules over arrival order."""

from __future__ import annotations

import json
import time

import pytest

from extensions import db
from fundraising import services, webhooks
from fundraising.models import DonationStatus, StripeEvent
from fundraising.stripe_gateway import PaymentResult
from tests.factories import make_drive
from tests.fundraising import stripe_objects
from tests.fundraising.stripe_objects import deliver, signature_header
from tests.fundraising.support import count_events, donation_status, make_gift, totals


@pytest.fixture
def drive_id(app):
    return make_drive(app)


@pytest.fixture
def gift(app, drive_id):
    """A $50 gift whose PaymentIntent was created and is waiting for Stripe's word."""
    return make_gift(app, drive_id, 5000)


def stored_event(app, event_id):
    with app.app_context():
        return db.session.get(StripeEvent, event_id)


# --- Signatures ---------------------------------------------------------------------------


def test_a_correctly_signed_event_is_applied(app, client, drive_id, gift):
    event = gift.succeeded()
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "applied"}
    assert totals(app, drive_id) == (5000, 1)
    assert donation_status(app, gift.donation_id) is DonationStatus.SUCCEEDED
    assert stored_event(app, event["id"]).type == "payment_intent.succeeded"
    assert stored_event(app, event["id"]).outcome == "applied"


@pytest.mark.parametrize(
    "delivery",
    [
        {"secret": "whsec_someone_else"},
        {"at": int(time.time()) - 600},  # ten minutes old: a replay
        {"header": None},
        {"header": ""},
        {"header": "t=not-a-number,v1=abc"},
        {"header": "v1=0123456789abcdef"},
    ],
    ids=["wrong-secret", "stale", "missing", "empty", "garbled", "no-timestamp"],
)
def test_a_bad_signature_is_400_and_writes_nothing(app, client, drive_id, gift, delivery):
    event = gift.succeeded()
    response = deliver(client, event, **delivery)
    assert response.status_code == 400
    assert "signature" in response.get_json()["error"]
    assert count_events(app) == 0
    assert totals(app, drive_id) == (0, 0)
    assert donation_status(app, gift.donation_id) is DonationStatus.PENDING


def test_a_payload_changed_after_signing_is_refused(app, client, drive_id, gift):
    payload = json.dumps(gift.succeeded()).encode()
    header = signature_header(payload)
    forged = payload.replace(b'"amount": 5000', b'"amount": 500000')
    assert forged != payload
    response = client.post("/stripe/webhook", data=forged, headers={"Stripe-Signature": header})
    assert response.status_code == 400
    assert count_events(app) == 0
    assert totals(app, drive_id) == (0, 0)


def test_a_signature_a_few_seconds_old_is_accepted(app, client, drive_id, gift):
    assert deliver(client, gift.succeeded(), at=int(time.time()) - 60).status_code == 200
    assert totals(app, drive_id) == (5000, 1)


def test_a_signed_body_that_is_not_a_stripe_event_is_400(app, client):
    response = deliver(client, {"id": "nope", "type": "payment_intent.succeeded"})
    assert response.status_code == 400
    assert count_events(app) == 0


# --- Once only ------------------------------------------------------------------------------


def test_the_same_event_delivered_five_times_counts_once(app, client, drive_id, gift):
    event = gift.succeeded()
    outcomes = []
    for _ in range(5):
        response = deliver(client, event)
        assert response.status_code == 200
        outcomes.append(response.get_json()["outcome"])
    assert outcomes == ["applied"] + ["duplicate"] * 4
    assert totals(app, drive_id) == (5000, 1)
    assert count_events(app) == 1


def test_a_copy_racing_past_the_duplicate_check_is_still_counted_once(
    app, client, drive_id, gift, monkeypatch
):
    event = gift.succeeded()
    deliver(client, event)
    real_get = db.session.get

    def get_as_if_not_yet_committed(model, ident, **options):
        return None if model is StripeEvent else real_get(model, ident, **options)

    # The other copy commits between this delivery's check and its insert.
    monkeypatch.setattr(db.session, "get", get_as_if_not_yet_committed)
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "duplicate"
    monkeypatch.undo()
    assert totals(app, drive_id) == (5000, 1)
    assert count_events(app) == 1


def test_the_same_refund_event_redelivered_does_not_refund_twice(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    refund = gift.refunded(1000)
    for _ in range(5):
        deliver(client, refund)
    assert totals(app, drive_id) == (4000, 1)


def test_an_unknown_event_type_is_stored_and_ignored(app, client, drive_id):
    event = stripe_objects.event("customer.created", {"id": "cus_123", "object": "customer"})
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"
    assert stored_event(app, event["id"]).outcome == "ignored"
    assert totals(app, drive_id) == (0, 0)


def test_an_event_for_a_payment_we_do_not_know_is_200_and_changes_nothing(app, client, drive_id):
    stranger = stripe_objects.payment_intent(
        "pi_not_ours", amount=9900, charge_id="ch_not_ours", metadata={}
    )
    event = stripe_objects.event("payment_intent.succeeded", stranger)
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "unmatched"
    assert totals(app, drive_id) == (0, 0)
    assert stored_event(app, event["id"]).outcome == "unmatched"  # kept for the operator


def test_a_handler_error_is_500_writes_nothing_and_the_retry_applies(
    app, client, drive_id, gift, monkeypatch
):
    def half_then_fail(intent):
        services.record_payment(PaymentResult.from_stripe(intent))  # moves the totals...
        raise RuntimeError("database hiccup")  # ...and then fails

    event = gift.succeeded()
    monkeypatch.setitem(
        app.extensions[webhooks.HANDLERS_KEY], "payment_intent.succeeded", half_then_fail
    )
    response = deliver(client, event)
    assert response.status_code == 500
    assert "retried" in response.get_json()["error"]
    assert count_events(app) == 0
    assert totals(app, drive_id) == (0, 0)
    assert donation_status(app, gift.donation_id) is DonationStatus.PENDING

    monkeypatch.undo()
    retry = deliver(client, event)
    assert retry.status_code == 200
    assert retry.get_json()["outcome"] == "applied"
    assert totals(app, drive_id) == (5000, 1)


# --- State rules ----------------------------------------------------------------------------


def test_success_for_a_pending_gift_moves_the_totals(app, client, drive_id):
    first = make_gift(app, drive_id, 2500)
    second = make_gift(app, drive_id, 10_000)
    assert totals(app, drive_id) == (0, 0)  # pending gifts are not counted
    deliver(client, first.succeeded())
    assert totals(app, drive_id) == (2500, 1)
    deliver(client, second.succeeded())
    assert totals(app, drive_id) == (12_500, 2)
    assert client.get("/drives/relocation/progress.json").get_json()["raised_minor"] == 12_500


def test_a_gift_stripe_did_not_answer_for_is_counted_when_the_webhook_comes(app, client, drive_id):
    gift = make_gift(app, drive_id, 3000, status=DonationStatus.UNREACHABLE)
    assert totals(app, drive_id) == (0, 0)
    deliver(client, gift.succeeded())
    assert totals(app, drive_id) == (3000, 1)
    assert donation_status(app, gift.donation_id) is DonationStatus.SUCCEEDED


def test_a_full_refund_takes_the_gift_and_the_donor_out(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.refunded(5000))
    assert totals(app, drive_id) == (0, 0)


def test_partial_refunds_are_cumulative_not_added(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.refunded(1000))
    assert totals(app, drive_id) == (4000, 1)
    deliver(client, gift.refunded(2500))  # Stripe sends the running total: 2500, not 1000 + 2500
    assert totals(app, drive_id) == (2500, 1)


def test_refund_events_arriving_out_of_order_keep_the_larger_amount(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.refunded(2500))
    deliver(client, gift.refunded(1000))  # the older event, delivered late
    assert totals(app, drive_id) == (2500, 1)


def test_a_success_after_the_refund_does_not_resurrect_the_money(app, client, drive_id, gift):
    deliver(client, gift.refunded(5000))  # Stripe delivered the refund first
    assert totals(app, drive_id) == (0, 0)
    deliver(client, gift.succeeded())
    assert totals(app, drive_id) == (0, 0)
    assert donation_status(app, gift.donation_id) is DonationStatus.SUCCEEDED


def test_a_partial_refund_before_the_success_still_counts_the_rest(app, client, drive_id, gift):
    deliver(client, gift.refunded(1500))
    deliver(client, gift.succeeded())
    assert totals(app, drive_id) == (3500, 1)


def test_a_payment_failed_after_success_is_ignored(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.failed())
    assert totals(app, drive_id) == (5000, 1)
    assert donation_status(app, gift.donation_id) is DonationStatus.SUCCEEDED


def test_a_failed_attempt_then_a_successful_retry_counts(app, client, drive_id, gift):
    deliver(client, gift.failed())
    assert donation_status(app, gift.donation_id) is DonationStatus.FAILED
    assert totals(app, drive_id) == (0, 0)
    deliver(client, gift.succeeded())
    assert totals(app, drive_id) == (5000, 1)


def test_a_lost_dispute_takes_the_money_out(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.dispute("needs_response"))
    deliver(client, gift.dispute("lost"))
    assert totals(app, drive_id) == (0, 0)


def test_a_won_dispute_keeps_the_money(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.dispute("needs_response"))
    deliver(client, gift.dispute("won"))
    assert totals(app, drive_id) == (5000, 1)


def test_a_late_dispute_created_does_not_reopen_a_closed_dispute(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.dispute("lost"))
    deliver(client, gift.dispute("needs_response"))
    assert totals(app, drive_id) == (0, 0)


def test_a_partly_disputed_gift_loses_only_the_disputed_part(app, client, drive_id, gift):
    deliver(client, gift.succeeded())
    deliver(client, gift.dispute("lost", amount=2000))
    assert totals(app, drive_id) == (3000, 1)


def test_a_dispute_found_by_its_charge_alone(app, client, drive_id, gift):
    deliver(client, gift.succeeded())  # carries latest_charge, so the charge id is known
    dispute = stripe_objects.dispute(
        "dp_by_charge", charge_id=gift.charge_id, intent_id=None, amount=5000, status="lost"
    )
    response = deliver(client, stripe_objects.event("charge.dispute.closed", dispute))
    assert response.get_json()["outcome"] == "applied"
    assert totals(app, drive_id) == (0, 0)
