"""Finance: sync and match 100,000 Stripe balance transactions; the /finance/ dashboard over
50 drives and 1,000,000 donations. On SQLite and PostgreSQL.

    .venv/bin/python benchmarks/finance_bench.py [--db sqlite|postgresql|both] [--lines 100000]
        [--payouts 10] [--drives 50] [--donations 1000000] [--requests 30]

For each database: migrate a fresh one (`flask db upgrade`, the real indexes), bulk-insert the
gifts the balance transactions belong to (10 drives, one in EUR settling in USD), then run
`finance.reconcile.sync_since` in a child process against `generated_stripe.GeneratedStripe`, a
reader that serves the payouts and their lines built from Stripe's recorded example objects.
The child reports its wall time and its peak memory (VmHWM from /proc/self/status: the peak of
its own address space since exec; getrusage's ru_maxrss would not do, as Linux carries it
across fork and exec, so it reported the parent's size after seeding), then syncs again to time
the idempotent re-run. The parent then checks every line is stored and matched as expected,
seeds the rest of the 1,000,000 donations over 50 drives (DriveTotals moved to match), and
times GET /finance/ with the Flask test client as a signed-in finance user (p50/p95/max after a
warm-up): routing, the session, the ledger, payouts, unmatched lines, requests waiting, the
template.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import seeding
from generated_stripe import (
    SYNC_DRIVES,
    GeneratedStripe,
    expected_counts,
    gift_amount,
    is_euro,
)
from staff import login, make_staff

TARGET_SYNC_SECONDS = 60.0
TARGET_SYNC_MB = 500.0
TARGET_DASHBOARD_MS = 200.0
# --- the child: sync, timed, with its own peak memory ------------------------------------------


def peak_memory_mb() -> float:
    """This process's peak resident memory since it started (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status")


def sync_phase(lines: int, payouts: int) -> int:
    from app import create_app
    from extensions import db
    from finance import reconcile

    app = create_app({"RATELIMIT_ENABLED": False})
    reader = GeneratedStripe(lines, payouts)
    with app.app_context():
        started = time.perf_counter()
        synced = reconcile.sync_since(reader, None)
        first = time.perf_counter() - started
        balanced = sum(1 for payout in synced if payout.is_balanced)
        db.session.remove()
        peak_first = peak_memory_mb()
        started = time.perf_counter()
        reconcile.sync_since(reader, None)
        again = time.perf_counter() - started
    peak = peak_memory_mb()
    print(
        json.dumps(
            {
                "seconds": first,
                "again_seconds": again,
                "peak_mb_first": peak_first,
                "peak_mb": peak,
                "balanced": balanced,
                "payouts": len(synced),
            }
        )
    )
    return 0


# --- the parent: databases, seeding, checks, the dashboard -------------------------------------


def create_drive(app: Any, slug: str, currency: str = "usd") -> int:
    from extensions import db
    from fundraising import drives

    moment = datetime.now(UTC)
    with app.app_context():
        drive = drives.create_drive(
            slug=slug,
            title=f"Relocation drive {slug}",
            goal_minor=6_000_000,
            currency=currency,
            starts_at=moment - timedelta(days=2),
            ends_at=moment + timedelta(days=30),
            story="Flights, visas and a safe flat.",
        )
        db.session.commit()
        return int(drive.id)


def seed_sync_gifts(app: Any, drive_ids: list[int], count: int) -> None:
    """The gifts the generated charge lines belong to (pi_bench_k / ch_bench_k)."""
    base = datetime.now(UTC) - timedelta(days=1)
    for start in range(0, count, 100_000):
        rows = []
        totals: dict[int, int] = {}
        for k in range(start, min(count, start + 100_000)):
            drive_id = drive_ids[k % SYNC_DRIVES]
            amount = gift_amount(k)
            created = base + timedelta(seconds=k % 86000)
            rows.append(
                (
                    str(uuid.UUID(int=k + 1, version=4)),
                    drive_id,
                    amount,
                    0,
                    "eur" if is_euro(k) else "usd",
                    "succeeded",
                    f"pi_bench_{k:08d}",
                    f"ch_bench_{k:08d}",
                    None,
                    None,
                    True,
                    0,
                    0,
                    created,
                    created,
                    created,
                )
            )
            totals[drive_id] = totals.get(drive_id, 0) + amount
        rows.sort()
        seeding.bulk_insert_donations(app, rows)
        for drive_id, raised in totals.items():
            seeding.add_to_totals(app, drive_id, raised, 0)


def check_sync(app: Any, lines: int, payouts: int, eur_drive: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from extensions import db
    from finance.models import BalanceTransaction, DriveLedger, Payout

    with app.app_context():
        counts = dict(
            db.session.execute(
                select(BalanceTransaction.match_status, func.count()).group_by(
                    BalanceTransaction.match_status
                )
            ).all()
        )
        stored_payouts = db.session.scalar(select(func.count()).select_from(Payout))
        eur_fees = db.session.get(DriveLedger, eur_drive).fees_minor
    expected = expected_counts(lines, payouts)
    if counts != expected or stored_payouts != payouts or eur_fees <= 0:
        raise SystemExit(f"sync stored {counts} in {stored_payouts} payouts, expected {expected}")
    return counts


def add_requests(app: Any, drive_ids: list[int], requester_id: int, count: int) -> None:
    from accounts.models import User
    from extensions import db
    from finance import services
    from finance.models import Category

    with app.app_context():
        requester = db.session.get(User, requester_id)
        for n in range(count):
            services.request_disbursement(
                case_id=str(uuid.uuid4()),
                case_code=f"RC-{n:04d}",
                drive_id=drive_ids[n % len(drive_ids)],
                category=list(Category)[n % len(Category)],
                amount_minor=10_000 + n,
                payee_enc=None,
                note_enc=None,
                requester=requester,
            )
        db.session.commit()


def measure(client: Any, url: str, requests: int, expect: str) -> list[float]:
    for _ in range(5):  # warm-up: templates compiled, caches filled
        client.get(url)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or expect not in response.get_data(as_text=True):
            raise SystemExit(f"{url} answered {response.status_code}")
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_database(kind: str, args: argparse.Namespace) -> bool:
    procs = common.Processes()
    folder = procs.tempdir(f"finance-bench-{kind}-")
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        url = str(common.start_postgres(procs).url())
    env = seeding.app_environment(url, folder / "instance")
    common.log(f"{kind}: migrating")
    seeding.migrate(env)
    seeding.apply_environment(env)
    from app import create_app

    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    sync_drives = [
        create_drive(app, f"sync-{n}", "eur" if n == 0 else "usd") for n in range(SYNC_DRIVES)
    ]
    gifts = GeneratedStripe(args.lines, args.payouts).per_payout * args.payouts
    common.log(f"{kind}: seeding {gifts} gifts for the balance transactions")
    seed_sync_gifts(app, sync_drives, gifts)
    seeding.analyze(app)

    common.log(f"{kind}: syncing {args.lines} balance transactions in {args.payouts} payouts")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            "sync",
            "--lines",
            str(args.lines),
            "--payouts",
            str(args.payouts),
        ],
        env=env,
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if child.returncode != 0:
        raise SystemExit(f"sync failed:\n{child.stderr[-4000:]}")
    sync = json.loads(child.stdout.strip().splitlines()[-1])
    counts = check_sync(app, args.lines, args.payouts, sync_drives[0])

    other_drives = [create_drive(app, f"drive-{n}") for n in range(args.drives - SYNC_DRIVES)]
    rest = args.donations - gifts
    usd_drives = sync_drives[1:] + other_drives
    common.log(f"{kind}: seeding {rest} more donations over {len(usd_drives)} drives")
    for index, drive_id in enumerate(usd_drives):
        share = rest // len(usd_drives) + (1 if index < rest % len(usd_drives) else 0)
        seeding.seed_in_batches(app, drive_id, share, seed=index * 1_000_003)
    seeding.analyze(app)
    caseworker = make_staff(app, "caseworker@example.org", "caseworker")
    make_staff(app, "finance@example.org", "finance")
    add_requests(app, sync_drives + other_drives, caseworker, 200)

    client = app.test_client()
    login(app, client, "finance@example.org")
    samples = measure(client, "/finance/", args.requests, "Restricted funds by drive")

    sync_ok = sync["seconds"] < TARGET_SYNC_SECONDS and sync["peak_mb"] < TARGET_SYNC_MB
    p95 = percentile(samples, 0.95)
    dash_ok = p95 < TARGET_DASHBOARD_MS
    print(f"== {kind} ==")
    print(
        f"sync {args.lines} balance transactions ({args.payouts} payouts; {counts}): "
        f"{sync['seconds']:.1f} s, peak RSS {sync['peak_mb_first']:.0f} MB "
        f"(target < {TARGET_SYNC_SECONDS:.0f} s, < {TARGET_SYNC_MB:.0f} MB: "
        f"{'ok' if sync_ok else 'MISSED'}); {sync['balanced']}/{sync['payouts']} payouts "
        f"balanced; re-run (nothing new) {sync['again_seconds']:.1f} s, "
        f"peak RSS after both {sync['peak_mb']:.0f} MB"
    )
    print(
        f"GET /finance/ ({args.drives} drives, {args.donations} donations, {args.lines} lines): "
        f"p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms "
        f"over {len(samples)} requests (target < {TARGET_DASHBOARD_MS:.0f} ms: "
        f"{'ok' if dash_ok else 'MISSED'})",
        flush=True,
    )
    procs.cleanup()
    return sync_ok and dash_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--payouts", type=int, default=10)
    parser.add_argument("--drives", type=int, default=50)
    parser.add_argument("--donations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--phase", choices=["all", "sync"], default="all")
    args = parser.parse_args()
    if args.phase == "sync":
        return sync_phase(args.lines, args.payouts)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"Finance benchmark on {common.machine_description()}", flush=True)
    ok = True
    for kind in kinds:
        ok = run_database(kind, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
