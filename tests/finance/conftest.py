"""Finance fixtures: the app serving recorded Stripe JSON, gifts, staff signed in on own clients."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from accounts.models import Role
from extensions import db
from fundraising import services as fundraising
from fundraising.models import DonationStatus, Drive, DriveTotals
from tests.conftest import Clock
from tests.factories import StaffMember
from tests.finance.recorded import RecordedStripe


@pytest.fixture
def recorded_stripe() -> RecordedStripe:
    return RecordedStripe()


@pytest.fixture
def app(make_app: Any, recorded_stripe: RecordedStripe) -> Flask:
    """The app with the fake gateway serving recorded Stripe JSON (same reconcile code)."""
    return make_app(STRIPE_GATEWAY=recorded_stripe)


def donate(
    app: Flask,
    drive_id: int,
    amount_minor: int,
    *,
    intent_id: str | None = None,
    charge_id: str | None = None,
    **gift: Any,
) -> str:
    """A succeeded gift through the fundraising services; returns the donation id."""
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        donation = fundraising.start_donation(
            drive, fundraising.GiftRequest(amount_minor=amount_minor, **gift)
        )
        donation.payment_intent_id = intent_id
        donation.charge_id = charge_id
        fundraising.set_payment_status(donation, DonationStatus.SUCCEEDED)
        db.session.commit()
        return donation.id


def fund(app: Flask, drive_id: int, gross_minor: int) -> None:
    """Give a drive money to spend without going through gifts (for disbursement tests)."""
    with app.app_context():
        db.session.execute(
            update(DriveTotals)
            .where(DriveTotals.drive_id == drive_id)
            .values(gross_minor=DriveTotals.gross_minor + gross_minor)
        )
        db.session.commit()


@pytest.fixture
def staff(app: Flask, clock: Clock) -> Any:
    """staff(Role.FINANCE) is a signed-in finance user with their own client."""

    def make(role: Role = Role.FINANCE) -> StaffMember:
        return StaffMember(app, clock, role)

    return make
