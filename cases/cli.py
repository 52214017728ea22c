"""`flask --app app cases purge-expired`."""

from __future__ import annotations

import click
from flask import Blueprint

from cases import services
from extensions import db

bp = Blueprint("cases_cli", __name__, cli_group="cases")


@bp.cli.command("purge-expired")
def purge_expired_command() -> None:
    """Crypto-shred closed cases whose retention period has ended."""
    count = services.purge_expired()
    db.session.commit()
    click.echo(f"Purged {count} case(s).")
