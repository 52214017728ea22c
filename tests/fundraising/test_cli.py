"""`flask --app app drives create`: a live drive from the command line, or a clear refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from extensions import db
from fundraising.models import Drive, DriveStatus
from tests.fundraising.support import count_rows

BASE = [
    "drives",
    "create",
    "--slug",
    "s",
    "--title",
    "T",
    "--goal",
    "60000",
    "--currency",
    "usd",
    "--ends-at",
    "2030-01-01T00:00Z",
]


def with_option(name, value):
    """BASE with one option's value replaced (or added)."""
    args = list(BASE)
    if name in args:
        args[args.index(name) + 1] = value
    else:
        args += [name, value]
    return args


def test_create_makes_a_live_drive_open_now(app, runner, clock):
    result = runner.invoke(args=BASE)
    assert result.exit_code == 0, result.output
    assert "Created drive /drives/s (live)" in result.output
    with app.app_context():
        drive = db.session.scalars(select(Drive)).one()
        assert drive.slug == "s"
        assert drive.title == "T"
        assert (drive.goal_minor, drive.currency) == (6_000_000, "usd")
        assert drive.status is DriveStatus.LIVE
        assert drive.starts_at == clock.current
        assert drive.ends_at == datetime(2030, 1, 1, tzinfo=UTC)
        assert (drive.totals.raised_minor, drive.totals.donors) == (0, 0)
    progress = app.test_client().get("/drives/s/progress.json").get_json()
    assert progress["open"] is True
    assert progress["goal_minor"] == 6_000_000


def test_create_takes_a_start_time_a_zone_and_a_zero_decimal_currency(app, runner):
    args = [*with_option("--currency", "JPY"), "--starts-at", "2026-12-01T09:00+09:00"]
    args = [value if value != "60000" else "5000000" for value in args]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    with app.app_context():
        drive = db.session.scalars(select(Drive)).one()
        assert (drive.goal_minor, drive.currency) == (5_000_000, "jpy")
        assert drive.starts_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_create_with_draft_is_not_public(app, runner):
    result = runner.invoke(args=[*BASE, "--draft"])
    assert result.exit_code == 0, result.output
    assert app.test_client().get("/drives/s").status_code == 404


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--goal", "abc", "as a number"),
        ("--goal", "0", "more than zero"),
        ("--goal", "-5", "more than zero"),
        ("--goal", "60,000", "without separators"),
        ("--goal", "60000.001", "at most 2 digits"),
        ("--goal", "999999999", "too large"),
        ("--ends-at", "2026-11-01T00:00Z", "must end after it starts"),
        ("--ends-at", "next tuesday", "not an ISO 8601 time"),
        ("--starts-at", "2031-01-01T00:00Z", "must end after it starts"),
        ("--currency", "xyz", "not supported"),
        ("--slug", "Iraq relocation", "lower-case letters, digits and -"),
        ("--slug", "a/b", "lower-case letters, digits and -"),
        ("--slug", "x" * 81, "at most 80"),
        ("--title", "   ", "needs a title"),
        ("--title", "T" * 161, "at most 160"),
    ],
)
def test_bad_input_is_an_error_and_creates_nothing(app, runner, option, value, message):
    result = runner.invoke(args=with_option(option, value))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert count_rows(app, Drive) == 0


def test_a_taken_slug_is_refused_and_the_first_drive_kept(app, runner):
    assert runner.invoke(args=BASE).exit_code == 0
    again = runner.invoke(args=with_option("--title", "Other"))
    assert again.exit_code != 0
    assert "already exists" in again.output
    with app.app_context():
        assert [drive.title for drive in db.session.scalars(select(Drive))] == ["T"]
