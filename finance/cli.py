"""`flask --app app stripe sync [--since DATE]` (finance's init_app adds it to `flask stripe`)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from extensions import db
from finance import reconcile
from fundraising.stripe_gateway import GatewayRejected, GatewayUnavailable, current_gateway


@click.command("sync")
@with_appcontext
@click.option("--since", default=None, help="Only payouts created on or after this date (ISO).")
def sync_command(since: str | None) -> None:
    """Fetch payouts and their balance transactions from Stripe and match them; idempotent."""
    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError as error:
            raise click.BadParameter(
                "use an ISO date, e.g. 2026-11-01", param_hint="--since"
            ) from error
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    try:
        payouts = reconcile.sync_since(current_gateway(), start)
    except (GatewayUnavailable, GatewayRejected) as error:
        db.session.rollback()
        raise click.ClickException(f"Stripe: {error}") from error
    unbalanced = [payout.id for payout in payouts if not payout.is_balanced]
    click.echo(f"Synced {len(payouts)} payout(s); {len(unbalanced)} do not add up.")
    for payout_id in unbalanced:
        click.echo(f"  {payout_id}: lines do not sum to the payout amount")
