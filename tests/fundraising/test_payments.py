"""Giving through the real stripe library against localstripe: success, declines, 3-D Secure."""

from __future__ import annotations

import requests
from sqlalchemy import select

from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from tests.conftest import create_payment_method
from tests.factories import make_drive


def give(client, localstripe, number="4242424242424242", slug="relocation", **fields):
    data = {"amount": "25.00", "payment_method": create_payment_method(localstripe, number)}
    data.update(fields)
    return client.post(f"/drives/{slug}/donate", data=data)


def totals(app, slug="relocation"):
    with app.app_context():
        drive = db.session.scalar(select(Drive).where(Drive.slug == slug))
        return drive.totals.raised_minor, drive.totals.donors


def only_donation(app):
    with app.app_context():
        return db.session.scalars(select(Donation)).one()


def _payment(payment_method, key):
    """What the donate view hands the gateway, for calling it directly."""
    return {
        "amount_minor": 2500,
        "currency": "usd",
        "payment_method": payment_method,
        "idempotency_key": f"test-{key}",
        "metadata": {"drive_id": "1", "donation_id": key},
        "receipt_email": None,
        "description": "Gift",
        "statement_descriptor_suffix": None,
        "return_url": "http://localhost/drives/relocation/thanks",
    }


def test_card_gift_succeeds_and_moves_the_total(stripe_app, localstripe):
    make_drive(stripe_app)
    client = stripe_app.test_client()
    response = give(client, localstripe, email="donor@example.org", name="Amal Haddad")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "succeeded"
    assert body["client_secret"].startswith("pi_")
    assert totals(stripe_app) == (2500, 1)
    donation = only_donation(stripe_app)
    assert donation.id == body["donation_id"]
    assert donation.status is DonationStatus.SUCCEEDED
    intent_id = donation.payment_intent_id
    sent = requests.get(
        f"{localstripe}/v1/payment_intents/{intent_id}",
        headers={"Authorization": "Bearer sk_test_localstripe"},
        timeout=10,
    ).json()
    assert sent["metadata"] == {"drive_id": str(donation.drive_id), "donation_id": donation.id}
    assert sent["receipt_email"] == "donor@example.org"
    assert sent["statement_descriptor_suffix"] == "DONATION"
    assert sent["amount"] == 2500


def test_thank_you_page_names_the_donor_only_in_their_own_browser(stripe_app, localstripe):
    make_drive(stripe_app)
    client = stripe_app.test_client()
    give(client, localstripe, name="Amal Haddad")
    intent_id = only_donation(stripe_app).payment_intent_id
    own = client.get(f"/drives/relocation/thanks?payment_intent={intent_id}")
    assert "Thank you, Amal Haddad" in own.get_data(as_text=True)
    assert "$25.00" in own.get_data(as_text=True)
    stranger = stripe_app.test_client().get(f"/drives/relocation/thanks?payment_intent={intent_id}")
    text = stranger.get_data(as_text=True)
    assert "Amal" not in text
    assert "$25.00" not in text
    assert "Thank you" in text


def test_covering_the_fee_charges_the_grossed_up_amount(stripe_app, localstripe):
    make_drive(stripe_app)
    response = give(stripe_app.test_client(), localstripe, cover_fees="y")
    assert response.status_code == 200
    donation = only_donation(stripe_app)
    # (2500 + 30) / (1 - 0.029) = 2605.56..., rounded up
    assert (donation.amount_minor, donation.fee_cover_minor) == (2606, 106)
    assert totals(stripe_app) == (2606, 1)


def test_card_declined_at_charge_time_is_explained_and_counts_nothing(stripe_app, localstripe):
    make_drive(stripe_app)
    client = stripe_app.test_client()
    response = give(client, localstripe, number="4000000000000341")
    assert response.status_code == 400
    assert response.get_json()["field"] == "card"
    assert "declined" in response.get_json()["error"].lower()
    assert only_donation(stripe_app).status is DonationStatus.FAILED
    assert totals(stripe_app) == (0, 0)
    retry = give(client, localstripe)
    assert retry.status_code == 200
    assert totals(stripe_app) == (2500, 1)


def test_generic_decline_card_is_refused_like_real_stripe(stripe_app, localstripe):
    make_drive(stripe_app)
    response = give(stripe_app.test_client(), localstripe, number="4000000000000002")
    assert response.status_code == 400
    assert totals(stripe_app) == (0, 0)


def test_three_d_secure_needs_the_page_to_finish_it(stripe_app, localstripe):
    make_drive(stripe_app)
    client = stripe_app.test_client()
    response = give(client, localstripe, number="4000002760003184")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "requires_action"
    assert totals(stripe_app) == (0, 0)
    intent_id = body["client_secret"].split("_secret_")[0]
    authenticated = requests.post(
        f"{localstripe}/v1/payment_intents/{intent_id}/_authenticate?success=true",
        data={"key": "pk_test_localstripe", "client_secret": body["client_secret"]},
        timeout=10,
    )
    assert authenticated.json()["status"] == "succeeded"
    page = client.get(f"/drives/relocation/thanks?payment_intent={intent_id}")
    assert "went through" in page.get_data(as_text=True)
    assert totals(stripe_app) == (2500, 1)
    client.get(f"/drives/relocation/thanks?payment_intent={intent_id}")
    assert totals(stripe_app) == (2500, 1)  # recorded once, however often the page is opened


def test_stripe_down_answers_503_and_keeps_the_donation(make_app):
    app = make_app(
        STRIPE_SECRET_KEY="sk_test_x",
        STRIPE_API_BASE="http://127.0.0.1:9",  # discard port: nothing listens
        STRIPE_TIMEOUT_SECONDS=2,
    )
    make_drive(app)
    response = app.test_client().post(
        "/drives/relocation/donate", data={"amount": "25", "payment_method": "pm_card_visa"}
    )
    assert response.status_code == 503
    assert "not been charged" in response.get_json()["error"]
    donation = only_donation(app)
    assert donation.status is DonationStatus.UNREACHABLE
    assert totals(app) == (0, 0)


def test_an_intent_id_that_is_not_one_never_reaches_stripe(localstripe):
    """Intent ids go into the URL of a raw request: anything but `pi_` and word characters
    (a path, a query) is refused before any call, so it cannot reach another endpoint."""
    import pytest

    from fundraising.stripe_gateway import GatewayRejected, StripeGateway

    gateway = StripeGateway("sk_test_localstripe", None, api_base=localstripe)
    for bad in ("../v1/charges", "pi_1?expand[]=x", "pi_1/cancel", "ch_123", ""):
        with pytest.raises(GatewayRejected):
            gateway.retrieve_payment(bad)
    with pytest.raises(GatewayRejected):
        gateway.retrieve_payment("pi_doesnotexist")  # well formed, unknown to Stripe


def test_stripe_calls_share_one_pool_and_read_no_environment_per_call(localstripe, monkeypatch):
    """One urllib3 pool per worker, sized for its threads; proxy settings are read once, when
    the gateway is built, so a call to Stripe never scans the environment."""
    import os

    from fundraising.stripe_gateway import POOLED_CONNECTIONS, PooledHTTPClient, StripeGateway

    gateway = StripeGateway("sk_test_localstripe", None, api_base=localstripe)
    transport = gateway.client._requestor._client
    assert isinstance(transport, PooledHTTPClient)  # the transport the gateway built
    pool = transport._pool
    assert pool.connection_pool_kw["maxsize"] == POOLED_CONNECTIONS
    intent = gateway.create_payment(**_payment(create_payment_method(localstripe), "pooled"))
    reads: list[str] = []
    real_get = os.environ.get

    def get(*args):
        reads.append(args[0])
        return real_get(*args)

    monkeypatch.setattr(os.environ, "get", get)
    assert gateway.retrieve_payment(intent.payment_intent_id).status == "succeeded"
    assert not [name for name in reads if "proxy" in name.lower()]
    assert len(pool.pools) == 1  # the second call reused the first call's connection pool


def test_stripe_that_accepts_but_never_answers_is_unavailable_after_the_timeout():
    """A read timeout is retried once by the library (same idempotency key), then reported as
    unavailable: the donor is told nobody was charged, not left waiting."""
    import socket
    import threading

    import pytest

    from fundraising.stripe_gateway import GatewayUnavailable, StripeGateway

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        for _ in range(2):
            connection, _address = listener.accept()
            accepted.append(connection)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    gateway = StripeGateway("sk_test_x", None, api_base=base, timeout_seconds=0.3)
    with pytest.raises(GatewayUnavailable):
        gateway.create_payment(**_payment("pm_card_visa", "silent"))
    assert len(accepted) == 2  # the first try and one retry
    for connection in accepted:
        connection.close()
    listener.close()
