"""Finance fixtures: the app serving recorded Stripe JSON, gifts, staff signed in on own clients."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from accounts.models import Role
from extensions import db
from fundraising import services as fundraising
from fundraising.models import DonationStatus, Drive, DriveTotals
from tests.conftest import PASSWORD, Auth, Clock, current_code
from tests.factories import make_user, use_fast_password_hashing, user_email
from tests.finance.recorded import RecordedStripe


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_password_hashing(monkeypatch)


@pytest.fixture
def recorded_stripe() -> RecordedStripe:
    return RecordedStripe()


@pytest.fixture
def app(make_app: Any, recorded_stripe: RecordedStripe) -> Flask:
    """The app with the fake gateway serving recorded Stripe JSON (same reconcile code)."""
    return make_app(STRIPE_GATEWAY=recorded_stripe)  # type: ignore[no-any-return]


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


class Staff:
    """A staff member signed in on their own test client."""

    def __init__(self, app: Flask, clock: Clock, role: Role) -> None:
        self.app = app
        self.id = make_user(app, role)
        self.email = user_email(app, self.id)
        self.client: FlaskClient = app.test_client()
        self.auth = Auth(app, self.client, clock)
        self.auth.login(self.email)

    def reauthenticate(self) -> Any:
        self.auth.clock.advance(seconds=30)
        code = current_code(self.app, self.email)
        return self.client.post("/reauthenticate", data={"password": PASSWORD, "code": code})


@pytest.fixture
def staff(app: Flask, clock: Clock) -> Any:
    """staff(Role.FINANCE) is a signed-in finance user with their own client."""

    def make(role: Role = Role.FINANCE) -> Staff:
        return Staff(app, clock, role)

    return make
