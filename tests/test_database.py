"""Pooled PostgreSQL connections the server has closed are replaced before a request uses them."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from extensions import db
from tests.factories import make_drive


@pytest.fixture
def pg_app(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite opens a file: there is no server to hang up")
    return app


def pooled_backend_pid(app) -> int:
    """Use a pooled connection and give it back; return its server process id."""
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
    return int(pid)


def terminate(database_url: str, pid: int) -> None:
    """What a server restart or an idle timeout does to a connection sitting in the pool.

    pg_terminate_backend only signals the server process; it returns before that process has
    said goodbye and closed the socket, so wait until it is gone (a restart has finished
    closing connections before the next request can reach the new server, too).

    The wait polls in autocommit: inside one transaction PostgreSQL keeps the first snapshot
    of pg_stat_activity, so a backend that has left would never be seen to leave."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one():
            assert time.monotonic() < deadline, "the terminated backend did not exit"
            time.sleep(0.01)
    engine.dispose()


def test_a_connection_the_server_closed_is_replaced_not_used(pg_app, database_url):
    first = pooled_backend_pid(pg_app)
    terminate(database_url, first)
    second = pooled_backend_pid(pg_app)  # raised OperationalError before the checkout check
    assert second != first


def test_a_webhook_after_the_server_closed_the_pool_still_goes_in(pg_app, database_url, client):
    from tests.fundraising.stripe_objects import deliver
    from tests.fundraising.support import make_gift, totals

    drive_id = make_drive(pg_app)
    gift = make_gift(pg_app, drive_id, 2500)
    terminate(database_url, pooled_backend_pid(pg_app))
    response = deliver(client, gift.succeeded())
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "applied"
    assert totals(pg_app, drive_id) == (2500, 1)


def test_a_connection_in_use_is_not_disturbed_by_the_check(pg_app):
    # Several checkouts in a row keep the same healthy connection (nothing is thrown away).
    pids = {pooled_backend_pid(pg_app) for _ in range(5)}
    assert len(pids) == 1
