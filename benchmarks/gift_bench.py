"""The whole gift path under a viral spike, driven the way donors drive it.

    .venv/bin/python benchmarks/gift_bench.py [--backend postgresql|sqlite|both]
        [--rate 50] [--duration 60] [--delay-ms 300] [--fault none|kill-worker|restart-postgres]

Each donor, arriving open-loop at the set rate and each from its own address behind one
trusted proxy (X-Forwarded-For, TRUSTED_PROXIES=1): loads the drive page (and its CSRF token),
creates a PaymentMethod at the Stripe stand-in with the publishable key as Stripe.js does, and
posts the gift. The app runs under gunicorn with the repository's gunicorn.conf.py, pinned to
CPU 0 with the database; our localstripe wrapper (`--delay-ms`, Stripe's latency, and webhooks
to the app) and this client run on CPU 1. A fault can be injected half-way through: a gunicorn
worker killed with SIGKILL, or PostgreSQL restarted (immediate shutdown).

Afterwards, once the webhooks have settled and `flask stripe reconcile-pending` has run, every
PaymentIntent localstripe holds is checked against the database: lost (Stripe succeeded, the
donation not), doubled (two succeeded intents for one donation), and the totals (progress.json,
the aggregate row, the sum of succeeded donations and the sum of Stripe's succeeded intents).
CPU per successful gift is read from /proc for the app, the database, the stand-in and this
client. The exit status is non-zero when anything was lost, doubled or miscounted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import common
import seeding

from devtools.launch import command_line

AMOUNT = "10.00"
AMOUNT_MINOR = 1000
PUBLISHABLE = "pk_test_localstripe"
SECRET = "sk_test_localstripe"  # noqa: S105  (localstripe's, not a secret)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Donor:
    number: int
    started: float = 0.0
    page_status: int = 0
    donate_status: int = 0
    donate_seconds: float = 0.0
    total_seconds: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def address(number: int) -> str:
    return f"10.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}"


async def give(
    donor: Donor, connector: aiohttp.BaseConnector, app_base: str, stripe_base: str, slug: str
) -> None:
    headers = {"X-Forwarded-For": address(donor.number)}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector,
        connector_owner=False,
        timeout=timeout,
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies from 127.0.0.1 too
    ) as session:
        donor.started = time.monotonic()
        try:
            async with session.get(f"{app_base}/drives/{slug}", headers=headers) as page:
                donor.page_status = page.status
                html = await page.text()
            token = CSRF.search(html)
            if page.status != 200 or token is None:
                donor.error = f"page {page.status}"
                return
            async with session.post(
                f"{stripe_base}/v1/payment_methods",
                data={
                    "key": PUBLISHABLE,
                    "type": "card",
                    "card[number]": "4242424242424242",
                    "card[exp_month]": "12",
                    "card[exp_year]": "2034",
                    "card[cvc]": "123",
                },
            ) as method:
                method_id = (await method.json())["id"]
            posted = time.monotonic()
            async with session.post(
                f"{app_base}/drives/{slug}/donate",
                data={"csrf_token": token.group(1), "amount": AMOUNT, "payment_method": method_id},
                headers={**headers, "Accept": "application/json"},
            ) as donate:
                donor.donate_status = donate.status
                text = await donate.text()
            donor.donate_seconds = time.monotonic() - posted
            try:
                donor.answer = json.loads(text)
            except ValueError:
                donor.error = f"donate {donate.status}: not JSON"
        except (TimeoutError, aiohttp.ClientError) as error:
            donor.error = type(error).__name__
        finally:
            donor.total_seconds = time.monotonic() - donor.started


async def spike(
    args: argparse.Namespace, app_base: str, stripe_base: str, fault: Any
) -> tuple[list[Donor], float]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    donors = [Donor(number) for number in range(1, int(args.rate * args.duration) + 1)]
    tasks = []
    start = time.monotonic()
    fault_at = args.duration / 2
    for donor in donors:
        due = start + (donor.number - 1) / args.rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if fault is not None and time.monotonic() - start >= fault_at:
            common.log(f"fault: {args.fault} at {time.monotonic() - start:.1f}s")
            await asyncio.get_running_loop().run_in_executor(None, fault)
            fault = None
        tasks.append(asyncio.create_task(give(donor, connector, app_base, stripe_base, args.slug)))
    arrivals = time.monotonic() - start
    await asyncio.gather(*tasks)
    await connector.close()
    return donors, arrivals


def stripe_intents(stripe_base: str) -> list[dict[str, Any]]:
    import requests

    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = requests.get(
            stripe_base + "/v1/payment_intents",
            params=params,
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=60,
        ).json()
        found.extend(page["data"])
        if not page["has_more"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


def books(app: Any, drive_id: int) -> dict[str, Any]:
    from sqlalchemy import select

    from extensions import db
    from fundraising import services
    from fundraising.models import Donation, Drive

    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        rows = db.session.execute(
            select(Donation.id, Donation.status, Donation.amount_minor).where(
                Donation.drive_id == drive_id
            )
        ).all()
        result = {
            "aggregate": (drive.totals.raised_minor, drive.totals.donors),
            "recount": services.recount(drive_id),
            "statuses": {row.id: row.status.value for row in rows},
        }
        db.session.remove()
        return result


def durable_commits(url: str) -> None:
    """The test server runs with synchronous_commit off (tests/postgres.py): a commit the app
    was told of could vanish in an immediate restart, which no production database does.
    Sessions of this database commit durably, as in production."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.autocommit = True
        connection.execute("ALTER DATABASE postgres SET synchronous_commit = on")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_backend(procs: common.Processes, backend: str, args: argparse.Namespace) -> dict:
    folder = procs.tempdir(f"gift-bench-{backend}-")
    server = None
    if backend == "postgresql":
        server = common.start_postgres(procs)
        url = server.url()
        durable_commits(url)
    else:
        url = f"sqlite:///{folder / 'app.db'}"
    app_port = common.free_port()
    env = seeding.app_environment(url, folder / "instance")
    seeding.migrate(env)
    seeding.apply_environment(env)
    app = seeding.make_app()
    drive_id = seeding.create_drive(app, args.slug)

    port_file = folder / "localstripe.port"
    stripe = procs.spawn(
        [
            "taskset",
            "-c",
            common.CLIENT_CPU,
            *command_line(
                port_file,
                delay_ms=args.delay_ms,
                webhook_url=f"http://127.0.0.1:{app_port}/stripe/webhook",
                webhook_secret=common.WEBHOOK_SECRET,
                python=str(common.VENV_BIN / "python"),
            ),
        ],
        folder / "localstripe.log",
    )
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or stripe.poll() is not None:
            raise RuntimeError((folder / "localstripe.log").read_text())
        time.sleep(0.1)
    stripe_base = f"http://127.0.0.1:{port_file.read_text().strip()}"
    env.update(
        {
            "STRIPE_SECRET_KEY": SECRET,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE,
            "STRIPE_API_BASE": stripe_base,
            "TRUSTED_PROXIES": "1",
            "GUNICORN_BIND": f"127.0.0.1:{app_port}",
        }
    )
    command = [
        "taskset",
        "-c",
        common.SERVER_CPU,
        str(common.VENV_BIN / "gunicorn"),
        "-c",
        str(common.ROOT / "gunicorn.conf.py"),
        *common.EXTRA_ARGS,
    ]
    if args.workers:
        command += ["--workers", str(args.workers)]
    gunicorn = procs.spawn(command, folder / "gunicorn.log", env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if common.fetch(f"http://127.0.0.1:{app_port}/drives/{args.slug}")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or gunicorn.poll() is not None:
            raise RuntimeError((folder / "gunicorn.log").read_text()[-3000:])
        time.sleep(0.2)
    app_base = f"http://127.0.0.1:{app_port}"

    def kill_worker() -> None:
        children = (Path(f"/proc/{gunicorn.pid}/task/{gunicorn.pid}/children").read_text()).split()
        workers = [int(pid) for pid in children]
        # taskset is gunicorn's parent only until exec: the master is gunicorn.pid itself.
        os.kill(workers[0], signal.SIGKILL)

    def restart_postgres() -> None:
        assert server is not None
        log_file = str(server.datadir / "server.log")  # not pg_ctl's pipe: it would never close
        server._run(
            "pg_ctl", "-D", str(server.datadir), "-l", log_file, "-m", "immediate", "-w", "restart"
        )
        subprocess.run(
            ["taskset", "-a", "-p", "-c", common.SERVER_CPU, str(common.postmaster_pid(server))],
            check=True,
            capture_output=True,
        )

    faults = {"none": None, "kill-worker": kill_worker, "restart-postgres": restart_postgres}
    if args.fault == "restart-postgres" and server is None:
        raise SystemExit("--fault restart-postgres needs --backend postgresql")

    def pids() -> dict[str, list[int]]:
        found = {"app": [gunicorn.pid], "stand-in": [stripe.pid], "database": []}
        if server is not None:
            found["database"] = [common.postmaster_pid(server)]
        return found

    before = {name: common.cpu_seconds(ids) for name, ids in pids().items()}
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    common.log(f"{backend}: {args.rate}/s for {args.duration}s, Stripe {args.delay_ms} ms")
    started = time.monotonic()
    donors, arrivals = asyncio.run(spike(args, app_base, stripe_base, faults[args.fault]))
    elapsed = time.monotonic() - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {name: common.cpu_seconds(ids) - before[name] for name, ids in pids().items()}
    cpu["client"] = (
        client_after.ru_utime + client_after.ru_stime - client_before.ru_utime
    ) - client_before.ru_stime

    # Let the webhooks land, then sweep what is still in limbo, as the production timer would.
    time.sleep(5)
    sweep = subprocess.run(
        [
            str(common.VENV_BIN / "flask"),
            "--app",
            "app",
            "stripe",
            "reconcile-pending",
            "--older-than",
            "0s",
        ],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    time.sleep(3)  # the public cache (PUBLIC_CACHE_SECONDS) catches up

    intents = [
        intent
        for intent in stripe_intents(stripe_base)
        if (intent.get("metadata") or {}).get("drive_id") == str(drive_id)
    ]
    succeeded_at_stripe: dict[str, int] = {}
    for intent in intents:
        if intent["status"] == "succeeded":
            key = intent["metadata"]["donation_id"]
            succeeded_at_stripe[key] = succeeded_at_stripe.get(key, 0) + 1
    ledger = books(app, drive_id)
    statuses = ledger["statuses"]
    lost = [key for key in succeeded_at_stripe if statuses.get(key) != "succeeded"]
    doubled = [key for key, count in succeeded_at_stripe.items() if count > 1]
    unbacked = [
        key
        for key, value in statuses.items()
        if value == "succeeded" and key not in succeeded_at_stripe
    ]
    progress = json.loads(common.fetch(f"{app_base}/drives/{args.slug}/progress.json")[2])
    stripe_sum = sum(succeeded_at_stripe.values()) * AMOUNT_MINOR

    ok = [d for d in donors if d.donate_status == 200 and d.answer.get("status") == "succeeded"]
    fivexx = [d for d in donors if d.donate_status >= 500 or d.page_status >= 500]
    cut_off = [d for d in donors if d.error and d.donate_status == 0 and d.page_status in (0, 200)]
    other = [d for d in donors if d not in ok and d not in fivexx and d not in cut_off]
    gifts = max(len(ok), 1)
    figures = {
        "backend": backend,
        "fault": args.fault,
        "offered": len(donors),
        "offered_per_second": round(len(donors) / arrivals, 1),
        "succeeded": len(ok),
        # Over the time from the first arrival to the last answer.
        "succeeded_per_second": round(len(ok) / elapsed, 1),
        "seconds_to_last_answer": round(elapsed, 1),
        "donate_p50_s": round(percentile([d.donate_seconds for d in ok], 0.5), 3),
        "donate_p99_s": round(percentile([d.donate_seconds for d in ok], 0.99), 3),
        "donor_p50_s": round(percentile([d.total_seconds for d in ok], 0.5), 3),
        "donor_p99_s": round(percentile([d.total_seconds for d in ok], 0.99), 3),
        "5xx": len(fivexx),
        "cut_off": len(cut_off),
        "other_answers": sorted(
            {f"{d.donate_status} {d.error} {d.answer.get('error', '')}" for d in other}
        )[:5],
        "cpu_ms_per_gift": {name: round(1000 * s / gifts, 2) for name, s in cpu.items()},
        "app_and_database_cpu_ms_per_gift": round(1000 * (cpu["app"] + cpu["database"]) / gifts, 2),
        "sweep": sweep.stdout.strip() or sweep.stderr.strip()[-300:],
        "intents_at_stripe": len(intents),
        "lost": len(lost),
        "doubled": len(doubled),
        "succeeded_without_stripe": len(unbacked),
        "progress_json": (progress["raised_minor"], progress["donors"]),
        "aggregate": ledger["aggregate"],
        "recount": ledger["recount"],
        "stripe_succeeded": (stripe_sum, len(succeeded_at_stripe)),
    }
    figures["totals_exact"] = (
        tuple(figures["progress_json"])
        == tuple(figures["aggregate"])
        == tuple(figures["recount"])
        == figures["stripe_succeeded"]
    )
    procs.stop(gunicorn)
    procs.stop(stripe)
    with app.app_context():
        from extensions import db

        db.engine.dispose()
    if server is not None:
        procs.postgres.remove(server)
        server.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--delay-ms", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0, help="default: gunicorn.conf.py's")
    parser.add_argument(
        "--fault", choices=["none", "kill-worker", "restart-postgres"], default="none"
    )
    parser.add_argument("--slug", default=common.DRIVE_SLUG)
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(common.CLIENT_CPU)})
    procs = common.Processes()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    common.log(common.machine_description())
    failed = False
    for backend in backends:
        figures = run_backend(procs, backend, args)
        print(json.dumps(figures), flush=True)
        failed |= bool(figures["lost"] or figures["doubled"] or not figures["totals_exact"])
        failed |= bool(figures["succeeded_without_stripe"])
        if args.fault == "none":
            failed |= bool(figures["5xx"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
