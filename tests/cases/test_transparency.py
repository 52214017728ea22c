"""The public "where the money went" section: frozen at each month's end, rounded, and moved
only by changes at least three cases make."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from cases import services, transparency
from cases.models import Case, RiskLevel, SpendingSnapshot, Stage
from extensions import db
from finance import services as finance_services
from finance.models import Category
from fundraising import services as fundraising_services
from fundraising.models import DonationStatus, Drive
from tests.factories import count_rows, make_drive, make_user

ON_THE_WAY = (
    Stage.VERIFIED,
    Stage.APPROVED,
    Stage.FUNDED,
    Stage.TRAVEL_BOOKED,
    Stage.IN_TRANSIT,
    Stage.ARRIVED,
)


class Books:
    """A drive with a gift to spend, and the staff who fund and relocate its cases."""

    def __init__(self, app, clock, *, currency: str = "usd", publish: bool = True) -> None:
        self.app = app
        self.worker_id = make_user(app, Role.CASEWORKER)
        self.checker_id = make_user(app, Role.CASEWORKER)
        self.finance_id = make_user(app, Role.FINANCE)
        self.people = 0
        self.drive_id = make_drive(
            app,
            slug="open-books",
            currency=currency,
            ends_at=clock.current + timedelta(days=365),
            is_spending_published=publish,
        )
        with app.app_context():
            drive = db.session.get(Drive, self.drive_id)
            gift = fundraising_services.start_donation(
                drive, fundraising_services.GiftRequest(amount_minor=900_000)
            )
            fundraising_services.set_payment_status(gift, DonationStatus.SUCCEEDED)
            db.session.commit()

    def fund(
        self,
        count: int = 1,
        *,
        household_size: int = 2,
        amount_minor: int = 50_000,
        category: Category = Category.FLIGHT,
        relocate: bool = True,
    ) -> list[str]:
        """Cases paid for now (and relocated now unless told otherwise); their ids."""
        case_ids = []
        with self.app.app_context():
            worker = db.session.get(User, self.worker_id)
            money = db.session.get(User, self.finance_id)
            for _ in range(count):
                self.people += 1
                case = services.create_case(
                    worker,
                    {"legal_name": f"Secret Person {self.people}", "current_location": "Hidden"},
                    services.ClearFields(
                        risk_level=RiskLevel.HIGH, region="North", household_size=household_size
                    ),
                )
                item = services.request_money(
                    case,
                    worker,
                    drive_id=self.drive_id,
                    category=category,
                    amount_minor=amount_minor,
                    payee="Agent",
                    note="",
                )
                finance_services.approve_disbursement(item.id, money)
                finance_services.mark_paid(item.id, money, f"REF-{case.code}")
                case_ids.append(case.id)
            db.session.commit()
        if relocate:
            self.relocate(*case_ids)
        return case_ids

    def relocate(self, *case_ids: str) -> None:
        """Move cases through every stage to arrived, as their caseworkers would, now."""
        with self.app.app_context():
            worker = db.session.get(User, self.worker_id)
            checker = db.session.get(User, self.checker_id)
            for case_id in case_ids:
                case = db.session.get(Case, case_id)
                services.change_stage(case, worker, Stage.SCREENING, "Screened")
                services.record_verification(
                    case,
                    worker,
                    has_seen_documents=True,
                    has_contacted_references=True,
                    has_assessed_risk=True,
                    notes="",
                )
                services.confirm_verification(case, checker)
                for stage in ON_THE_WAY:
                    services.change_stage(case, worker, stage, "On the way")
            db.session.commit()

    def snapshots(self) -> list[SpendingSnapshot]:
        """The drive's frozen months, oldest first, detached for assertions."""
        with self.app.app_context():
            rows = list(
                db.session.scalars(
                    select(SpendingSnapshot)
                    .where(SpendingSnapshot.drive_id == self.drive_id)
                    .order_by(SpendingSnapshot.month)
                )
            )
            for row in rows:
                for line in row.lines:
                    db.session.expunge(line)
                db.session.expunge(row)
            return rows


def spending(client) -> str:
    """The "where the money went" section of the drive page, as a visitor sees it."""
    page = client.get("/drives/open-books").get_data(as_text=True)
    found = re.search(r"<section[^>]*spending-heading.*?</section>", page, re.DOTALL)
    assert found is not None, "no spending section"
    return found.group(0)


def at(clock, year: int, month: int, day: int, *time: int) -> None:
    """Set the test clock to a UTC moment (hour, minute, second optional)."""
    hour, minute, second = (*time, 0, 0, 0)[:3]
    clock.current = datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_public_spending_does_not_change_between_two_visits_inside_a_month(app, client, clock):
    books = Books(app, clock)
    books.fund(3)  # 22 November: six people, $1,500 of flights
    at(clock, 2026, 12, 2, 9)
    first = spending(client)
    clock.advance(days=1)
    books.fund(household_size=5, amount_minor=123_400)  # one more household, its flight
    second = spending(client)
    assert second == first
    assert "$1,500.00" in first
    assert "<strong>6</strong> people" in first
    assert "$2,734.00" not in second
    assert "<strong>11</strong>" not in second


def test_nothing_is_shown_before_the_first_month_ends(app, client, clock):
    books = Books(app, clock)
    books.fund(3)
    at(clock, 2026, 11, 30, 23, 59, 59)
    section = spending(client)
    assert "$1,500.00" not in section
    assert "people have reached safety" not in section
    assert "published at the end of each month" in section
    assert count_rows(app, SpendingSnapshot) == 0


def test_the_first_month_appears_once_it_has_ended_as_of_its_last_day(app, client, clock):
    books = Books(app, clock)
    books.fund(3)
    at(clock, 2026, 12, 1, 0, 0, 1)
    section = spending(client)
    assert "Flight</strong>: $1,500.00" in section
    assert "<strong>6</strong> people have reached safety" in section
    assert "Figures as of 30 November 2026" in section
    assert "rounded to the nearest $100.00" in section
    assert "Secret Person" not in section
    assert "REF-" not in section
    assert "22 Nov" not in section  # no date finer than a month


def test_a_month_changed_by_fewer_than_three_cases_keeps_the_shown_figures(app, client, clock):
    books = Books(app, clock)
    books.fund(3)  # November
    at(clock, 2026, 12, 10, 9)
    books.fund(household_size=5, amount_minor=123_400)  # December: one case
    at(clock, 2027, 1, 5, 9)
    section = spending(client)
    assert "Figures as of 31 December 2026" in section
    assert "Flight</strong>: $1,500.00" in section
    assert "<strong>6</strong> people" in section
    books.fund(2)  # January: two more, so three cases since the figures last moved
    at(clock, 2027, 2, 1, 9)
    section = spending(client)
    assert "Figures as of 31 January 2027" in section
    assert "Flight</strong>: $3,700.00" in section  # $3,734 rounded
    assert "<strong>15</strong> people" in section


@pytest.mark.parametrize("count", [1, 2])
def test_figures_stay_hidden_below_three_cases_month_after_month(app, client, clock, count):
    books = Books(app, clock)
    books.fund(count)
    for month in (12, 1):
        at(clock, 2026 if month == 12 else 2027, month, 3, 9)
        section = spending(client)
        assert "Where the money went" in section
        assert "Flight</strong>" not in section
        assert "people have reached safety" not in section
        assert "published at the end of each month" in section


def test_a_category_moves_only_with_three_cases_of_its_own(app, client, clock):
    books = Books(app, clock)
    books.fund(3)
    books.fund(household_size=1, amount_minor=80_000, category=Category.MEDICAL)
    at(clock, 2026, 12, 2, 9)
    section = spending(client)
    assert "Flight</strong>: $1,500.00" in section
    assert "Medical" not in section
    assert "$800.00" not in section


def test_people_relocated_counts_arrivals_by_month_end_from_the_stage_history(app, client, clock):
    books = Books(app, clock)
    books.fund(2)
    (late,) = books.fund(household_size=4, relocate=False)
    at(clock, 2026, 12, 5, 9)
    books.relocate(late)  # arrives in December
    at(clock, 2027, 1, 10, 9)  # no timer ran: both months are frozen now, from their own data
    section = spending(client)
    november, december = books.snapshots()
    assert (november.month, november.people_relocated) == (date(2026, 11, 1), None)
    assert [line.amount_minor for line in november.lines] == [150_000]
    assert (december.people_relocated, december.people_cases) == (8, 3)
    assert "<strong>8</strong> people" in section
    assert "Figures as of 31 December 2026" in section


def test_people_relocated_moves_only_with_three_new_households(app, client, clock):
    books = Books(app, clock)
    case_ids = books.fund(3, relocate=False)
    books.relocate(*case_ids)
    at(clock, 2026, 12, 3, 9)
    books.fund(household_size=6, amount_minor=50_000, relocate=False)
    (late,) = books.fund(household_size=1, amount_minor=50_000, relocate=False)
    books.fund(household_size=1, amount_minor=50_000, relocate=False)
    books.relocate(late)  # paid for three, relocated one: money moves, people do not
    at(clock, 2027, 1, 3, 9)
    section = spending(client)
    assert "Flight</strong>: $3,000.00" in section
    assert "<strong>6</strong> people" in section


@pytest.mark.parametrize(
    ("currency", "amount_minor", "shown"),
    [
        ("usd", 41_152, "$1,200.00"),  # $1,234.56
        ("usd", 45_000, "$1,400.00"),  # $1,350.00: halves go up
        ("jpy", 41_152, "¥123,500"),  # no minor unit: the nearest ¥100
    ],
)
def test_amounts_are_rounded_to_a_hundred_of_the_currency(
    app, client, clock, currency, amount_minor, shown
):
    books = Books(app, clock, currency=currency)
    books.fund(3, amount_minor=amount_minor)
    at(clock, 2026, 12, 1, 9)
    assert f"Flight</strong>: {shown}</li>" in spending(client)


@pytest.mark.parametrize(
    ("amount_minor", "currency", "rounded"),
    [
        (123_456, "usd", 120_000),
        (125_000, "usd", 130_000),
        (124_999, "usd", 120_000),
        (123_456, "jpy", 123_500),
        (4_999, "usd", 0),
        (150_049, "kwd", 200_000),  # three decimals: 150.049 KWD
    ],
)
def test_round_amount_uses_the_currency_exponent(amount_minor, currency, rounded):
    assert transparency.round_amount(amount_minor, currency) == rounded


def test_a_total_that_rounds_to_nothing_says_less_than_half_the_step(app, client, clock):
    books = Books(app, clock)
    books.fund(3, amount_minor=1_000)
    at(clock, 2026, 12, 1, 9)
    assert "Flight</strong>: less than $50.00</li>" in spending(client)


@pytest.mark.parametrize(
    ("month", "label"),
    [
        (date(2026, 11, 1), "30 November 2026"),
        (date(2026, 12, 1), "31 December 2026"),
        (date(2028, 2, 1), "29 February 2028"),
    ],
)
def test_as_of_is_the_months_last_day(month, label):
    assert transparency.as_of_label(month) == label


def test_the_command_freezes_each_ended_month_once_and_never_rewrites_it(app, clock, runner):
    books = Books(app, clock)
    books.fund(3)
    assert runner.invoke(args=["cases", "snapshot-spending"]).output == (
        "Froze 0 monthly snapshot(s).\n"
    )
    at(clock, 2026, 12, 1, 0, 5)
    assert "Froze 1 " in runner.invoke(args=["cases", "snapshot-spending"]).output
    books.fund(3, amount_minor=100_000)  # December, after November was frozen
    assert "Froze 0 " in runner.invoke(args=["cases", "snapshot-spending"]).output
    at(clock, 2027, 3, 1, 0, 5)
    assert "Froze 3 " in runner.invoke(args=["cases", "snapshot-spending"]).output
    months = [(row.month, [line.amount_minor for line in row.lines]) for row in books.snapshots()]
    assert months == [
        (date(2026, 11, 1), [150_000]),
        (date(2026, 12, 1), [450_000]),
        (date(2027, 1, 1), [450_000]),
        (date(2027, 2, 1), [450_000]),
    ]


def test_the_page_reads_what_the_timer_froze_and_writes_nothing_more(app, client, clock, runner):
    books = Books(app, clock)
    books.fund(3)
    at(clock, 2026, 12, 1, 0, 5)
    runner.invoke(args=["cases", "snapshot-spending"])
    (frozen,) = books.snapshots()
    assert "$1,500.00" in spending(client)
    assert [row.frozen_at for row in books.snapshots()] == [frozen.frozen_at]


def test_a_month_frozen_concurrently_is_kept_and_the_page_still_answers(
    app, client, clock, monkeypatch
):
    books = Books(app, clock)
    books.fund(3)
    at(clock, 2026, 12, 1, 9)
    with app.app_context():
        drive = db.session.get(Drive, books.drive_id)
        assert transparency.freeze_spending(drive) == 1
        db.session.commit()
    (theirs,) = books.snapshots()
    # Our read saw no snapshot, as when another worker froze the month just after it.
    monkeypatch.setattr(transparency, "latest_snapshot", lambda drive_id: None)
    with app.app_context():
        drive = db.session.get(Drive, books.drive_id)
        assert transparency.freeze_spending(drive) == 0
        db.session.commit()
    monkeypatch.undo()
    assert [row.id for row in books.snapshots()] == [theirs.id]
    assert "$1,500.00" in spending(client)


def test_unpublished_drive_shows_no_spending_and_freezes_nothing_on_view(app, client, clock):
    books = Books(app, clock, publish=False)
    books.fund(3)
    at(clock, 2026, 12, 1, 9)
    assert "Where the money went" not in client.get("/drives/open-books").get_data(as_text=True)
    assert count_rows(app, SpendingSnapshot) == 0
