"""Recorded Stripe events for tests: Stripe's own example objects with our ids, signed like Stripe.

The shapes come from Stripe's published examples (stripe_examples.json beside this file, copied
from Stripe's OpenAPI fixtures), so the handlers see what the live API sends, not a hand-written
subset of it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("stripe_examples.json")).read_text(encoding="utf-8")
)["resources"]
WEBHOOK_SECRET = "whsec_test_secret"  # the tests' STRIPE_WEBHOOK_SECRET


def new_id(prefix: str) -> str:
    """A Stripe-looking id (`pi_...`, `ch_...`, `evt_...`) unique to this test run."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _example(kind: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind])


def payment_intent(
    intent_id: str,
    *,
    amount: int,
    status: str = "succeeded",
    currency: str = "usd",
    charge_id: str | None = None,
    metadata: dict[str, str] | None = None,
    failure_message: str | None = None,
) -> dict[str, Any]:
    """A PaymentIntent as a webhook carries it."""
    intent = _example("payment_intent")
    intent.update(
        id=intent_id,
        amount=amount,
        amount_received=amount if status == "succeeded" else 0,
        currency=currency,
        status=status,
        client_secret=f"{intent_id}_secret_{uuid.uuid4().hex[:12]}",
        latest_charge=charge_id,
        metadata=dict(metadata or {}),
        canceled_at=None,
        next_action=None,
        last_payment_error=(
            {"type": "card_error", "code": "card_declined", "message": failure_message}
            if failure_message
            else None
        ),
    )
    return intent


def charge(
    charge_id: str,
    *,
    intent_id: str,
    amount: int,
    amount_refunded: int = 0,
    currency: str = "usd",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Charge; `amount_refunded` is cumulative, as Stripe sends it."""
    result = _example("charge")
    result.update(
        id=charge_id,
        amount=amount,
        amount_captured=amount,
        amount_refunded=amount_refunded,
        captured=True,
        currency=currency,
        payment_intent=intent_id,
        metadata=dict(metadata or {}),
        refunded=amount_refunded >= amount,
        status="succeeded",
    )
    return result


def dispute(
    dispute_id: str,
    *,
    charge_id: str,
    intent_id: str | None,
    amount: int,
    status: str = "needs_response",
    currency: str = "usd",
) -> dict[str, Any]:
    """A Dispute; `status` is `needs_response`, `under_review`, `won` or `lost`."""
    result = _example("dispute")
    result.update(
        id=dispute_id,
        amount=amount,
        charge=charge_id,
        payment_intent=intent_id,
        currency=currency,
        status=status,
    )
    return result


def event(
    event_type: str, data_object: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    """An Event wrapping an object (Stripe's example event, with our type and object)."""
    result = _example("event")
    result.update(
        id=event_id or new_id("evt"),
        type=event_type,
        data={"object": data_object},
        created=int(time.time()),
        api_version="2024-06-20",
    )
    return result


def signature_header(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """`Stripe-Signature` as Stripe computes it: HMAC-SHA256 of "<t>.<payload>"."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(
    client: Any,
    stripe_event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    at: int | None = None,
    header: str | None = "sign",
) -> Any:
    """POST an event to /stripe/webhook signed with `secret` at unix time `at` (default now).

    `header=None` sends no Stripe-Signature at all; any other string but "sign" is sent as is.
    """
    payload = json.dumps(stripe_event).encode()
    headers = {"Content-Type": "application/json"}
    if header == "sign":
        headers["Stripe-Signature"] = signature_header(payload, secret, at)
    elif header is not None:
        headers["Stripe-Signature"] = header
    return client.post("/stripe/webhook", data=payload, headers=headers)
