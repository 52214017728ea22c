"""Gifts in limbo: donations whose outcome Stripe knows and we may not, settled from Stripe.

Two directions. Forward, from our rows:
A worker can die between Stripe's answer and our commit, the database can refuse the write,
a webhook can be lost. `flask --app app stripe reconcile-pending` (every few minutes in
production) asks Stripe about every donation still pending, processing, waiting for 3-D Secure
or unreachable past an age, and applies the answer through `services.record_payment`: the
same lock and state rules as the donate answer and the webhook, so racing them counts once.

Backward, from Stripe's: after the database is restored from a backup, gifts Stripe charged
since that backup have no row at all, and nothing above can see them. `flask --app app stripe
recover-missing --since 2d` lists the PaymentIntents Stripe made since then, and for each one
of ours (`donation_id` and `drive_id` in its metadata) that succeeded or is processing and has
no donation, writes the donation again from what Stripe holds, then applies the intent through
`services.record_payment` like any other answer. What Stripe does not hold (the donor's name,
their public-name and message choices, a covered fee) cannot come back: a recovered gift is
anonymous, with the receipt email Stripe kept, sealed as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select

import audit
from extensions import db
from fundraising import services
from fundraising.models import Donation, DonationStatus, Drive
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


RECOVERABLE = ("succeeded", "processing")


@dataclass
class RecoveryReport:
    """What one backward pass found."""

    checked: int = 0
    recovered: int = 0
    not_ours: int = 0
    unmatched_drive: int = 0

    def summary(self) -> str:
        return (
            f"{self.checked} PaymentIntents checked: {self.recovered} missing gifts recovered, "
            f"{self.unmatched_drive} naming a drive this database does not have, "
            f"{self.not_ours} not made by this app"
        )


def recover_missing(gateway: StripeGateway, since: datetime) -> RecoveryReport:
    """Write back the gifts Stripe took since `since` that have no donation (see above).
    Stripe is read in full before anything is written: if it stops answering, nothing
    changes (GatewayUnavailable)."""
    report = RecoveryReport()
    intents = list(gateway.list_payments(int(since.timestamp())))
    for result in intents:
        report.checked += 1
        donation_id = result.metadata.get("donation_id", "")
        drive_id = result.metadata.get("drive_id", "")
        if not donation_id or not drive_id.isdigit():
            report.not_ours += 1
            continue
        if result.status not in RECOVERABLE:
            continue
        outcome = committed(partial(_recover, result, donation_id, int(drive_id)))
        if outcome == "recovered":
            report.recovered += 1
        elif outcome == "no drive":
            report.unmatched_drive += 1
    return report


def _recover(result: PaymentResult, donation_id: str, drive_id: int) -> str:
    known = db.session.scalar(
        select(Donation.id).where(
            (Donation.id == donation_id) | (Donation.payment_intent_id == result.payment_intent_id)
        )
    )
    if known is not None:
        return "present"
    drive = db.session.get(Drive, drive_id)
    if drive is None or drive.currency != result.currency:
        return "no drive"
    services.restore_donation(drive, donation_id, result)
    db.session.flush()
    # No new receipt: the lost gift's was most likely mailed before the loss, and a second
    # one, under another number, would count one gift twice on the donor's side.
    services.record_payment(result, donation_id, with_receipt=False)
    audit.record(None, "donation.recovered_from_stripe", "donation", donation_id)
    return "recovered"
