"""Stripe webhook intake: each event stored once, applied by state rules, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from fundraising import services
from fundraising.locked_rows import LockedDonation, lock_for_charge, lock_for_intent
from fundraising.models import DisputeStatus, StripeEvent
from fundraising.stripe_gateway import PaymentResult
from security.clock import now

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], str]
EVENTS = cast(Table, StripeEvent.__table__)
HANDLERS_KEY = "stripe_webhook_handlers"


def add_handlers(app: Flask, handlers: Mapping[str, Handler]) -> None:
    """Register handlers for Stripe event types on this app (finance adds payout events).

    One handler per event type: a second one for the same type is a wiring mistake and is
    refused at start-up rather than silently replacing the first."""
    registry: dict[str, Handler] = app.extensions.setdefault(HANDLERS_KEY, {})
    for event_type, handler in handlers.items():
        if registry.get(event_type, handler) is not handler:
            raise RuntimeError(f"two webhook handlers for {event_type}")
        registry[event_type] = handler


def handler_for(event_type: str) -> Handler | None:
    """The handler this app registered for an event type, if any."""
    handlers: dict[str, Handler] = current_app.extensions.get(HANDLERS_KEY, {})
    return handlers.get(event_type)


def handled_types() -> frozenset[str]:
    """The event types this app has handlers for (the only ones a metric label names)."""
    handlers: dict[str, Handler] = current_app.extensions.get(HANDLERS_KEY, {})
    return frozenset(handlers)


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
    handler = handler_for(event_type)
    # The event row is written with the usual outcome and corrected in the same transaction
    # when the handler reports another, so the common case costs one statement, not two.
    expected = "applied" if handler else "ignored"
    connection = db.session.connection()
    if not _store_once(connection, event_id, event_type, data_object.get("id"), expected):
        return "duplicate"
    outcome = handler(data_object) if handler else expected
    if outcome != expected:
        connection.execute(SET_OUTCOME, {"event_id": event_id, "outcome_now": outcome})
    return outcome


# Core statements, built once: no StripeEvent object is ever loaded, and building and running
# ORM statements cost several times more than the SQL itself on this path.
def _insert_once(insert: Any) -> Any:
    return (
        insert(EVENTS)
        .values(
            id=bindparam("event_id"),
            type=bindparam("event_type"),
            object_id=bindparam("object_id"),
            outcome=bindparam("outcome_now"),
            received_at=bindparam("received_at"),
        )
        .on_conflict_do_nothing(index_elements=[EVENTS.c.id])
        .returning(EVENTS.c.id)
    )


INSERT_ONCE = {"postgresql": _insert_once(postgresql.insert), "sqlite": _insert_once(sqlite.insert)}
SET_OUTCOME = (
    update(EVENTS)
    .where(EVENTS.c.id == bindparam("event_id"))
    .values(outcome=bindparam("outcome_now"))
)


def _store_once(
    connection: Connection, event_id: str, event_type: str, object_id: Any, outcome: str
) -> bool:
    """Insert the event id (with the outcome expected); False if it is already there.

    One statement: INSERT ... ON CONFLICT DO NOTHING. A copy of the same event being applied
    at this moment holds the id's index entry, so this waits for it and then sees the conflict
    (the other delivery wins). No savepoint: with SQLite's driver a SAVEPOINT opened before any
    other write starts the transaction itself, and releasing it would commit the event id on
    its own, so a handler error that follows would leave Stripe's retry ignored."""
    parameters = {
        "event_id": event_id,
        "event_type": event_type,
        "object_id": str(object_id) if object_id is not None else None,
        "outcome_now": outcome,
        "received_at": now(),
    }
    return connection.execute(INSERT_ONCE[connection.dialect.name], parameters).first() is not None


def _applied(donation: LockedDonation) -> str:
    """Write what the rules changed (if the totals moved, that was written with them)."""
    donation.save()
    return "applied"


def payment_intent_changed(intent: dict[str, Any]) -> str:
    """Move the donation to the state the PaymentIntent reports."""
    if services.record_payment(PaymentResult.from_stripe(intent)) is None:
        return "unmatched"
    return "applied"


def _charge_donation(charge: dict[str, Any]) -> LockedDonation | None:
    intent = charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    metadata = charge.get("metadata") or {}
    donation = lock_for_intent(intent_id, metadata.get("donation_id"))
    if donation is not None and donation.charge_id is None:
        donation.charge_id = charge.get("id")
    return donation


def charge_refunded(charge: dict[str, Any]) -> str:
    """Full or partial refund: the charge carries the cumulative amount refunded."""
    donation = _charge_donation(charge)
    if donation is None:
        return "unmatched"
    services.record_refund(donation, int(charge.get("amount_refunded") or 0))
    return _applied(donation)


def dispute_changed(dispute: dict[str, Any]) -> str:
    """A dispute's life: open until closed as won or lost."""
    donation = lock_for_intent(dispute.get("payment_intent"))
    if donation is None and dispute.get("charge"):
        donation = lock_for_charge(str(dispute["charge"]))
    if donation is None:
        return "unmatched"
    status = {"won": DisputeStatus.WON, "lost": DisputeStatus.LOST}.get(
        str(dispute.get("status")), DisputeStatus.OPEN
    )
    services.record_dispute(donation, status, int(dispute.get("amount") or 0))
    return _applied(donation)


PAYMENT_INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
)
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
# The events fundraising applies (fundraising's init_app registers them).
HANDLERS: dict[str, Handler] = (
    dict.fromkeys(PAYMENT_INTENT_EVENTS, payment_intent_changed)
    | {"charge.refunded": charge_refunded}
    | dict.fromkeys(DISPUTE_EVENTS, dispute_changed)
)
