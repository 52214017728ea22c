"""`flask --app app drives create ...`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Blueprint, Flask, current_app
from flask.cli import AppGroup, with_appcontext

from extensions import db
from fundraising import drives, pending
from fundraising.models import DriveStatus
from fundraising.money import InvalidAmount, parse_amount
from fundraising.stripe_gateway import GatewayRejected, GatewayUnavailable, current_gateway
from security.clock import now

bp = Blueprint("drives_cli", __name__, cli_group="drives")


def parse_when(value: str, option: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.cli.command("create")
@click.option("--slug", required=True, help="The address: /drives/SLUG")
@click.option("--title", required=True)
@click.option("--goal", required=True, help="The goal in major units, e.g. 60000 or 60000.00")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. usd")
@click.option("--ends-at", "ends_at", required=True, help="ISO 8601, e.g. 2026-12-01T18:00Z")
@click.option("--starts-at", "starts_at", default=None, help="ISO 8601; default now")
@click.option("--story", default="", help="The story, in Markdown")
@click.option("--draft", is_flag=True, help="Create as a draft instead of live")
def create_command(
    slug: str,
    title: str,
    goal: str,
    currency: str,
    ends_at: str,
    starts_at: str | None,
    story: str,
    draft: bool,
) -> None:
    """Create a drive (live unless --draft)."""
    try:
        goal_minor = parse_amount(goal, currency)
        drive = drives.create_drive(
            slug=slug,
            title=title,
            goal_minor=goal_minor,
            currency=currency,
            starts_at=parse_when(starts_at, "--starts-at") if starts_at else now(),
            ends_at=parse_when(ends_at, "--ends-at"),
            story=story,
            status=DriveStatus.DRAFT if draft else DriveStatus.LIVE,
        )
    except (InvalidAmount, drives.FundraisingError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created drive /drives/{drive.slug} ({drive.status.value}), id {drive.id}")


STRIPE_HELP = "Stripe: settle gifts in limbo, sync payouts, the development webhook secret."


def add_stripe_commands(app: Flask, *commands: click.Command) -> None:
    """Add commands to this app's `flask stripe` group, made on first use (fundraising adds
    its own; finance adds `sync`)."""
    group = app.cli.commands.get("stripe")
    if group is None:
        group = AppGroup("stripe", help=STRIPE_HELP)
        app.cli.add_command(group)
    if not isinstance(group, click.Group):
        raise RuntimeError("`flask stripe` is already a command, not a group")
    for command in commands:
        group.add_command(command)


@click.command("local-webhook-secret")
@with_appcontext
def local_webhook_secret_command() -> None:
    """Print the webhook secret, for `make run` to hand to localstripe (development only)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("This command is disabled in production.")
    click.echo(current_app.config["STRIPE_WEBHOOK_SECRET"])


AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str, option: str = "--older-than") -> timedelta:
    """An age such as 30s, 10m, 2h or 1d (`option` names the option in the message)."""
    text = value.strip().lower()
    unit = AGE_UNITS.get(text[-1:]) if text else None
    if unit is None or not text[:-1].isdigit():
        raise click.BadParameter(
            f"{value!r} is not an age; use a whole number and a unit: 30s, 10m, 2h or 1d",
            param_hint=option,
        )
    return timedelta(**{unit: int(text[:-1])})


@click.command("reconcile-pending")
@with_appcontext
@click.option(
    "--older-than",
    "older_than",
    default="10m",
    show_default=True,
    help="Only gifts whose state last changed at least this long ago (30s, 10m, 2h, 1d)",
)
def reconcile_pending_command(older_than: str) -> None:
    """Settle gifts still pending, processing, in 3-D Secure or unreachable, from Stripe."""
    report = pending.reconcile_pending(current_gateway(), parse_age(older_than))
    click.echo(report.summary())
    if report.unavailable:
        raise click.ClickException("Stripe did not answer for some gifts; run again later.")


@click.command("recover-missing")
@with_appcontext
@click.option(
    "--since",
    "since",
    required=True,
    help="How far back to look: the age of the backup the database was restored from, "
    "with some margin (30m, 6h, 2d)",
)
def recover_missing_command(since: str) -> None:
    """After a restore from backup: write back the gifts Stripe took that have no donation."""
    start = now() - parse_age(since, "--since")
    try:
        report = pending.recover_missing(current_gateway(), start)
    except (GatewayUnavailable, GatewayRejected) as error:
        db.session.rollback()
        raise click.ClickException(f"Stripe: {error}; nothing was changed.") from error
    click.echo(report.summary())
