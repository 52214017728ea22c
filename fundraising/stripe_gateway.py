"""The one place that talks to Stripe. It returns our own small types and raises our errors."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
import urllib3
from flask import current_app

from security import metrics

log = logging.getLogger(__name__)


class GatewayUnavailable(RuntimeError):
    """Stripe could not be reached or did not answer in time: nobody was charged by us."""


class PaymentDeclined(RuntimeError):
    """The card was declined; the message is Stripe's (English), safe to show the donor, and
    `code` Stripe's reason (its decline_code, else its error code), so the page can say it in
    the donor's language."""

    def __init__(
        self, message: str, payment_intent_id: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.payment_intent_id = payment_intent_id
        self.code = code


class GatewayRejected(RuntimeError):
    """Stripe refused the request itself (bad parameters, bad key)."""


class InvalidSignature(ValueError):
    """A webhook whose signature is missing, wrong or too old."""


@dataclass(frozen=True)
class PaymentResult:
    """The parts of a PaymentIntent the app uses."""

    payment_intent_id: str
    status: str
    amount_minor: int
    currency: str
    client_secret: str | None = None
    charge_id: str | None = None
    error_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    receipt_email: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_stripe(cls, intent: Any) -> PaymentResult:
        """Build from a PaymentIntent as the API or a webhook gives it (object or dict)."""
        data = intent if isinstance(intent, dict) else intent.to_dict()
        charge = data.get("latest_charge")
        if isinstance(charge, dict):
            charge = charge.get("id")
        error = data.get("last_payment_error") or {}
        return cls(
            payment_intent_id=data["id"],
            status=data["status"],
            amount_minor=int(data["amount"]),
            currency=str(data["currency"]).lower(),
            client_secret=data.get("client_secret"),
            charge_id=charge,
            error_message=error.get("message"),
            metadata=dict(data.get("metadata") or {}),
            receipt_email=data.get("receipt_email"),
            created_at=(
                datetime.fromtimestamp(int(data["created"]), UTC) if data.get("created") else None
            ),
        )


@dataclass(frozen=True)
class OnlineMandate:
    """The donor's acceptance, on the form, of a bank-debit mandate (SEPA): Stripe needs the
    address and browser it was given from when the server confirms. Sent to Stripe only."""

    ip_address: str
    user_agent: str


def current_gateway() -> StripeGateway:
    """The gateway built in create_app (tests may hand in another with STRIPE_GATEWAY)."""
    gateway: StripeGateway = current_app.extensions["stripe_gateway"]
    return gateway


INTENT_ID = re.compile(r"pi_[A-Za-z0-9_]{1,250}")
# Enough pooled connections for every gunicorn thread of a worker (gunicorn.conf.py).
POOLED_CONNECTIONS = 32


class PooledHTTPClient(stripe.HTTPClient):
    """Stripe's HTTP transport on one urllib3 connection pool per worker, shared by its threads.

    The library's RequestsClient spent more CPU in requests' session machinery (merging
    settings, building and preparing a request, adapters) than urllib3 spends sending the call
    and reading the answer: about 1.5 ms of the 13 ms a gift costs. The proxy, if any, is read
    from the environment once, here. Errors become the library's APIConnectionError, retryable
    for timeouts and refused or dropped connections, as RequestsClient does, so the library's
    retry (with the same idempotency key) and our GatewayUnavailable behave as before. Each
    try is timed and each failure counted for /metrics (security/metrics.py), by resource and
    kind only."""

    name = "urllib3"

    def __init__(self, api_base: str, timeout_seconds: float) -> None:
        super().__init__()
        self._timeout = urllib3.Timeout(connect=min(timeout_seconds, 10.0), read=timeout_seconds)
        host = urllib.parse.urlsplit(api_base).hostname or ""
        proxy = urllib.request.getproxies().get(urllib.parse.urlsplit(api_base).scheme)
        options: dict[str, Any] = {
            "num_pools": 2,
            "maxsize": POOLED_CONNECTIONS,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": stripe.ca_bundle_path,
        }
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options)
            if proxy and not urllib.request.proxy_bypass(host)
            else urllib3.PoolManager(**options)
        )

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:  # the body as bytes, as RequestsClient gives it
        resource = _resource(url)
        started = time.perf_counter()
        try:
            response = self._request(method, url, headers, post_data)
        finally:
            metrics.observe_stripe_request(resource, time.perf_counter() - started)
        if response[1] >= 400:
            metrics.count_stripe_error(_error_kind(response[1]))
        return response

    def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any
    ) -> tuple[Any, int, Mapping[str, str]]:
        try:
            response = self._pool.request(
                method.upper(),
                url,
                body=post_data,
                headers=dict(headers or {}),
                timeout=self._timeout,
                retries=False,  # the library retries, idempotently, when it should
                redirect=False,
            )
        except urllib3.exceptions.SSLError as error:
            metrics.count_stripe_error("unreachable")
            raise stripe.APIConnectionError(
                "Stripe's certificate did not verify", should_retry=False
            ) from error
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as error:
            timed_out = isinstance(error, urllib3.exceptions.TimeoutError)
            metrics.count_stripe_error("timeout" if timed_out else "unreachable")
            raise stripe.APIConnectionError(
                f"Stripe did not answer ({type(error).__name__})", should_retry=True
            ) from error
        except urllib3.exceptions.HTTPError as error:
            metrics.count_stripe_error("unreachable")
            raise stripe.APIConnectionError(
                f"Stripe could not be reached ({type(error).__name__})", should_retry=False
            ) from error
        return response.data, response.status, response.headers

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        raise NotImplementedError("nothing here streams from Stripe")

    def close(self) -> None:
        self._pool.clear()


def _resource(url: str) -> str:
    """The API resource a call is about (/v1/payment_intents/pi_... is payment_intents): a
    metric's label, never the object's id."""
    parts = urllib.parse.urlsplit(url).path.strip("/").split("/")
    return parts[1] if len(parts) > 1 else ""


def _error_kind(status: int) -> str:
    """What kind of failure Stripe's HTTP status says it was (Stripe's documented codes)."""
    kinds = {402: "card_declined", 401: "authentication", 403: "authentication"}
    if status in kinds:
        return kinds[status]
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "invalid_request"


class StripeGateway:
    """Stripe through its official library, pointed at Stripe or at localstripe."""

    def __init__(
        self,
        secret_key: str | None,
        webhook_secret: str | None,
        api_base: str | None = None,
        timeout_seconds: float = 20.0,
    ) -> None:
        self.webhook_secret = webhook_secret
        self._client: stripe.StripeClient | None = None
        if secret_key:
            self._client = stripe.StripeClient(
                secret_key,
                base_addresses={"api": api_base} if api_base else None,
                max_network_retries=1,
                http_client=PooledHTTPClient(api_base or stripe.DEFAULT_API_BASE, timeout_seconds),
            )

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            raise GatewayUnavailable("Stripe is not configured (STRIPE_SECRET_KEY is not set)")
        return self._client

    def create_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
        receipt_email: str | None,
        description: str,
        statement_descriptor_suffix: str | None,
        return_url: str,
        payment_method_types: Sequence[str] = ("card",),
        mandate: OnlineMandate | None = None,
    ) -> PaymentResult:
        """Create and confirm a PaymentIntent in one call (Stripe's finalise-on-server flow):
        the payment method the page's Elements made, of one of the types the page offered."""
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency,
            "payment_method": payment_method,
            "payment_method_types": list(payment_method_types),
            "confirm": True,
            "use_stripe_sdk": True,
            "return_url": return_url,
            "metadata": metadata,
            "description": description,
        }
        if receipt_email:
            params["receipt_email"] = receipt_email
        if statement_descriptor_suffix:
            params["statement_descriptor_suffix"] = statement_descriptor_suffix
        if mandate is not None:
            online = {"ip_address": mandate.ip_address, "user_agent": mandate.user_agent}
            params["mandate_data"] = {"customer_acceptance": {"type": "online", "online": online}}
        try:
            # A raw request answers plain data: building the library's object tree for an
            # intent cost more CPU than the rest of the call (PaymentResult reads a dict).
            intent = self.client.raw_request(
                "post", "/v1/payment_intents", idempotency_key=idempotency_key, **params
            ).data
        except stripe.CardError as error:
            body = error.json_body if isinstance(error.json_body, dict) else {}
            details = body.get("error") or {}
            intent_id = (details.get("payment_intent") or {}).get("id")
            raise PaymentDeclined(
                error.user_message or "Your card was declined.",
                intent_id,
                details.get("decline_code") or error.code,
            ) from error
        except stripe.APIConnectionError as error:
            raise GatewayUnavailable("Stripe could not be reached") from error
        except stripe.RateLimitError as error:
            raise GatewayUnavailable("Stripe is rate limiting requests") from error
        except stripe.APIError as error:
            raise GatewayUnavailable("Stripe answered with a server error") from error
        except stripe.StripeError as error:
            log.warning("Stripe refused a payment request: %s", type(error).__name__)
            raise GatewayRejected(error.user_message or "The payment was refused.") from error
        return PaymentResult.from_stripe(intent)

    def retrieve_payment(self, payment_intent_id: str) -> PaymentResult:
        """Fetch a PaymentIntent's current state."""
        if not INTENT_ID.fullmatch(payment_intent_id):
            raise GatewayRejected("Stripe does not know this payment")
        try:
            intent = self.client.raw_request("get", f"/v1/payment_intents/{payment_intent_id}").data
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            raise GatewayUnavailable("Stripe could not be reached") from error
        except stripe.StripeError as error:
            raise GatewayRejected("Stripe does not know this payment") from error
        return PaymentResult.from_stripe(intent)

    def find_payment(
        self, donation_id: str, created_from: int, created_to: int
    ) -> PaymentResult | None:
        """The PaymentIntent made for a donation whose answer never reached us (a timeout, a
        crash): found by its `donation_id` metadata among the intents created in the window
        (Unix times). None when Stripe has none: then nobody was charged."""
        params = {"limit": 100, "created": {"gte": created_from, "lte": created_to}}
        for intent in self._paginate(self.client.v1.payment_intents.list, params):
            if (intent.get("metadata") or {}).get("donation_id") == donation_id:
                return PaymentResult.from_stripe(intent)
        return None

    def list_payments(self, created_since: int) -> Iterator[PaymentResult]:
        """Every PaymentIntent created since a Unix time, newest first, page by page."""
        params = {"limit": 100, "created": {"gte": created_since}}
        for intent in self._paginate(self.client.v1.payment_intents.list, params):
            yield PaymentResult.from_stripe(intent)

    def retrieve_payout(self, payout_id: str) -> dict[str, Any]:
        """A payout as plain data."""
        try:
            payout = self.client.v1.payouts.retrieve(payout_id)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            raise GatewayUnavailable("Stripe could not be reached") from error
        except stripe.StripeError as error:
            raise GatewayRejected("Stripe does not know this payout") from error
        return dict(payout.to_dict())

    def list_payouts(self, created_since: int | None = None) -> Iterator[dict[str, Any]]:
        """Every payout (created since a Unix time), newest first, page by page."""
        params: dict[str, Any] = {"limit": 100}
        if created_since is not None:
            params["created"] = {"gte": created_since}
        yield from self._paginate(self.client.v1.payouts.list, params)

    def list_balance_transactions(self, payout_id: str) -> Iterator[dict[str, Any]]:
        """The balance transactions of one payout with their sources, page by page."""
        params = {"payout": payout_id, "limit": 100, "expand": ["data.source"]}
        yield from self._paginate(self.client.v1.balance_transactions.list, params)

    def _paginate(self, method: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            page = method(params=params)
            for item in page.auto_paging_iter():
                yield dict(item.to_dict())
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            raise GatewayUnavailable("Stripe could not be reached") from error
        except stripe.StripeError as error:
            raise GatewayRejected("Stripe refused the listing") from error

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Check the Stripe-Signature header (and its age); return the event as plain data."""
        if not signature or not self.webhook_secret:
            raise InvalidSignature("missing signature")
        try:
            # The library's own check (HMAC-SHA256, constant-time compare, 5-minute tolerance);
            # construct_event would also build a StripeObject tree that nothing here reads.
            stripe.WebhookSignature.verify_header(
                payload, signature, self.webhook_secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidSignature("signature does not verify") from error
        if not isinstance(event, dict):
            raise InvalidSignature("not an event")
        return event
