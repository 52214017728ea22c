"""`flask --app app drives create ...`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Blueprint, current_app

from extensions import db
from fundraising import drives
from fundraising.models import DriveStatus
from fundraising.money import InvalidAmount, parse_amount
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


stripe_bp = Blueprint("stripe_cli", __name__, cli_group="stripe")


@stripe_bp.cli.command("local-webhook-secret")
def local_webhook_secret_command() -> None:
    """Print the webhook secret, for `make run` to hand to localstripe (development only)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("This command is disabled in production.")
    click.echo(current_app.config["STRIPE_WEBHOOK_SECRET"])
