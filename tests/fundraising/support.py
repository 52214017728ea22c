"""Helpers for the fundraising tests: donations made through the services, totals, row counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg.errors
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from extensions import db
from fundraising import services
from fundraising.models import Donation, DonationStatus, Drive, StripeEvent
from tests.fundraising import stripe_objects


@dataclass(frozen=True)
class Gift:
    """A donation and the Stripe ids its PaymentIntent and charge have."""

    donation_id: str
    drive_id: int
    amount: int
    intent_id: str
    charge_id: str
    currency: str = "usd"

    @property
    def metadata(self) -> dict[str, str]:
        return {"drive_id": str(self.drive_id), "donation_id": self.donation_id}

    def succeeded(self, event_id: str | None = None) -> dict[str, Any]:
        intent = stripe_objects.payment_intent(
            self.intent_id,
            amount=self.amount,
            currency=self.currency,
            charge_id=self.charge_id,
            metadata=self.metadata,
        )
        return stripe_objects.event("payment_intent.succeeded", intent, event_id)

    def failed(self, event_id: str | None = None) -> dict[str, Any]:
        intent = stripe_objects.payment_intent(
            self.intent_id,
            amount=self.amount,
            currency=self.currency,
            status="requires_payment_method",
            metadata=self.metadata,
            failure_message="Your card was declined.",
        )
        return stripe_objects.event("payment_intent.payment_failed", intent, event_id)

    def refunded(self, cumulative: int, event_id: str | None = None) -> dict[str, Any]:
        charge = stripe_objects.charge(
            self.charge_id,
            intent_id=self.intent_id,
            amount=self.amount,
            amount_refunded=cumulative,
            currency=self.currency,
            metadata=self.metadata,
        )
        return stripe_objects.event("charge.refunded", charge, event_id)

    def dispute(
        self, status: str, amount: int | None = None, event_id: str | None = None
    ) -> dict[str, Any]:
        """`needs_response` gives charge.dispute.created; `won`/`lost` give ...closed."""
        event_type = (
            "charge.dispute.closed" if status in ("won", "lost") else "charge.dispute.created"
        )
        dispute = stripe_objects.dispute(
            "dp_" + self.charge_id.removeprefix("ch_"),
            charge_id=self.charge_id,
            intent_id=self.intent_id,
            amount=self.amount if amount is None else amount,
            status=status,
            currency=self.currency,
        )
        return stripe_objects.event(event_type, dispute, event_id)


def make_gift(
    app: Flask,
    drive_id: int,
    amount: int = 2500,
    *,
    status: DonationStatus = DonationStatus.PENDING,
    name: str = "",
    email: str = "",
    is_anonymous: bool = False,
    message: str = "",
    via_code: str | None = None,
) -> Gift:
    """A donation as /donate leaves it once Stripe has answered (pending, with its intent id)."""
    intent_id = stripe_objects.new_id("pi")
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        donation = services.start_donation(
            drive,
            services.GiftRequest(
                amount_minor=amount,
                name=name,
                email=email,
                is_anonymous=is_anonymous,
                message=message,
                via_code=via_code,
            ),
        )
        donation.payment_intent_id = intent_id
        if status is not DonationStatus.PENDING:
            services.set_payment_status(donation, status)
        db.session.commit()
        return Gift(donation.id, drive_id, amount, intent_id, "ch_" + intent_id.removeprefix("pi_"))


def database_down(*_args: Any, **_kwargs: Any) -> Any:
    """Stands in for a service call while PostgreSQL is shutting down."""
    raise OperationalError("UPDATE donations", {}, psycopg.errors.AdminShutdown("shutdown"))


def totals(app: Flask, drive_id: int) -> tuple[int, int]:
    """The maintained (raised_minor, donors) of a drive."""
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        return drive.totals.raised_minor, drive.totals.donors


def recount(app: Flask, drive_id: int) -> tuple[int, int]:
    """The same figures from a full scan of the drive's donations."""
    with app.app_context():
        return services.recount(drive_id)


def count_rows(app: Flask, model: type[Any]) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def count_donations(app: Flask) -> int:
    return count_rows(app, Donation)


def count_events(app: Flask) -> int:
    return count_rows(app, StripeEvent)


def donation_status(app: Flask, donation_id: str) -> DonationStatus:
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        assert donation is not None
        return donation.status
