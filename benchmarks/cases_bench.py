"""Case pages on SQLite: a caseworker's list and one case, among 100,000 cases.

    .venv/bin/python benchmarks/cases_bench.py [--cases 100000] [--assigned 200] [--requests 200]

Migrates a fresh SQLite file (`flask db upgrade`, so the indexes are the real ones), creates the
caseworker's 200 cases through `cases.services.create_case` (real per-case keys and
ciphertexts, blind index, history, a few notes each on the case that is opened), then
bulk-inserts the other 99,800 cases assigned to 500 other caseworkers. For speed the bulk rows
reuse one case's ciphertexts and wrapped key: they are the right size but do not decrypt (the
associated data binds them to the first case's id). Neither measured page decrypts them: the
list shows only clear fields, and the case opened is a real one.

Server time is measured in-process with the Flask test client (no network, no server
process): the full request through routing, the session lookup, the access rule, the
queries, the template and, for the case page, the audit record and its commit. Reports p50
and p95 over N requests of each page, after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import seeding
from staff import login, make_staff

TARGET_LIST_P95_MS = 50.0
TARGET_CASE_P95_MS = 20.0
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
STAGES = ("referred", "screening", "verified", "approved", "funded", "closed")
RISKS = ("low", "medium", "high", "critical")
ENCRYPTED = (
    "legal_name_enc",
    "known_as_enc",
    "contact_enc",
    "current_location_enc",
    "risk_narrative_enc",
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def use_fast_password_hashing() -> None:
    """Argon2id with tiny costs while seeding 501 staff; login cost is not what is measured."""
    from argon2 import PasswordHasher

    from accounts import passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def create_real_cases(app: Any, caseworker_id: int, count: int) -> list[str]:
    """The caseworker's own cases, through the service (real keys, blind index, audit)."""
    from accounts.models import User
    from cases import services
    from cases.models import RiskLevel
    from extensions import db

    rng = random.Random(7)
    ids = []
    with app.app_context():
        worker = db.session.get(User, caseworker_id)
        for number in range(count):
            case = services.create_case(
                worker,
                {
                    "legal_name": f"Bench Person {number}",
                    "known_as": f"BP{number}",
                    "contact": f"+1555{number:07d}\nsignal: bench.{number}",
                    "current_location": f"Somewhere {number}",
                    "risk_narrative": "A paragraph of narrative. " * 20,
                },
                services.ClearFields(risk_level=RiskLevel(rng.choice(RISKS)), region="Region"),
            )
            if number == 0:
                for note in range(10):
                    services.add_note(case, worker, f"Note {note}: " + "text " * 40)
            ids.append(case.id)
        db.session.commit()
    return ids


def bulk_insert_cases(app: Any, template_id: str, count: int, owners: list[int]) -> None:
    """Other people's cases: clear columns, one reused set of ciphertexts, assignment, index."""
    from extensions import db

    rng = random.Random(11)
    now = datetime.now(UTC)
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")
            cursor.execute(
                f"SELECT {', '.join(ENCRYPTED)} FROM cases WHERE id = ?",  # noqa: S608
                (template_id,),
            )
            blobs = cursor.fetchone()
            cursor.execute(
                "SELECT master_key_id, wrapped_key FROM case_keys WHERE case_id = ?",
                (template_id,),
            )
            key_id, wrapped = cursor.fetchone()
            cursor.execute("SELECT code FROM cases")
            codes = {row[0] for row in cursor.fetchall()}
            cases, keys, assignments, index, history = [], [], [], [], []
            for _ in range(count):
                case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                code = "RC-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(6))
                while code in codes:
                    code = "RC-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(6))
                codes.add(code)
                created = seeding.sqlite_value(now - timedelta(days=rng.uniform(1, 700)))
                stage = rng.choice(STAGES)
                cases.append(
                    (
                        case_id,
                        code,
                        stage,
                        rng.choice(RISKS),
                        "Region",
                        1,
                        "partner",
                        created,
                        created,
                        created,
                        *blobs,
                    )
                )
                keys.append((case_id, key_id, wrapped))
                assignments.append((case_id, rng.choice(owners), created))
                index.append((case_id, "name", os.urandom(32).hex()))
                index.append((case_id, "contact", os.urandom(32).hex()))
                history.append((case_id, stage, created))
            columns = (
                "id, code, stage, risk_level, region, household_size, referral_source,"
                f" created_at, updated_at, stage_changed_at, {', '.join(ENCRYPTED)}"
            )
            marks = ", ".join("?" * 15)
            insert = f"INSERT INTO cases ({columns}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(insert, sorted(cases))
            cursor.executemany(
                "INSERT INTO case_keys (case_id, master_key_id, wrapped_key) VALUES (?, ?, ?)",
                keys,
            )
            cursor.executemany(
                "INSERT INTO case_assignments (case_id, user_id, assigned_at) VALUES (?, ?, ?)",
                assignments,
            )
            cursor.executemany(
                "INSERT INTO case_blind_index (case_id, kind, digest) VALUES (?, ?, ?)", index
            )
            cursor.executemany(
                "INSERT INTO case_stage_changes (case_id, to_stage, created_at) VALUES (?, ?, ?)",
                history,
            )
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()


def measure(client: Any, url: str, requests: int, expect: str) -> list[float]:
    for _ in range(20):  # warm-up: templates compiled, caches filled
        client.get(url)
    samples, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if response.status_code != 200 or expect not in response.get_data(as_text=True):
            raise SystemExit(f"{url} answered {response.status_code}")
    return samples, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--assigned", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile the case page too")
    args = parser.parse_args()

    procs = common.Processes()
    folder = procs.tempdir("cases-bench-")
    env = seeding.app_environment(f"sqlite:///{folder / 'bench.db'}", folder / "instance")
    common.log("migrating")
    seeding.migrate(env)
    seeding.apply_environment(env)
    from app import create_app

    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    use_fast_password_hashing()

    worker_id = make_staff(app, "caseworker@example.org", "caseworker")
    others = [make_staff(app, f"other{n}@example.org", "caseworker") for n in range(500)]
    common.log(f"creating {args.assigned} real cases")
    real = create_real_cases(app, worker_id, args.assigned)
    common.log(f"bulk-inserting {args.cases - args.assigned} other cases")
    started = time.perf_counter()
    bulk_insert_cases(app, real[0], args.cases - args.assigned, others)
    common.log(f"loaded in {time.perf_counter() - started:.1f} s")

    client = app.test_client()
    login(app, client, "caseworker@example.org")
    listing = measure(client, "/cases/", args.requests, "My cases")
    filtered = measure(client, "/cases/?stage=referred&risk=high", args.requests, "My cases")
    one_case = measure(client, f"/cases/{real[0]}", args.requests, "Bench Person 0")

    if args.profile:
        import cProfile
        import pstats

        for url, expect in (("/cases/", "My cases"), (f"/cases/{real[0]}", "Bench Person 0")):
            profiler = cProfile.Profile()
            profiler.runcall(measure, client, url, 50, expect)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)

    print(f"{args.cases} cases, {args.assigned} assigned to the caseworker, SQLite")
    ok = True
    for name, (samples, cpu), target in (
        ("GET /cases/", listing, TARGET_LIST_P95_MS),
        ("GET /cases/?stage=referred&risk=high", filtered, TARGET_LIST_P95_MS),
        ("GET /cases/<id>", one_case, TARGET_CASE_P95_MS),
    ):
        p95 = percentile(samples, 0.95)
        verdict = "ok" if p95 < target else "MISSED"
        ok = ok and p95 < target
        print(
            f"{name}: p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms"
            f" (target < {target:.0f} ms: {verdict}); CPU p50 {statistics.median(cpu):.1f} ms,"
            f" p95 {percentile(cpu, 0.95):.1f} ms; {len(samples)} requests"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
