"""The app under measurement and its data: environment, migrations, drives, donations.

Rows are bulk-loaded (COPY on PostgreSQL, executemany on SQLite) and each drive's aggregate
row is moved to match, so what a benchmark reads is what the app would have written.
"""

from __future__ import annotations

import base64
import io
import os
import random
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import DRIVE_SLUG, ROOT, VENV_BIN, WEBHOOK_SECRET


def app_environment(database_url: str, instance: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "benchmark-secret-key-not-for-production",
            "CASE_MASTER_KEY": base64.b64encode(b"m" * 32).decode(),
            "BLIND_INDEX_KEY": base64.b64encode(b"b" * 32).decode(),
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.pop("FLASK_DEBUG", None)
    env.pop("STRIPE_SECRET_KEY", None)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def apply_environment(env: dict[str, str]) -> None:
    """Make this process see the same settings as the served app (for seeding and checks)."""
    for name in (
        "APP_ENV",
        "DATABASE_URL",
        "INSTANCE_PATH",
        "SECRET_KEY",
        "CASE_MASTER_KEY",
        "BLIND_INDEX_KEY",
        "STRIPE_WEBHOOK_SECRET",
    ):
        os.environ[name] = env[name]


def make_app() -> Any:
    from app import create_app

    return create_app()


def create_drive(app: Any, slug: str = DRIVE_SLUG) -> int:
    """A live drive through the app's own service, so it is exactly what the app would make."""
    from extensions import db
    from fundraising import drives

    story = (
        "## Get them out this week\n\n"
        "Three people hunted for who they are need flights, visas and a safe flat. "
        "Every gift goes to this and nothing else.\n\n"
        "- flights\n- visas\n- three months of safe housing\n\n"
        "Read more on [our site](https://example.org/about)."
    )
    moment = datetime.now(UTC)
    with app.app_context():
        drive = drives.create_drive(
            slug=slug,
            title="Emergency relocation: three people out this week",
            goal_minor=6_000_000,
            currency="usd",
            starts_at=moment - timedelta(days=2),
            ends_at=moment + timedelta(days=30),
            story=story,
        )
        db.session.commit()
        return int(drive.id)


DONATION_COLUMNS = (
    "id",
    "drive_id",
    "amount_minor",
    "fee_cover_minor",
    "currency",
    "status",
    "payment_intent_id",
    "charge_id",
    "public_name",
    "message",
    "is_anonymous",
    "amount_refunded_minor",
    "disputed_minor",
    "created_at",
    "succeeded_at",
    "updated_at",
)
NAMES = ("Ana", "Bilal", "Chen", "Dara", "Eli", "Farah", "Goran", "Hana", None)
MESSAGES = ("Stay safe.", "Solidarity from Berlin", None, None, "For freedom", None)


def donation_rows(
    drive_id: int, count: int, *, seed: int, status: str = "succeeded"
) -> tuple[list[tuple[Any, ...]], int, int]:
    """`count` donation rows (a tenth pending or failed when status is succeeded), with the
    raised total and donor count they make."""
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(days=1)
    rows: list[tuple[Any, ...]] = []
    raised = donors = 0
    for _ in range(count):
        # Small gifts, as in a viral spike.
        amount = rng.choice((500, 1000, 1000, 2000, 2500, rng.randint(500, 3000)))
        created = base + timedelta(seconds=rng.uniform(0, 86000))
        row_status = status
        if status == "succeeded":
            row_status = rng.choices(("succeeded", "failed", "pending"), (90, 6, 4))[0]
        key = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        succeeded = row_status == "succeeded"
        name = rng.choice(NAMES)
        rows.append(
            (
                str(uuid.UUID(key)),
                drive_id,
                amount,
                0,
                "usd",
                row_status,
                f"pi_{key}" if row_status != "pending" else None,
                f"ch_{key}" if succeeded else None,
                name,
                rng.choice(MESSAGES),
                name is None,
                0,
                0,
                created,
                created + timedelta(seconds=2) if succeeded else None,
                created + timedelta(seconds=2),
            )
        )
        if succeeded:
            raised += amount
            donors += 1
    return rows, raised, donors


def sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # What SQLAlchemy's UTCDateTime stores on SQLite: naive UTC, microseconds always shown.
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _copy_text(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def bulk_insert_donations(app: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows fast: COPY on PostgreSQL, one executemany transaction on SQLite."""
    from extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            columns = ", ".join(DONATION_COLUMNS)
            if db.engine.dialect.name == "postgresql":
                buffer = io.StringIO()
                for row in rows:
                    buffer.write("\t".join(_copy_text(value) for value in row))
                    buffer.write("\n")
                with cursor.copy(f"COPY donations ({columns}) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
            else:
                # Only for this loading connection: no fsync per batch, a big page cache for the
                # random-order index inserts (the served app keeps its own settings).
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")
                marks = ", ".join("?" for _ in DONATION_COLUMNS)
                cursor.executemany(
                    f"INSERT INTO donations ({columns}) VALUES ({marks})",  # noqa: S608
                    ([sqlite_value(value) for value in row] for row in rows),
                )
            raw.commit()
        finally:
            raw.close()


def add_to_totals(app: Any, drive_id: int, raised: int, donors: int) -> None:
    """Keep the DriveTotals row consistent with the bulk-inserted donations."""
    from sqlalchemy import update

    from extensions import db
    from fundraising.models import DriveTotals

    values: dict[str, Any] = {
        "raised_minor": DriveTotals.raised_minor + raised,
        "donors": DriveTotals.donors + donors,
        "version": DriveTotals.version + 1,
    }
    if hasattr(DriveTotals, "gross_minor"):
        # The seeded gifts have no refunds or disputes: gross equals raised.
        values["gross_minor"] = DriveTotals.gross_minor + raised
    with app.app_context():
        db.session.execute(
            update(DriveTotals).where(DriveTotals.drive_id == drive_id).values(**values)
        )
        db.session.commit()


def analyze(app: Any) -> None:
    """Refresh planner statistics after a bulk load (PostgreSQL's autovacuum would do it too)."""
    from sqlalchemy import text

    from extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("ANALYZE donations")
                )


def seed_in_batches(app: Any, drive_id: int, count: int, seed: int, batch: int = 100_000) -> None:
    """Add `count` donations to the drive in batches, moving its totals to match."""
    done = 0
    while done < count:
        size = min(batch, count - done)
        rows, raised, donors = donation_rows(drive_id, size, seed=seed + done)
        rows.sort()  # in primary-key order: far fewer page splits while loading
        bulk_insert_donations(app, rows)
        add_to_totals(app, drive_id, raised, donors)
        done += size
