"""Webhook intake on PostgreSQL: signed payment_intent.succeeded events, then their replay.

    .venv/bin/python benchmarks/webhook_bench.py [--events 3000] [--racing-copies 0.1]
        [--concurrency 16]

Seeds N pending donations (COPY) and signs N `payment_intent.succeeded` events the way Stripe
does (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "<t>.<payload>")>`). Two phases, from
a client pinned to CPU 1 against gunicorn (and PostgreSQL) pinned to CPU 0:

1. intake: every event once, plus a second copy of a share of them (`--racing-copies`, 10 % by
   default) delivered within a few places of the first, so the copies are often in flight at
   once (Stripe redelivers when an answer is slow). The figure: unique events per second.
2. replay: every event delivered again (Stripe retrying all of them): duplicates per second.

Then it checks that every donation counted exactly once. `--racing-copies 1` sends every
event twice in the intake phase (the harder mix this benchmark used first).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
import seeding

TARGET_EVENTS_PER_SECOND = 300
# Stripe's published example objects (../shared/stripe/ beside the project, as DESIGN.md says).
FIXTURES = Path(
    os.environ.get("STRIPE_FIXTURES", common.ROOT.parent / "shared" / "stripe" / "fixtures3.json")
)


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def example_objects() -> tuple[dict[str, Any], dict[str, Any]]:
    """Stripe's published example PaymentIntent and Event, as the shape to fill in."""
    resources = json.loads(FIXTURES.read_text())["resources"]
    return resources["payment_intent"], resources["event"]


def build_events(drive_id: int, rows: list[tuple[Any, ...]]) -> list[bytes]:
    """One payment_intent.succeeded event per pending donation row."""
    intent_example, event_example = example_objects()
    payloads = []
    created = int(time.time())
    for index, row in enumerate(rows):
        donation_id, amount = row[0], row[2]
        key = hashlib.sha256(donation_id.encode()).hexdigest()[:24]
        intent = copy.deepcopy(intent_example)
        intent.update(
            {
                "id": f"pi_bench{key}",
                "amount": amount,
                "amount_received": amount,
                "currency": "usd",
                "status": "succeeded",
                "client_secret": f"pi_bench{key}_secret_x",
                "latest_charge": f"ch_bench{key}",
                "last_payment_error": None,
                "next_action": None,
                "canceled_at": None,
                "metadata": {"drive_id": str(drive_id), "donation_id": donation_id},
            }
        )
        event = copy.deepcopy(event_example)
        event.update(
            {
                "id": f"evt_bench{index:06d}{key[:12]}",
                "type": "payment_intent.succeeded",
                "created": created,
                "data": {"object": intent},
                "api_version": "2024-06-20",
            }
        )
        payloads.append(json.dumps(event, separators=(",", ":")).encode())
    return payloads


def delivery_order(count: int, racing_share: float, seed: int = 7) -> list[int]:
    """Every event once, and a share of them twice, each copy within a few places of the
    first (so they race)."""
    rng = random.Random(seed)
    doubled = set(rng.sample(range(count), round(count * racing_share)))
    order = [index for index in range(count) for _ in range(2 if index in doubled else 1)]
    window = 8
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        rng.shuffle(chunk)
        order[start : start + window] = chunk
    return order


async def post(port: int, payload: bytes, signature: str) -> tuple[int, bytes]:
    """One POST over a fresh connection (gunicorn's sync workers close after each request)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    head = (
        "POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
        f"Stripe-Signature: {signature}\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    status = int(response.split(b" ", 2)[1])
    body = response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""
    return status, body


async def deliver(
    port: int, payloads: list[bytes], order: list[int], concurrency: int
) -> tuple[float, Counter[str], list[float]]:
    timestamp = int(time.time())
    signatures = [stripe_signature(p, common.WEBHOOK_SECRET, timestamp) for p in payloads]
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(order):
            index = order[position]
            position += 1
            started = time.perf_counter()
            status, body = await post(port, payloads[index], signatures[index])
            latencies.append(time.perf_counter() - started)
            if status != 200:
                outcomes[f"http {status}"] += 1
                continue
            outcomes[json.loads(body).get("outcome", "?")] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, outcomes, latencies


def verify(app: Any, drive_id: int, count: int, expected_raised: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from extensions import db
    from fundraising import services
    from fundraising.models import Donation, DonationStatus, DriveTotals, StripeEvent

    with app.app_context():
        totals = db.session.get(DriveTotals, drive_id)
        assert totals is not None
        events = db.session.scalar(select(func.count()).select_from(StripeEvent))
        succeeded = db.session.scalar(
            select(func.count())
            .select_from(Donation)
            .where(Donation.drive_id == drive_id, Donation.status == DonationStatus.SUCCEEDED)
        )
        raised, donors = services.recount(drive_id)
        return {
            "donors": totals.donors,
            "raised_minor": totals.raised_minor,
            "stripe_events": events,
            "succeeded_donations": succeeded,
            "recount": (raised, donors),
            "ok": totals.donors == count
            and totals.raised_minor == expected_raised
            and events == count
            and succeeded == count
            and (raised, donors) == (expected_raised, count),
        }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Phase:
    """One delivery run: what was sent, how long it took, what the app answered."""

    name: str
    deliveries: int
    seconds: float
    outcomes: Counter[str]
    latencies: list[float]
    server_cpu_seconds: float
    database_cpu_seconds: float

    def figures(self, unique_events: int) -> dict[str, Any]:
        return {
            "deliveries": self.deliveries,
            "unique_events": unique_events,
            "seconds": round(self.seconds, 2),
            "unique_events_per_second": round(unique_events / self.seconds, 1),
            "deliveries_per_second": round(self.deliveries / self.seconds, 1),
            "p50_ms": round(percentile(self.latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies, 0.99) * 1000, 2),
            "server_cpu_ms_per_delivery": round(
                self.server_cpu_seconds * 1000 / self.deliveries, 3
            ),
            "of_which_postgresql_ms": round(self.database_cpu_seconds * 1000 / self.deliveries, 3),
            "outcomes": dict(self.outcomes),
        }


def run_phase(
    name: str,
    port: int,
    payloads: list[bytes],
    order: list[int],
    concurrency: int,
    server_pids: list[int],
) -> Phase:
    common.log(f"{name}: delivering {len(order)} requests")
    cpu_before = common.cpu_seconds(server_pids)
    database_before = common.cpu_seconds(server_pids[1:])
    elapsed, outcomes, latencies = asyncio.run(deliver(port, payloads, order, concurrency))
    return Phase(
        name,
        len(order),
        elapsed,
        outcomes,
        latencies,
        common.cpu_seconds(server_pids) - cpu_before,
        common.cpu_seconds(server_pids[1:]) - database_before,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument(
        "--racing-copies",
        type=float,
        default=0.1,
        help="share of events delivered a second time during intake (0..1)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not 1 <= args.events <= 50_000:
        parser.error("--events must be 1..50000")
    if not 0 <= args.racing_copies <= 1:
        parser.error("--racing-copies must be between 0 and 1")
    # The client is this process: pin it to the client core (gunicorn and PostgreSQL get core 0).
    os.sched_setaffinity(0, {int(common.CLIENT_CPU)})

    procs = common.Processes()
    workdir = procs.tempdir("safepassage-webhook-bench-")
    common.log(common.machine_description())
    server = common.start_postgres(procs)
    env = seeding.app_environment(server.url(), workdir / "instance")
    seeding.migrate(env)
    seeding.apply_environment(env)
    app = seeding.make_app()
    drive_id = seeding.create_drive(app)
    rows, _, _ = seeding.donation_rows(drive_id, args.events, seed=11, status="pending")
    seeding.bulk_insert_donations(app, rows)
    expected_raised = sum(row[2] for row in rows)
    seeding.analyze(app)
    payloads = build_events(drive_id, rows)
    served = common.start_gunicorn(procs, "app:create_app()", env, workdir, "webhook")
    bare = common.start_gunicorn(
        procs, "bare_app:app", env, workdir, "bare", chdir=common.BENCH_DIR
    )
    server_pids = [served.process.pid, common.postmaster_pid(server)]
    try:
        # A reference from the same run: the machine is shared, so absolute rates drift.
        reference = common.run_wrk(bare.base + "/", 5, [bare.process.pid], 16)
        common.log(f"bare route: {reference.requests_per_second:.0f} req/s")
        intake = run_phase(
            "intake",
            served.port,
            payloads,
            delivery_order(len(payloads), args.racing_copies),
            args.concurrency,
            server_pids,
        )
        after_intake = verify(app, drive_id, args.events, expected_raised)
        replay_order = list(range(len(payloads)))
        random.Random(13).shuffle(replay_order)
        replay = run_phase(
            "replay", served.port, payloads, replay_order, args.concurrency, server_pids
        )
        checks = verify(app, drive_id, args.events, expected_raised)
    finally:
        procs.cleanup()
    # Each event applied once in the intake, and every replayed copy answered "duplicate".
    checks["intake_applied"] = intake.outcomes["applied"]
    checks["replay_duplicates"] = replay.outcomes["duplicate"]
    checks["ok"] = (
        checks["ok"]
        and after_intake["ok"]
        and intake.outcomes["applied"] == args.events
        and replay.outcomes["duplicate"] == args.events
    )
    rate = args.events / intake.seconds
    figures = {
        "events": args.events,
        "racing_copies": args.racing_copies,
        "intake": intake.figures(args.events),
        "replay": replay.figures(0),
        "bare_route_requests_per_second": round(reference.requests_per_second, 1),
        "bare_route_server_cpu_ms_per_request": round(reference.server_cpu_ms_per_request, 3),
        "checks": checks,
    }
    print(common.machine_description())
    print(f"client: asyncio, {args.concurrency} concurrent connections, pinned to CPU 1\n")
    print(
        "| phase | deliveries | seconds | unique events/s | deliveries/s | p50 ms | p99 ms "
        "| server CPU ms per delivery (PostgreSQL) | outcomes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for phase, unique in ((intake, args.events), (replay, 0)):
        row = phase.figures(unique)
        print(
            f"| {phase.name} | {phase.deliveries} | {row['seconds']} | "
            f"{row['unique_events_per_second'] if unique else '-'} | "
            f"{row['deliveries_per_second']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['server_cpu_ms_per_delivery']} ({row['of_which_postgresql_ms']}) | "
            f"{row['outcomes']} |"
        )
    print(f"\nbare route in the same run: {reference.requests_per_second:.0f} req/s")
    print(f"checks after intake: {after_intake}")
    print(f"checks after replay: {checks}")
    meets = rate >= TARGET_EVENTS_PER_SECOND
    print(
        f"- intake {rate:.0f} unique events/s ({args.racing_copies:.0%} delivered twice, "
        f"racing): {'meets' if meets else 'MISSES'} the >= {TARGET_EVENTS_PER_SECOND}/s target; "
        f"replay of all {args.events}: {replay.deliveries / replay.seconds:.0f} duplicates/s; "
        f"every donation counted exactly once: {'yes' if checks['ok'] else 'NO'}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if checks["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
