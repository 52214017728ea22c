"""CPU per request of the gift path, in-process: where the app's own time goes.

    .venv/bin/python benchmarks/gift_cpu.py [--backend sqlite|postgresql] [--gifts 300]
        [--profile FILE]

For each gift, as gift_bench.py drives it but without gunicorn or the network in between: the
drive page (Flask's test client), a PaymentMethod at our localstripe wrapper (not measured),
POST /donate, and the `payment_intent.succeeded` webhook for the intent, signed as Stripe
signs it. `time.process_time()` around each request gives this process's CPU (the app, and
SQLite when that is the database; PostgreSQL's own CPU is not in it). The first 20 gifts warm
up and are not counted. With --profile, a cProfile of the measured requests (by CPU time) is
written to FILE for `python -m pstats FILE`. Checks that every gift succeeded and that the
drive's total equals the gifts made.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the project root on sys.path)
import requests
import seeding

from tests import postgres
from tests.conftest import create_payment_method, start_localstripe
from tests.fundraising import stripe_objects

WARM_UP = 20
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET = {"Authorization": "Bearer sk_test_localstripe"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--gifts", type=int, default=300)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gift-cpu-"))
    stripe, base = start_localstripe(folder)
    server = postgres.start_server() if args.backend == "postgresql" else None
    try:
        url = server.url() if server else f"sqlite:///{folder / 'app.db'}"
        env = seeding.app_environment(url, folder / "instance")
        seeding.migrate(env)
        seeding.apply_environment(env)
        os.environ.update(  # the Stripe stand-in, and one trusted proxy as in production
            STRIPE_SECRET_KEY="sk_test_localstripe",  # noqa: S106  (localstripe's, not a secret)
            STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
            STRIPE_API_BASE=base,
            STRIPE_WEBHOOK_SECRET=stripe_objects.WEBHOOK_SECRET,
            TRUSTED_PROXIES="1",
        )
        app = seeding.make_app()
        seeding.create_drive(app, "cpu")
        cpu = {"page": 0.0, "donate": 0.0, "webhook": 0.0}
        profile = cProfile.Profile(time.process_time)

        def timed(name: str, counted: bool, call: Callable[[], Any]) -> Any:
            if counted and args.profile:
                profile.enable()
            start = time.process_time()
            result = call()
            cpu[name] += (time.process_time() - start) if counted else 0.0
            if counted and args.profile:
                profile.disable()
            return result

        for number in range(args.gifts + WARM_UP):
            counted = number >= WARM_UP
            client = app.test_client()
            headers = {"X-Forwarded-For": f"10.0.{number // 250}.{number % 250}"}
            method = create_payment_method(base)
            page = timed("page", counted, partial(client.get, "/drives/cpu", headers=headers))
            token = CSRF.search(page.get_data(as_text=True))
            assert token, "the drive page carries its CSRF token"
            form = {"csrf_token": token.group(1), "amount": "10.00", "payment_method": method}
            post = partial(
                client.post,
                "/drives/cpu/donate",
                data=form,
                headers={**headers, "Accept": "application/json"},
            )
            answer = timed("donate", counted, post).get_json()
            assert answer.get("status") == "succeeded", answer
            intent_id = answer["client_secret"].split("_secret_")[0]
            intent = requests.get(
                f"{base}/v1/payment_intents/{intent_id}", headers=SECRET, timeout=10
            )
            event = stripe_objects.event("payment_intent.succeeded", intent.json())
            deliver = partial(stripe_objects.deliver, app.test_client(), event)
            assert timed("webhook", counted, deliver).status_code == 200
        progress = app.test_client().get("/drives/cpu/progress.json").get_json()
        gifts = args.gifts + WARM_UP
        assert (progress["raised_minor"], progress["donors"]) == (gifts * 1000, gifts)
        figures = {name: round(seconds * 1000 / args.gifts, 2) for name, seconds in cpu.items()}
        print(
            f"{args.backend}, {args.gifts} gifts: CPU ms per request {figures}, "
            f"total {round(sum(figures.values()), 2)} ms per gift; totals exact"
        )
        if args.profile:
            profile.dump_stats(args.profile)
    finally:
        stripe.terminate()
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
