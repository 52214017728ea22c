"""Card-testing defence: /donate is limited per IP and per drive, in memory and in Redis."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import count_donations, make_gift, totals

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
GIFT = {"amount": "25.00", "payment_method": "pm_card_visa"}


def donate(client, ip, slug="relocation"):
    return client.post(f"/drives/{slug}/donate", data=GIFT, environ_base={"REMOTE_ADDR": ip})


def assert_limited(response):
    assert response.status_code == 429
    assert "Too many attempts" in response.get_json()["error"]
    assert int(response.headers["Retry-After"]) > 0


def test_the_fourth_gift_from_one_address_in_a_minute_is_429(make_app):
    app = make_app(RATELIMIT_ENABLED=True, DONATE_RATE_LIMIT_PER_IP="3 per minute")
    make_drive(app)
    client = app.test_client()
    for _ in range(3):
        assert donate(client, "203.0.113.7").status_code != 429
    assert count_donations(app) == 3
    assert_limited(donate(client, "203.0.113.7"))
    assert count_donations(app) == 3  # refused before anything was written
    assert donate(client, "198.51.100.20").status_code != 429  # someone else is not blocked


def test_the_per_drive_limit_holds_across_addresses(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        DONATE_RATE_LIMIT_PER_IP="100 per minute",
        DONATE_RATE_LIMIT_PER_DRIVE="5 per minute",
    )
    make_drive(app)
    make_drive(app, slug="second")
    client = app.test_client()
    for number in range(5):
        assert donate(client, f"203.0.113.{number + 1}").status_code != 429
    assert_limited(donate(client, "203.0.113.99"))
    assert donate(client, "203.0.113.99", slug="second").status_code != 429


def test_limits_are_off_when_disabled(app):
    make_drive(app)
    client = app.test_client()
    assert all(donate(client, "203.0.113.7").status_code != 429 for _ in range(12))


# --- Shared counters in Redis, as across gunicorn workers and hosts ----------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away redis-server on a free port (Debian's package)."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not found (install the redis-server package)")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.02)  # waiting for the server to listen, not for the test
    yield f"redis://127.0.0.1:{port}"
    connection.close()
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushall()
    yield connection
    connection.close()


def test_two_app_instances_share_the_per_ip_count_in_redis(make_app, redis_url, redis_client):
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url,
        "DONATE_RATE_LIMIT_PER_IP": "3 per minute",
    }
    first = make_app(**settings)
    make_drive(first)
    first_client = first.test_client()
    for _ in range(3):
        assert donate(first_client, "203.0.113.7").status_code != 429
    assert redis_client.keys("LIMITS*"), "the counters should live in Redis"

    # A second worker: its own app, its own limiter storage, the same Redis.
    second = make_app(**settings)
    assert_limited(donate(second.test_client(), "203.0.113.7"))
    assert donate(second.test_client(), "198.51.100.20").status_code != 429
    assert count_donations(second) == 4


def test_two_app_instances_share_the_per_drive_count_in_redis(make_app, redis_url, redis_client):
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url,
        "DONATE_RATE_LIMIT_PER_IP": "100 per minute",
        "DONATE_RATE_LIMIT_PER_DRIVE": "4 per minute",
    }
    first = make_app(**settings)
    make_drive(first)
    for number in range(4):
        assert donate(first.test_client(), f"203.0.113.{number + 1}").status_code != 429
    second = make_app(**settings)
    assert_limited(donate(second.test_client(), "198.51.100.20"))


def test_a_fresh_memory_store_does_not_remember_another_workers_count(make_app):
    """The control for the Redis tests: per-process memory is exactly what does not hold."""
    settings = {"RATELIMIT_ENABLED": True, "DONATE_RATE_LIMIT_PER_IP": "3 per minute"}
    first = make_app(**settings)
    make_drive(first)
    for _ in range(3):
        donate(first.test_client(), "203.0.113.7")
    second = make_app(**settings)
    assert donate(second.test_client(), "203.0.113.7").status_code != 429


def test_progress_polling_is_never_limited_even_under_a_default_limit(make_app):
    # An operator may set a site-wide default; every open drive page still polls progress.
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    make_drive(app)
    client = app.test_client()
    for _ in range(10):
        assert client.get("/drives/relocation/progress.json").status_code == 200
    assert client.get("/drives/relocation").status_code == 200
    assert client.get("/drives/relocation").status_code == 200
    assert client.get("/drives/relocation").status_code == 429  # the default applies elsewhere


def test_stripe_webhook_deliveries_are_never_limited_even_under_a_default_limit(make_app):
    # Stripe retries a refused delivery for days; a burst of real events must all go in.
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    drive_id = make_drive(app)
    client = app.test_client()
    gifts = [make_gift(app, drive_id, 1000) for _ in range(5)]
    for gift in gifts:
        response = deliver(client, gift.succeeded())
        assert response.status_code == 200
        assert response.get_json()["outcome"] == "applied"
    assert totals(app, drive_id) == (5000, 5)


def test_a_refused_address_is_not_written_to_the_log(make_app, caplog):
    # A donor's address next to the drive they gave to is personal data; the limiter's own
    # "exceeded" message carries it, so it must not reach the app's log.
    app = make_app(RATELIMIT_ENABLED=True, DONATE_RATE_LIMIT_PER_IP="1 per minute")
    make_drive(app)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        donate(client, "203.0.113.77")
        assert_limited(donate(client, "203.0.113.77"))
    assert "203.0.113.77" not in caplog.text
    assert "rate limit reached on POST fundraising.donate" in caplog.text  # still seen, anonymously
