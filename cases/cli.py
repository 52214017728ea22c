"""`flask --app app cases purge-expired` and `flask --app app cases snapshot-spending`."""

from __future__ import annotations

import click
from flask import Blueprint

from cases import services, transparency
from extensions import db

bp = Blueprint("cases_cli", __name__, cli_group="cases")


@bp.cli.command("purge-expired")
def purge_expired_command() -> None:
    """Crypto-shred closed cases whose retention period has ended."""
    count = services.purge_expired()
    db.session.commit()
    if count:
        services.finish_purge(None)
    click.echo(f"Purged {count} case(s).")


@bp.cli.command("snapshot-spending")
def snapshot_spending_command() -> None:
    """Freeze each drive's public spending for every month that has ended (run it daily)."""
    count = transparency.freeze_all_spending()
    db.session.commit()
    click.echo(f"Froze {count} monthly snapshot(s).")
