"""Bad gifts are refused with a clear JSON error before Stripe is asked, and leave no trace."""

from __future__ import annotations

import re

import pytest

from fundraising.models import DonationStatus
from tests.factories import make_drive
from tests.fundraising.support import count_donations, donation_status

VALID = {
    "amount": "25.00",
    "payment_method": "pm_card_visa",
    "email": "donor@example.org",
    "name": "Amal Haddad",
    "message": "Stay safe.",
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "1,000.50"}, "amount", "without separators"),
        ({"amount": "abc"}, "amount", "as a number"),
        ({"amount": "-5"}, "amount", "more than zero"),
        ({"amount": ""}, "amount", "Enter an amount"),
        ({"amount": "4.99"}, "amount", "The smallest gift to this drive is $5.00"),
        ({"amount": "10000.01"}, "amount", "The largest gift we can take online is $10,000.00"),
        ({"payment_method": ""}, "payment_method", "Payment details are missing"),
        ({"payment_method": "tok_visa"}, "payment_method", "payment method is not valid"),
        ({"payment_method": "pm_<script>"}, "payment_method", "payment method is not valid"),
        ({"currency": "eur"}, "currency", "takes gifts in USD only"),
        ({"email": "not-an-address"}, "email", "Enter a valid email address"),
        ({"message": "x" * 281}, "message", "under 280 characters"),
    ],
)
def test_bad_input_is_400_with_a_clear_error_and_creates_nothing(app, changes, field, message):
    make_drive(app)
    response = app.test_client().post("/drives/relocation/donate", data={**VALID, **changes})
    assert response.status_code == 400
    body = response.get_json()
    assert message in body["error"]
    assert body["field"] == field
    assert "donation_id" not in body
    assert count_donations(app) == 0


def test_missing_payment_method_field_is_refused(app):
    make_drive(app)
    data = {key: value for key, value in VALID.items() if key != "payment_method"}
    response = app.test_client().post("/drives/relocation/donate", data=data)
    assert response.status_code == 400
    assert "Payment details are missing" in response.get_json()["error"]
    assert count_donations(app) == 0


def test_a_zero_decimal_drive_refuses_fractions_and_takes_whole_yen(app):
    make_drive(app, currency="jpy", goal_minor=5_000_000)
    client = app.test_client()
    fraction = client.post("/drives/relocation/donate", data={**VALID, "amount": "500.5"})
    assert fraction.status_code == 400
    assert "JPY has no minor unit" in fraction.get_json()["error"]
    too_small = client.post("/drives/relocation/donate", data={**VALID, "amount": "100"})
    assert too_small.status_code == 400
    assert "smallest gift" in too_small.get_json()["error"]
    assert count_donations(app) == 0


def test_a_message_of_exactly_280_characters_passes_validation(app):
    make_drive(app)
    response = app.test_client().post(
        "/drives/relocation/donate", data={**VALID, "message": "x" * 280, "currency": "USD"}
    )
    # Validation passed: the gift was written and only Stripe (not configured here) stopped it.
    assert response.status_code == 503
    assert count_donations(app) == 1


def test_without_a_csrf_token_the_form_is_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    make_drive(app)
    client = app.test_client()
    response = client.post("/drives/relocation/donate", data=VALID)
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert count_donations(app) == 0

    wrong = client.post("/drives/relocation/donate", data={**VALID, "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert count_donations(app) == 0


def test_with_the_pages_csrf_token_the_form_is_accepted(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    make_drive(app)
    client = app.test_client()
    page = client.get("/drives/relocation").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/drives/relocation/donate", data={**VALID, "csrf_token": token[1]})
    assert response.status_code == 503  # past CSRF and validation; Stripe is not configured
    assert donation_status(app, response.get_json()["donation_id"]) is DonationStatus.UNREACHABLE


def test_a_database_that_stays_locked_before_stripe_is_a_clear_503_and_nobody_is_charged(
    make_app, monkeypatch
):
    """SQLite under a burst of writers, or PostgreSQL restarting: the gift never reached
    Stripe, and the donor is told so (not "something went wrong")."""
    from fundraising import services
    from fundraising.stripe_gateway import StripeGateway
    from tests.fundraising.support import database_down

    app = make_app(PROPAGATE_UNEXPECTED=False)
    make_drive(app)
    monkeypatch.setattr(services, "start_donation", database_down)
    calls = []
    monkeypatch.setattr(StripeGateway, "create_payment", lambda *a, **k: calls.append(1))
    response = app.test_client().post("/drives/relocation/donate", data=VALID)
    assert response.status_code == 503
    assert "you have not been charged" in response.get_json()["error"]
    assert int(response.headers["Retry-After"]) > 0
    assert calls == []
    assert count_donations(app) == 0
