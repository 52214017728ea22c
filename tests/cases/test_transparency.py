"""The public "where the money went" section: aggregated, month-level, and silent about any
figure fewer than three cases contribute to."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from cases import services
from cases.models import RiskLevel, Stage
from extensions import db
from finance import services as finance_services
from finance.models import Category
from fundraising import services as fundraising_services
from fundraising.models import DonationStatus, Drive
from tests.factories import make_drive, make_user


def fund_cases(app, count: int, *, publish: bool = True, relocate: bool = True) -> None:
    worker_id = make_user(app, Role.CASEWORKER)
    finance_id = make_user(app, Role.FINANCE)
    drive_id = make_drive(app, slug="open-books")
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        drive.is_spending_published = publish
        gift = fundraising_services.start_donation(
            drive, fundraising_services.GiftRequest(amount_minor=900_000)
        )
        fundraising_services.set_payment_status(gift, DonationStatus.SUCCEEDED)
        worker, money = db.session.get(User, worker_id), db.session.get(User, finance_id)
        for number in range(count):
            case = services.create_case(
                worker,
                {"legal_name": f"Secret Person {number}", "current_location": "Hidden"},
                services.ClearFields(risk_level=RiskLevel.HIGH, region="North", household_size=2),
            )
            if relocate:
                case.stage = Stage.ARRIVED
            item = services.request_money(
                case,
                worker,
                drive_id=drive.id,
                category=Category.FLIGHT,
                amount_minor=50_000,
                payee="Agent",
                note="",
            )
            finance_services.approve_disbursement(item.id, money)
            finance_services.mark_paid(item.id, money, f"REF-{number}")
        db.session.commit()


def test_published_spending_shows_totals_and_people_but_nothing_per_case(app, client):
    fund_cases(app, 3)
    page = client.get("/drives/open-books").get_data(as_text=True)
    assert "Where the money went" in page
    assert "Flight</strong>: $1,500.00" in page
    assert "<strong>6</strong> people have reached safety" in page
    assert "November 2026" in page
    assert "Secret Person" not in page
    assert "REF-" not in page
    assert "22 Nov" not in page  # no date finer than a month


@pytest.mark.parametrize("count", [1, 2])
def test_figures_stay_hidden_below_three_cases(app, client, count):
    fund_cases(app, count)
    page = client.get("/drives/open-books").get_data(as_text=True)
    assert "Where the money went" in page
    assert "$1,000.00" not in page
    assert "$500.00" not in page
    assert "people have reached safety" not in page


def test_unpublished_drive_shows_no_spending(app, client):
    fund_cases(app, 3, publish=False)
    assert "Where the money went" not in client.get("/drives/open-books").get_data(as_text=True)
