"""The application factory: `flask --app app ...` finds create_app here."""

from __future__ import annotations

import logging
import os
import select
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from babel.dates import format_datetime
from flask import Flask, current_app
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from werkzeug.middleware.proxy_fix import ProxyFix

import accounts.wiring
import audit.wiring
import cases.wiring
import finance.wiring
import fundraising.wiring
import security.wiring
from accounts import demo as accounts_demo
from cases import demo as cases_demo
from config import load_config
from extensions import csrf, db, limiter, migrate
from finance import demo as finance_demo
from fundraising import demo as fundraising_demo
from security import locales

# Each package wires itself, in the order of its dependencies: a package registers on the
# registries of those below it (finance adds `stripe sync` to fundraising's group, cases a
# section to the drive page), never the other way round.
PACKAGES = (
    security.wiring,
    audit.wiring,
    accounts.wiring,
    fundraising.wiring,
    finance.wiring,
    cases.wiring,
)

DEMO_CREDENTIALS_FILE = "demo-credentials.txt"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver starts no transactions of its own: SQLAlchemy's "begin" (below) does.
    dbapi_connection.isolation_level = None
    # secure_delete: deleted ciphertext is overwritten, not left in free pages.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    # WAL: a purge checkpoints and truncates the log (security.shredding), so no old page
    # stays in a rollback journal or the log.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Every SQLite transaction takes the write lock when it begins (SQLAlchemy's pysqlite
    recipe). pysqlite would otherwise start no transaction for a SELECT, so a writer's
    read-then-write (lock a donation, re-read its state, apply) would not be serialised; and
    a deferred transaction that reads and then writes fails at once, instead of waiting,
    when another writer got there first. Waiting is bounded by busy_timeout."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _discard_if_server_hung_up(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout, drop a PostgreSQL connection the server has closed, without a round trip.

    An idle connection has nothing to read unless the server hung up: a restart or an idle
    timeout sends its goodbye and closes the socket. So a socket with something to read (or a
    connection psycopg already knows is broken) is discarded and the pool opens a fresh one;
    the request never sees the dead one. `pool_pre_ping` does the same with a query per
    checkout, which was a tenth of the cost of a webhook delivery."""
    if dbapi_connection.closed or dbapi_connection.pgconn.status != pq.ConnStatus.OK:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.pgconn.socket, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection while it sat in the pool")


def _configure_engine(app: Flask) -> None:
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        elif engine.dialect.driver == "psycopg":
            event.listen(engine, "checkout", _discard_if_server_hung_up)


def _format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value, "d MMM yyyy HH:mm 'UTC'", tzinfo=UTC, locale=locales.current())


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides settings from the environment (tests use it)."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    app.config.update(load_config(Path(app.instance_path), config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("stripe").setLevel(logging.WARNING)  # request logs add nothing we need
    # Flask-Limiter logs each refusal at INFO with its key: the client's address. A donor's or
    # a staff member's address is personal data; security.errors logs the refusal without it.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    _configure_engine(app)

    app.jinja_env.filters["datetime"] = _format_datetime
    if app.config["TRUSTED_PROXIES"]:
        # Behind the TLS proxy: the client address (for rate limits) comes from X-Forwarded-For.
        # X-Forwarded-Host only when TRUST_PROXY_HOST says the proxy sets it (links use
        # PUBLIC_URL anyway). Wrapping wsgi_app is Flask's documented way to add middleware;
        # mypy sees a method being replaced (the one documented exception to strict typing).
        proxies = app.config["TRUSTED_PROXIES"]
        hosts = proxies if app.config["TRUST_PROXY_HOST"] else 0
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=hosts
        )
    for package in PACKAGES:
        package.init_app(app)
    app.cli.add_command(demo_command)
    return app


@click.command("demo")
def demo_command() -> None:
    """Seed demo data (staff, a live drive with gifts) once; print the staff credentials."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("The demo is for development only.")
    credentials_path = Path(current_app.instance_path) / DEMO_CREDENTIALS_FILE
    if accounts_demo.is_seeded():
        click.echo("Demo data is already there; nothing seeded.")
        if credentials_path.exists():
            click.echo(credentials_path.read_text(encoding="utf-8"))
        return
    lines = accounts_demo.seed_demo_users()
    drive = fundraising_demo.seed_demo_drive()
    lines.append(f"Demo drive: /drives/{drive.slug}")
    cases_demo.seed_demo_cases()
    finance_demo.seed_demo_payout(drive)
    cases_demo.seed_demo_money(drive.id)
    db.session.commit()
    text = "\n".join(lines)
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    click.echo(text)
