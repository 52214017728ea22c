"""/metrics: only for METRICS_ALLOW, counting gifts, webhooks, Stripe and the audit chain,
and never naming a donor, a case or a staff member."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select, text

import audit
from accounts.models import Role
from cases.models import Case
from config import ConfigError, load_config, metrics_allow
from extensions import db
from fundraising.stripe_gateway import (
    GatewayUnavailable,
    PaymentDeclined,
    PaymentResult,
    PooledHTTPClient,
    StripeGateway,
)
from security import jobs, metrics
from tests import redis_server
from tests.cases.conftest import INTAKE, Person
from tests.factories import make_drive
from tests.fundraising import stripe_objects

PAGE = "/drives/relocation"
INSIDE = {"REMOTE_ADDR": "127.0.0.1"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
DONOR_EMAIL = "farida.okonkwo-lindqvist@example.org"
DONOR_NAME = "Farida Okonkwo-Lindqvist"
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", re.M)


class ScriptedGateway(StripeGateway):
    """Stripe answering each gift as the test says: succeeded, requires_action, declined..."""

    def __init__(self) -> None:
        super().__init__(None, stripe_objects.WEBHOOK_SECRET)
        self.answers: list[str] = []

    def create_payment(self, **payment: Any) -> PaymentResult:
        answer = self.answers.pop(0)
        if answer == "declined":
            raise PaymentDeclined("Your card was declined.", stripe_objects.new_id("pi"))
        if answer == "unreachable":
            raise GatewayUnavailable("Stripe could not be reached")
        intent = stripe_objects.payment_intent(
            stripe_objects.new_id("pi"),
            amount=payment["amount_minor"],
            metadata=payment["metadata"],
            status=answer,
        )
        return PaymentResult.from_stripe(intent)


def samples(body: str) -> dict[str, float]:
    """Every sample line of an exposition, by name and labels."""
    return {name + (labels or ""): float(value) for name, labels, value in SAMPLE.findall(body)}


def scrape(app) -> dict[str, float]:
    response = app.test_client().get("/metrics", environ_base=INSIDE)
    assert response.status_code == 200
    return samples(response.get_data(as_text=True))


def moved(before: dict[str, float], after: dict[str, float], key: str) -> float:
    return after.get(key, 0) - before.get(key, 0)


def give(app, **fields: str) -> Any:
    gift = {"amount": "25.00", "payment_method": "pm_card_visa", **fields}
    return app.test_client().post(PAGE + "/donate", data=gift)


@pytest.mark.parametrize("allow", ["", "10.0.0.0/8", "127.0.0.2,::1"])
def test_metrics_is_a_404_to_an_address_outside_metrics_allow(make_app, allow):
    app = make_app(METRICS_ALLOW=allow)
    response = app.test_client().get("/metrics", environ_base=INSIDE)
    assert response.status_code == 404
    assert "gifts_total" not in response.get_data(as_text=True)


def test_metrics_is_a_404_from_outside_a_network_that_is_allowed(make_app):
    app = make_app(METRICS_ALLOW="127.0.0.1/32")
    assert app.test_client().get("/metrics", environ_base=OUTSIDE).status_code == 404


@pytest.mark.parametrize(
    ("allow", "address"),
    [("127.0.0.1/32", "127.0.0.1"), ("10.0.0.0/8, 127.0.0.1", "127.0.0.1"), ("::1", "::1")],
)
def test_metrics_answers_an_allowed_address_without_cookies(make_app, allow, address):
    app = make_app(METRICS_ALLOW=allow)
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "# TYPE gifts_total counter" in body
    assert samples(body)["jobs_queue_depth"] == 0  # no Redis: jobs run in the request


def test_metrics_trusts_the_address_proxyfix_gives(make_app):
    app = make_app(METRICS_ALLOW="192.0.2.10", TRUSTED_PROXIES=1)
    client = app.test_client()
    through_proxy = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.10"}
    assert client.get("/metrics", environ_base=through_proxy).status_code == 200
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.10, 198.51.100.7"}
    assert client.get("/metrics", environ_base=spoofed).status_code == 404


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not redis_server.is_installed():
        pytest.skip("redis-server not found (install the redis-server package)")
    with redis_server.running(Path(tmp_path_factory.mktemp("redis"))) as url:
        yield url


def test_the_job_queue_depth_is_read_from_redis_at_each_scrape(make_app, redis_url):
    app = make_app(METRICS_ALLOW="127.0.0.1/32", JOBS_REDIS_URL=redis_url)
    with app.app_context():
        queue = jobs.queue()
        queue.empty()
        assert scrape(app)["jobs_queue_depth"] == 0
        for number in range(3):
            queue.enqueue(jobs.perform, "no.such.task", number)
        values = scrape(app)
        queue.empty()
    assert values["jobs_queue_depth"] == 3
    assert values["jobs_queue_up"] == 1


def test_a_redis_that_does_not_answer_is_reported_not_a_failed_scrape(make_app):
    app = make_app(METRICS_ALLOW="127.0.0.1/32", JOBS_REDIS_URL="redis://127.0.0.1:1/0")
    values = scrape(app)
    assert values["jobs_queue_up"] == 0
    assert "jobs_queue_depth" not in values


def test_gifts_are_counted_by_outcome(make_app):
    gateway = ScriptedGateway()
    app = make_app(METRICS_ALLOW="127.0.0.1/32", STRIPE_GATEWAY=gateway)
    make_drive(app)
    before = scrape(app)
    gateway.answers = ["succeeded", "succeeded", "declined", "requires_action", "unreachable"]
    statuses = [give(app).status_code for _ in range(5)]
    assert statuses == [200, 200, 400, 200, 503]
    after = scrape(app)
    assert moved(before, after, 'gifts_total{outcome="succeeded"}') == 2
    assert moved(before, after, 'gifts_total{outcome="failed"}') == 1
    assert moved(before, after, 'gifts_total{outcome="requires_action"}') == 1
    assert moved(before, after, 'gifts_total{outcome="error"}') == 1


def test_webhook_deliveries_are_counted_by_handled_type_and_outcome(make_app):
    app = make_app(METRICS_ALLOW="127.0.0.1/32")
    client = app.test_client()
    before = scrape(app)
    intent = stripe_objects.payment_intent(stripe_objects.new_id("pi"), amount=2500)
    event = stripe_objects.event("payment_intent.succeeded", intent)
    assert stripe_objects.deliver(client, event).get_json()["outcome"] == "unmatched"
    assert stripe_objects.deliver(client, event).get_json()["outcome"] == "duplicate"
    assert stripe_objects.deliver(client, event, header="t=1,v1=forged").status_code == 400
    odd = stripe_objects.event("customer.created_by_someone_odd", {"id": "cus_123"})
    assert stripe_objects.deliver(client, odd).get_json()["outcome"] == "ignored"
    after = scrape(app)
    succeeded = 'webhook_events_total{outcome="%s",type="payment_intent.succeeded"}'
    assert moved(before, after, succeeded % "unmatched") == 1
    assert moved(before, after, succeeded % "duplicate") == 1
    assert moved(before, after, 'webhook_events_total{outcome="ignored",type="other"}') == 1
    assert moved(before, after, 'webhook_events_total{outcome="invalid_signature",type="other"}')
    assert "customer.created_by_someone_odd" not in app.test_client().get(
        "/metrics", environ_base=INSIDE
    ).get_data(as_text=True)


def test_the_last_audit_verify_is_reported(make_app):
    app = make_app(METRICS_ALLOW="127.0.0.1/32")
    runner = app.test_cli_runner()
    assert "audit_chain_ok" not in scrape(app)  # never verified yet: no value, not a guess
    with app.app_context():
        audit.record(None, "test.action", "thing", 1, count=1)
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    intact = scrape(app)
    assert intact["audit_chain_ok"] == 1
    assert intact["audit_chain_verified_timestamp_seconds"] > 0
    with app.app_context():
        db.session.execute(text("UPDATE audit_records SET details = :d"), {"d": '{"count":9}'})
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code != 0
    assert scrape(app)["audit_chain_ok"] == 0


def test_stripe_calls_are_timed_and_their_failures_counted_by_kind():
    before = samples(generate_latest(metrics.REGISTRY).decode())
    client = PooledHTTPClient("https://api.stripe.com", 5)
    client._pool = StripeAnswering(402)  # type: ignore[assignment]
    client.request("post", "https://api.stripe.com/v1/payment_intents", {}, b"")
    client._pool = StripeAnswering(503)  # type: ignore[assignment]
    client.request("get", "https://api.stripe.com/v1/payouts/po_123", {}, None)
    after = samples(generate_latest(metrics.REGISTRY).decode())
    assert moved(before, after, 'stripe_errors_total{kind="card_declined"}') == 1
    assert moved(before, after, 'stripe_errors_total{kind="server_error"}') == 1
    assert moved(before, after, 'stripe_request_seconds_count{resource="payment_intents"}') == 1
    assert moved(before, after, 'stripe_request_seconds_count{resource="payouts"}') == 1
    assert "po_123" not in generate_latest(metrics.REGISTRY).decode()


@dataclass
class StripeAnswering:
    """Stands in for the connection pool: every call answered with one HTTP status."""

    status: int
    data: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, *_args: Any, **_kwargs: Any) -> StripeAnswering:
        return self


def test_metrics_name_no_donor_case_staff_member_or_address(make_app, clock):
    gateway = ScriptedGateway()
    app = make_app(METRICS_ALLOW="127.0.0.1/32", STRIPE_GATEWAY=gateway)
    make_drive(app)
    worker = Person(app, clock, Role.CASEWORKER, "caseworker.metrics@example.org")
    case_id = worker.create_case()
    with app.app_context():
        code = db.session.scalar(select(Case.code).where(Case.id == case_id))
    gateway.answers = ["succeeded", "declined"]
    for _ in range(2):
        give(app, email=DONOR_EMAIL, name=DONOR_NAME)
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    body = app.test_client().get("/metrics", environ_base=INSIDE).get_data(as_text=True)
    assert code
    assert code not in body
    for secret in (DONOR_EMAIL, DONOR_NAME, "Farida", worker.email, INTAKE["legal_name"]):
        assert secret.casefold() not in body.casefold()
    assert "@" not in body
    assert not re.search(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", body)  # no IPv4 address
    assert "relocation" not in body  # nor the drive's slug
    assert not re.search(r"\bRC-[A-Z0-9]{4}\b", body)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("10.0.0.0/33", "'10.0.0.0/33'"),
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("127.0.0.1, prometheus.internal", "'prometheus.internal'"),
        ("not-an-address", "'not-an-address'"),
    ],
)
def test_a_bad_metrics_allow_stops_start_up_naming_it(tmp_path, monkeypatch, value, named):
    monkeypatch.setenv("METRICS_ALLOW", value)
    monkeypatch.setenv("APP_ENV", "development")
    with pytest.raises(ConfigError, match="METRICS_ALLOW") as refused:
        load_config(tmp_path)
    assert named in str(refused.value)


def test_metrics_allow_reads_addresses_and_networks():
    networks = metrics_allow(" 127.0.0.1 , 10.0.0.0/8,,::1")
    assert [str(network) for network in networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert metrics_allow("") == ()
