"""Gifts in limbo: donations whose outcome Stripe knows and we may not, settled from Stripe.

A worker can die between Stripe's answer and our commit, the database can refuse the write,
a webhook can be lost. `flask --app app stripe reconcile-pending` (every few minutes in
production) asks Stripe about every donation still pending, processing, waiting for 3-D Secure
or unreachable past an age, and applies the answer through `services.record_payment`: the
same lock and state rules as the donate answer and the webhook, so racing them counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select

from extensions import db
from fundraising import services
from fundraising.models import Donation, DonationStatus
from fundraising.stripe_gateway import (
    GatewayRejected,
    GatewayUnavailable,
    PaymentResult,
    StripeGateway,
)
from security.clock import now
from security.transactions import committed

IN_LIMBO = (
    DonationStatus.PENDING,
    DonationStatus.PROCESSING,
    DonationStatus.REQUIRES_ACTION,
    DonationStatus.UNREACHABLE,
)
# Stripe stamps an intent with its own clock when our request reaches it: look a little
# either side of when the donation was written.
SEARCH_MARGIN = timedelta(minutes=5)
NEVER_CHARGED = "The payment never reached Stripe; nobody was charged."


@dataclass
class SweepReport:
    """What one sweep found."""

    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    never_charged: int = 0
    unavailable: int = 0

    def summary(self) -> str:
        return (
            f"{self.checked} checked: {self.changed} changed, {self.unchanged} unchanged "
            f"({self.never_charged} never reached Stripe, marked failed), "
            f"{self.unavailable} not answered by Stripe"
        )


def donations_in_limbo(older_than: timedelta) -> list[tuple[str, str | None, datetime]]:
    """Donation id, PaymentIntent id and creation time of each gift in limbo past the age."""
    rows = db.session.execute(
        select(Donation.id, Donation.payment_intent_id, Donation.created_at)
        .where(Donation.status.in_(IN_LIMBO), Donation.updated_at <= now() - older_than)
        .order_by(Donation.created_at)
    )
    return [(row.id, row.payment_intent_id, row.created_at) for row in rows]


def reconcile_pending(gateway: StripeGateway, older_than: timedelta) -> SweepReport:
    """Ask Stripe about each gift in limbo and apply its answer; commits per donation."""
    report = SweepReport()
    found = donations_in_limbo(older_than)
    db.session.commit()  # no transaction stays open while Stripe answers
    for donation_id, intent_id, created_at in found:
        report.checked += 1
        result: PaymentResult | None
        try:
            if intent_id:
                result = gateway.retrieve_payment(intent_id)
            else:
                result = gateway.find_payment(
                    donation_id,
                    int((created_at - SEARCH_MARGIN).timestamp()),
                    int((created_at + SEARCH_MARGIN).timestamp()),
                )
        except (GatewayUnavailable, GatewayRejected):
            report.unavailable += 1
            continue
        before = db.session.scalar(select(Donation.status).where(Donation.id == donation_id))
        db.session.commit()
        if result is None:
            after = committed(
                partial(
                    services.record_payment_failure,
                    donation_id,
                    DonationStatus.FAILED,
                    NEVER_CHARGED,
                )
            )
            report.never_charged += after is DonationStatus.FAILED and before is not after
        else:
            after = committed(partial(services.record_payment, result, donation_id))
        if after is before:
            report.unchanged += 1
        else:
            report.changed += 1
    return report
