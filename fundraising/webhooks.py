"""Stripe webhook intake: each event stored once, applied by state rules, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from fundraising import services
from fundraising.models import DisputeStatus, StripeEvent
from fundraising.stripe_gateway import PaymentResult
from security.clock import now

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], str]
HANDLERS: dict[str, Handler] = {}


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler for event types (finance registers payout events the same way)."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = handler
        return handler

    return register


def receive_event(event: dict[str, Any]) -> str:
    """Store the event id and apply it; return the outcome. The caller commits.

    A duplicate delivery returns "duplicate" and changes nothing. An exception leaves the
    session to be rolled back by the caller, so nothing is half-written and Stripe retries.
    Storing the event id is the transaction's first write: a delivery racing another copy of
    the same event waits on it at that insert, then answers "duplicate" having written nothing.
    """
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    if not event_id.startswith("evt_") or not event_type:
        raise ValueError("not a Stripe event")
    data_object = (event.get("data") or {}).get("object") or {}
    if not _store_once(event_id, event_type, data_object.get("id")):
        return "duplicate"
    handler = HANDLERS.get(event_type)
    outcome = handler(data_object) if handler else "ignored"
    db.session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == event_id)
        .values(outcome=outcome)
        .execution_options(synchronize_session=False)  # no StripeEvent object is loaded
    )
    return outcome


def _store_once(event_id: str, event_type: str, object_id: Any) -> bool:
    """Insert the event id; False if it is already there.

    One statement: INSERT ... ON CONFLICT DO NOTHING. A copy of the same event being applied
    at this moment holds the id's index entry, so this waits for it and then sees the conflict
    (the other delivery wins). No savepoint: with SQLite's driver a SAVEPOINT opened before any
    other write starts the transaction itself, and releasing it would commit the event id on
    its own, so a handler error that follows would leave Stripe's retry ignored."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(StripeEvent)
        .values(
            id=event_id,
            type=event_type,
            object_id=str(object_id) if object_id is not None else None,
            outcome="received",
            received_at=now(),
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return db.session.execute(statement).first() is not None


def _intent_donation(intent: dict[str, Any]) -> Any:
    metadata = intent.get("metadata") or {}
    return services.find_donation_for_intent(
        intent.get("id"), metadata.get("donation_id"), lock=True
    )


@handles(
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
)
def payment_intent_changed(intent: dict[str, Any]) -> str:
    """Move the donation to the state the PaymentIntent reports."""
    donation = _intent_donation(intent)
    if donation is None:
        return "unmatched"
    result = PaymentResult.from_stripe(intent)
    services.apply_payment_result(donation, result)
    return "applied"


def _charge_donation(charge: dict[str, Any]) -> Any:
    intent = charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    metadata = charge.get("metadata") or {}
    donation = services.find_donation_for_intent(intent_id, metadata.get("donation_id"), lock=True)
    if donation is not None and donation.charge_id is None:
        donation.charge_id = charge.get("id")
    return donation


@handles("charge.refunded")
def charge_refunded(charge: dict[str, Any]) -> str:
    """Full or partial refund: the charge carries the cumulative amount refunded."""
    donation = _charge_donation(charge)
    if donation is None:
        return "unmatched"
    services.record_refund(donation, int(charge.get("amount_refunded") or 0))
    return "applied"


@handles(
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
def dispute_changed(dispute: dict[str, Any]) -> str:
    """A dispute's life: open until closed as won or lost."""
    donation = services.find_donation_for_intent(dispute.get("payment_intent"), None, lock=True)
    if donation is None and dispute.get("charge"):
        donation = services.find_donation_for_charge(str(dispute["charge"]), lock=True)
    if donation is None:
        return "unmatched"
    status = {"won": DisputeStatus.WON, "lost": DisputeStatus.LOST}.get(
        str(dispute.get("status")), DisputeStatus.OPEN
    )
    services.record_dispute(donation, status, int(dispute.get("amount") or 0))
    return "applied"
