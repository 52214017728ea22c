"""The `flask --app app cases` commands: purge-expired, snapshot-spending, task-digest."""

from __future__ import annotations

import click
from flask import Blueprint

from cases import services, tasks, transparency
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


@bp.cli.command("task-digest")
def task_digest_command() -> None:
    """Email each caseworker how many of their tasks are overdue or due this week, and on
    which case codes (never a name or a task's text). Run it daily; does nothing without SMTP."""
    count = tasks.queue_digests()
    db.session.commit()  # the digest jobs start once this commits
    if count is None:
        click.echo("SMTP is not configured: no task digest sent.")
        return
    click.echo(f"Queued {count} task digest(s).")
