"""Run localstripe (the offline Stripe API) the way this project needs it.

python -m devtools.localstripe_server [--port 0] [--port-file F] [--delay-ms 300]
    [--webhook-url URL --webhook-secret whsec_...] [--stripe-js FILE] [--debits-clear-ms 3000]

Differences from plain `localstripe`, each one so the app sends the same calls it sends to Stripe:
- no pickling of the whole state to /tmp/localstripe.pickle after every change (quadratic, and
  shared by every localstripe on the machine), and lists read per-type indexes instead of
  scanning the whole store (`localstripe_index`), so each call costs the same at any size;
- `--port 0` takes a free port and writes it to --port-file;
- `--delay-ms` adds Stripe's real latency to every API answer, for load tests;
- PaymentIntents accept `receipt_email`, `description`, `statement_descriptor_suffix`,
  `return_url` and `use_stripe_sdk` (localstripe 1.15 refuses them) and keep them;
- PaymentIntents keep `payment_method_types` and `mandate_data`, and refuse, as Stripe does, a
  PaymentMethod of a type the intent does not allow, SEPA Debit in a currency other than EUR,
  and a SEPA Debit confirmed by the server without the donor's mandate;
- a SEPA Debit stays `processing` (its charge `pending`) until the bank "pays": after
  `--debits-clear-ms` (0: never by itself), or at once on `POST /_debits/<pi_...>/clear`;
  then the charge succeeds and `payment_intent.succeeded` is sent, as Stripe does days later
  (localstripe 1.15 calls the intent succeeded at once and only delays the webhook);
- an `Idempotency-Key` replays the first answer, as Stripe does;
- the publishable key may create PaymentMethods, as Stripe.js does with Stripe;
- 4000 0000 0000 0002 is declined when charged, as with Stripe;
- PaymentIntents are listed newest first and filtered by `created` (gt, gte, lt, lte or an
  exact time), as Stripe does (the pending-gift sweep looks an intent up by its metadata);
- `--stripe-js` serves a Stripe.js stand-in (tests/e2e/stripe_shim.js) in place of its own.
Development and tests only: it is a fake, and never runs in production.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources, server, webhooks

from devtools import localstripe_index

EXTRA_INTENT_PARAMS = (
    "receipt_email",
    "description",
    "statement_descriptor_suffix",
    "return_url",
    "use_stripe_sdk",
)
PUBLISHABLE_KEY = "publishable_key"


def _patch_payment_intents() -> None:
    original_init = resources.PaymentIntent.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        extras = {name: kwargs.pop(name) for name in EXTRA_INTENT_PARAMS if name in kwargs}
        original_init(self, *args, **kwargs)
        for name, value in extras.items():
            setattr(self, name, value)

    resources.PaymentIntent.__init__ = init

    original_declined = resources.PaymentMethod._charging_is_declined

    def charging_is_declined(self: Any) -> bool:
        if self.type == "card" and self._card_number == "4000000000000002":
            return True
        return bool(original_declined(self))

    resources.PaymentMethod._charging_is_declined = charging_is_declined


# Stripe's currencies for the delayed methods the app may offer (config.PAYMENT_METHOD_CURRENCIES).
DEBIT_CURRENCIES = {"sepa_debit": "eur"}


def _patch_payment_method_types() -> None:
    """`payment_method_types` and `mandate_data` checked as Stripe checks them, and kept."""
    if getattr(resources.PaymentIntent, "_checks_payment_method_types", False):
        return  # patched once per process: the checks would otherwise see their own defaults
    resources.PaymentIntent._checks_payment_method_types = True
    original_init = resources.PaymentIntent.__init__

    def init(
        self: Any,
        *args: Any,
        payment_method_types: Any = None,
        mandate_data: Any = None,
        **kwargs: Any,
    ) -> None:
        types = payment_method_types or ["card"]
        if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
            raise resources.UserError(400, "payment_method_types must be a list of types")
        if mandate_data is not None and not isinstance(mandate_data, dict):
            raise resources.UserError(400, "mandate_data must be a hash")
        for name, currency in DEBIT_CURRENCIES.items():
            if name in types and kwargs.get("currency") != currency:
                raise resources.UserError(
                    400,
                    f"The currency provided ({kwargs.get('currency')}) is invalid for one or "
                    f"more payment method types: {name} takes {currency} only.",
                )
        method = kwargs.get("payment_method")
        if isinstance(method, str) and method.startswith("pm_"):
            kind = resources.PaymentMethod._api_retrieve(method).type
            if kind not in types:
                raise resources.UserError(
                    400,
                    f"The PaymentMethod provided ({kind}) is not allowed for this "
                    f"PaymentIntent. Use one of: {', '.join(types)}.",
                )
        original_init(self, *args, **kwargs)
        self.payment_method_types = list(types)
        self.mandate_data = mandate_data

    resources.PaymentIntent.__init__ = init
    original_confirm = resources.PaymentIntent._confirm

    def confirm(self: Any, on_failure_now: Any) -> None:
        method = resources.PaymentMethod._api_retrieve(self.payment_method)
        if method.type in DEBIT_CURRENCIES and not _has_online_acceptance(self.mandate_data):
            raise resources.UserError(
                400,
                "mandate_data[customer_acceptance] (online: ip_address and user_agent) is "
                f"required to confirm a {method.type} payment from a server.",
            )
        original_confirm(self, on_failure_now)

    resources.PaymentIntent._confirm = confirm


def _has_online_acceptance(mandate_data: Any) -> bool:
    acceptance = (mandate_data or {}).get("customer_acceptance") or {}
    online = acceptance.get("online") or {}
    return bool(acceptance.get("type") == "online" and online.get("ip_address"))


def _patch_debits(clear_after_seconds: float) -> None:
    """A SEPA Debit charge stays pending (its intent processing) until the bank pays."""
    original_trigger = resources.Charge._trigger_payment

    def trigger_payment(self: Any, on_success: Any = None) -> None:
        if not self._is_async_payment_method():
            original_trigger(self, on_success)
            return
        self.status = "pending"

        def clear() -> None:
            self._clear_debit = None
            transaction = resources.BalanceTransaction(
                amount=self.amount,
                currency=self.currency,
                description=self.description,
                exchange_rate=1.0,
                reporting_category="charge",
                source=self.id,
                type="charge",
            )
            self.balance_transaction = transaction.id
            self.status = "succeeded"
            if on_success:
                on_success()

        self._clear_debit = clear
        if clear_after_seconds:
            asyncio.get_running_loop().call_later(
                clear_after_seconds, lambda: self._clear_debit and self._clear_debit()
            )

    resources.Charge._trigger_payment = trigger_payment


async def clear_debit(request: web.Request) -> web.Response:
    """Test hook: the bank pays a pending SEPA Debit now (the webhook follows)."""
    intent = resources.PaymentIntent._api_retrieve(request.match_info["id"])
    charge = intent.latest_charge
    clear = getattr(charge, "_clear_debit", None) if charge is not None else None
    if clear is None:
        raise resources.UserError(400, "This PaymentIntent has no pending debit.")
    clear()
    answer: web.Response = server.json_response(intent._export())
    return answer


CREATED_BOUNDS = {
    "gt": lambda created, bound: created > bound,
    "gte": lambda created, bound: created >= bound,
    "lt": lambda created, bound: created < bound,
    "lte": lambda created, bound: created <= bound,
}


def _created_filter(created: Any) -> Any:
    """A predicate on an object's `created` for Stripe's `created` list parameter."""
    if isinstance(created, str):
        created = {"eq": created}
    if not isinstance(created, dict) or not created:
        raise resources.UserError(400, "created must be a time or a set of bounds")
    bounds = []
    for name, text in created.items():
        if name not in (*CREATED_BOUNDS, "eq") or not str(text).isdigit():
            raise resources.UserError(400, f"Invalid created[{name}]")
        bounds.append((name, int(text)))

    def matches(obj: Any) -> bool:
        return all(
            obj.created == bound if name == "eq" else CREATED_BOUNDS[name](obj.created, bound)
            for name, bound in bounds
        )

    return matches


def _patch_intent_listing() -> None:
    def list_all(
        cls: type[Any], /, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any
    ) -> Any:
        created = kwargs.pop("created", None)
        matches = _created_filter(created) if created is not None else None
        listing = resources.StripeObject._api_list_all.__func__(
            cls, url, limit=limit, starting_after=starting_after, **kwargs
        )
        intents = listing._list
        if matches is not None:
            intents = [intent for intent in intents if matches(intent)]
        # Stripe lists newest first; the store keeps insertion order (oldest first).
        listing._list = intents[::-1]
        return listing

    resources.PaymentIntent._api_list_all = classmethod(list_all)


def _patch_publishable_key() -> None:
    original = server.get_api_key

    def get_api_key(request: web.Request) -> str | None:
        return original(request) or request.get(PUBLISHABLE_KEY)

    server.get_api_key = get_api_key


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _middlewares(delay_seconds: float, stripe_js: str | None) -> list[Any]:
    answers: dict[str, tuple[int, bytes, str]] = {}

    @web.middleware
    async def latency(request: web.Request, handler: Handler) -> web.StreamResponse:
        if delay_seconds and request.path.startswith("/v1/"):
            await asyncio.sleep(delay_seconds)
        return await handler(request)

    @web.middleware
    async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        cache_key = f"{request.path}:{key}"
        if cache_key in answers:
            status, body, content_type = answers[cache_key]
            return web.Response(
                status=status,
                body=body,
                content_type=content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        payload = response.body if isinstance(response, web.Response) else None
        if isinstance(payload, bytes | bytearray):
            answers[cache_key] = (response.status, bytes(payload), response.content_type)
        return response

    @web.middleware
    async def script(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v1/payment_methods":
            # Stripe.js sends the publishable key in the form body (no preflight needed).
            key = (await request.post()).get("key")
            if isinstance(key, str) and key.startswith("pk_"):
                request[PUBLISHABLE_KEY] = key
        if stripe_js and request.path == "/js.stripe.com/v3/":
            return web.Response(
                text=Path(stripe_js).read_text(encoding="utf-8"),
                content_type="application/javascript",
            )
        return await handler(request)

    return [script, latency, idempotency]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--debits-clear-ms",
        type=int,
        default=3000,
        help="a SEPA Debit clears this long after it is made (0: only through /_debits/...)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420, help="0 takes a free port")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    parser.add_argument("--stripe-js", help="serve this file as Stripe.js")
    args = parser.parse_args()

    localstripe_index.install()
    _patch_payment_intents()
    _patch_intent_listing()
    _patch_publishable_key()
    _patch_payment_method_types()
    _patch_debits(args.debits_clear_ms / 1000)
    server.app.router.add_post("/_debits/{id}/clear", clear_debit)
    for middleware in reversed(_middlewares(args.delay_ms / 1000, args.stripe_js)):
        server.app.middlewares.insert(1, middleware)  # inside the error middleware
    if args.webhook_url and args.webhook_secret:
        webhooks.register_webhook("app", args.webhook_url, args.webhook_secret, None)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    if args.port_file:
        Path(args.port_file).write_text(str(port), encoding="utf-8")
    logging.basicConfig(level=logging.WARNING)
    print(f"localstripe listening on http://{args.host}:{port}", flush=True)
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
