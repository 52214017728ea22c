"""The payment methods a drive offers (STRIPE_PAYMENT_METHOD_TYPES), what the PaymentIntent is
allowed, and a bank debit (SEPA) that stays `processing` until Stripe's webhook says it cleared.

Against a localstripe of this module's own whose debits clear only when a test says so, so
"processing" is a state the test holds, not a race with the stand-in's clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from config import ConfigError, load_config
from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from fundraising.stripe_gateway import GatewayRejected, StripeGateway
from tests.conftest import create_payment_method, start_localstripe, stripe_settings
from tests.factories import make_drive
from tests.fundraising import stripe_objects
from tests.fundraising.stripe_objects import deliver

SECRET = {"Authorization": "Bearer sk_test_localstripe"}
IBAN = "DE89370400440532013000"  # Stripe's test IBAN that succeeds (after clearing)
CARD_AND_SEPA = "card,sepa_debit"


# --- Configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("card",)),
        ("", ("card",)),
        ("card", ("card",)),
        (" Card , SEPA_debit ,card,", ("card", "sepa_debit")),
        ("card,link", ("card", "link")),
    ],
)
def test_payment_method_types_are_read_as_a_comma_list(monkeypatch, tmp_path, value, expected):
    if value is None:
        monkeypatch.delenv("STRIPE_PAYMENT_METHOD_TYPES", raising=False)
    else:
        monkeypatch.setenv("STRIPE_PAYMENT_METHOD_TYPES", value)
    settings = load_config(tmp_path, {"APP_ENV": "testing"})
    assert settings["STRIPE_PAYMENT_METHOD_TYPES"] == expected


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("card,apple_pay", "'apple_pay'"),  # a wallet: it rides on card
        ("card,bitcoin,ideal", "'bitcoin', 'ideal'"),
        ("sepa_debit", "must include card"),
        (",", "must include card"),
    ],
)
def test_a_bad_payment_method_type_stops_the_start_naming_it(monkeypatch, tmp_path, value, named):
    monkeypatch.setenv("STRIPE_PAYMENT_METHOD_TYPES", value)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path, {"APP_ENV": "testing"})
    message = str(error.value)
    assert "STRIPE_PAYMENT_METHOD_TYPES" in message
    assert named in message


# --- What the page offers and the PaymentIntent allows -------------------------------------


@pytest.fixture(scope="module")
def debit_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """localstripe whose SEPA Debits stay pending until `clear_debit` (like a bank's days)."""
    directory: Path = tmp_path_factory.mktemp("localstripe-debits")
    process, base = start_localstripe(directory, debits_clear_ms=0)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def sepa_app(make_app, debit_stripe):
    return make_app(STRIPE_PAYMENT_METHOD_TYPES=CARD_AND_SEPA, **stripe_settings(debit_stripe))


def sepa_method(base: str, iban: str = IBAN) -> str:
    """A SEPA Debit PaymentMethod, as the Payment Element creates it."""
    response = requests.post(
        base + "/v1/payment_methods",
        headers=SECRET,
        data={
            "type": "sepa_debit",
            "sepa_debit[iban]": iban,
            "billing_details[name]": "Jenny Rosen",
            "billing_details[email]": "jenny@example.org",
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def sent_intent(base: str, intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as localstripe keeps it: what the app sent."""
    return requests.get(f"{base}/v1/payment_intents/{intent_id}", headers=SECRET, timeout=10).json()


def only_donation(app) -> Donation:
    with app.app_context():
        return db.session.scalars(select(Donation)).one()


def totals(app, slug: str) -> tuple[int, int]:
    with app.app_context():
        drive = db.session.scalar(select(Drive).where(Drive.slug == slug))
        return drive.totals.raised_minor, drive.totals.donors


def test_the_page_offers_only_the_methods_the_drives_currency_takes(sepa_app):
    make_drive(sepa_app, slug="dollars", currency="usd")
    make_drive(sepa_app, slug="euros", currency="eur")
    client = sepa_app.test_client()
    offered = re.compile(r'data-payment-method-types="([^"]*)"')
    assert offered.findall(client.get("/drives/dollars").get_data(as_text=True)) == ["card"]
    assert offered.findall(client.get("/drives/euros").get_data(as_text=True)) == [CARD_AND_SEPA]


def test_a_card_gift_allows_the_drives_methods_and_sends_no_mandate(sepa_app, debit_stripe):
    make_drive(sepa_app, slug="dollars", currency="usd")
    client = sepa_app.test_client()
    response = client.post(
        "/drives/dollars/donate",
        data={"amount": "25.00", "payment_method": create_payment_method(debit_stripe)},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "succeeded"
    sent = sent_intent(debit_stripe, only_donation(sepa_app).payment_intent_id)
    assert sent["payment_method_types"] == ["card"]  # no SEPA in dollars
    assert sent["mandate_data"] is None
    assert totals(sepa_app, "dollars") == (2500, 1)


def test_a_card_gift_in_euros_allows_sepa_too_and_lands_as_before(sepa_app, debit_stripe):
    make_drive(sepa_app, slug="euros", currency="eur")
    client = sepa_app.test_client()
    response = client.post(
        "/drives/euros/donate",
        data={"amount": "25.00", "payment_method": create_payment_method(debit_stripe)},
        headers={"User-Agent": "Mozilla/5.0 (test)"},
    )
    assert response.get_json()["status"] == "succeeded"
    sent = sent_intent(debit_stripe, only_donation(sepa_app).payment_intent_id)
    assert sent["payment_method_types"] == ["card", "sepa_debit"]
    # Stripe's server-side confirmation carries the mandate whenever a debit may be used.
    online = sent["mandate_data"]["customer_acceptance"]["online"]
    assert online == {"ip_address": "127.0.0.1", "user_agent": "Mozilla/5.0 (test)"}
    assert totals(sepa_app, "euros") == (2500, 1)


def test_a_sepa_debit_is_processing_until_the_webhook_says_it_cleared(sepa_app, debit_stripe):
    make_drive(sepa_app, slug="euros", currency="eur")
    client = sepa_app.test_client()
    response = client.post(
        "/drives/euros/donate",
        data={"amount": "40.00", "payment_method": sepa_method(debit_stripe), "name": "Jenny"},
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "processing"
    intent_id = body["client_secret"].split("_secret_")[0]
    assert only_donation(sepa_app).status is DonationStatus.PROCESSING
    assert totals(sepa_app, "euros") == (0, 0)

    # The thank-you page asks Stripe, which still says processing: it says so, and counts nothing.
    page = client.get(f"/drives/euros/thanks?payment_intent={intent_id}").get_data(as_text=True)
    assert "Thank you, Jenny" in page
    assert "is being processed" in page
    assert "€40.00" in page
    assert "went through" not in page
    assert totals(sepa_app, "euros") == (0, 0)
    progress = client.get("/drives/euros/progress.json").get_json()
    assert (progress["raised_minor"], progress["donors"]) == (0, 0)

    # Days later the bank pays; Stripe sends payment_intent.succeeded.
    cleared = requests.post(f"{debit_stripe}/_debits/{intent_id}/clear", headers=SECRET, timeout=10)
    assert cleared.json()["status"] == "succeeded"
    delivered = deliver(client, stripe_objects.event("payment_intent.succeeded", cleared.json()))
    assert delivered.status_code == 200
    assert totals(sepa_app, "euros") == (4000, 1)
    assert only_donation(sepa_app).status is DonationStatus.SUCCEEDED
    page = client.get(f"/drives/euros/thanks?payment_intent={intent_id}").get_data(as_text=True)
    assert "went through" in page
    assert totals(sepa_app, "euros") == (4000, 1)  # the page and the webhook count it once


def test_a_sepa_debit_is_refused_where_the_drive_does_not_offer_it(sepa_app, debit_stripe):
    """A dollar drive's intent allows card only: a SEPA method posted to it is refused by
    Stripe, the donor is told, and nothing is counted."""
    make_drive(sepa_app, slug="dollars", currency="usd")
    client = sepa_app.test_client()
    response = client.post(
        "/drives/dollars/donate",
        data={"amount": "25.00", "payment_method": sepa_method(debit_stripe)},
    )
    assert response.status_code == 400
    assert "not allowed" in response.get_json()["error"]
    assert only_donation(sepa_app).status is DonationStatus.FAILED
    assert totals(sepa_app, "dollars") == (0, 0)


# --- The stand-in refuses what Stripe refuses ---------------------------------------------


def _payment(payment_method: str, key: str, currency: str = "eur", **extra: Any) -> dict[str, Any]:
    return {
        "amount_minor": 2500,
        "currency": currency,
        "payment_method": payment_method,
        "idempotency_key": f"methods-{key}",
        "metadata": {"drive_id": "1", "donation_id": key},
        "receipt_email": None,
        "description": "Gift",
        "statement_descriptor_suffix": None,
        "return_url": "http://localhost/drives/euros/thanks",
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({"payment_method_types": ("card",)}, "not allowed"),
        ({"payment_method_types": ("card", "sepa_debit"), "currency": "usd"}, "currency"),
        ({"payment_method_types": ("card", "sepa_debit")}, "mandate_data"),
    ],
    ids=["type-not-allowed", "sepa-in-dollars", "no-mandate"],
)
def test_localstripe_refuses_a_debit_stripe_would_refuse(debit_stripe, extra, refusal):
    gateway = StripeGateway("sk_test_localstripe", None, api_base=debit_stripe)
    key = stripe_objects.new_id("refused")
    with pytest.raises(GatewayRejected):
        gateway.create_payment(**_payment(sepa_method(debit_stripe), key, **extra))
    direct = requests.post(
        f"{debit_stripe}/v1/payment_intents",
        headers=SECRET,
        data={
            "amount": 2500,
            "currency": extra.get("currency", "eur"),
            "payment_method": sepa_method(debit_stripe),
            "payment_method_types[]": list(extra["payment_method_types"]),
            "confirm": "true",
        },
        timeout=10,
    )
    assert direct.status_code == 400
    assert refusal in direct.json()["error"]["message"]
