"""`flask --app app keys rotate-generation` and `keys status`: the token's key generations
(commands of the `keys` group in security/cli.py)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from extensions import db
from security import fields, keystore
from security.clock import now
from security.token import TokenError

FAILURES = (keystore.KeystoreError, TokenError, fields.DecryptionError)


def _fail(error: Exception) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(str(error))


def _moved(report: keystore.RotationReport) -> None:
    for label, count in report.moved.items():
        click.echo(f"  {label}: {count} re-wrapped under {report.current}")


def move_to_token(batch_size: int) -> None:
    try:
        report = keystore.move_to_token(batch_size)
    except FAILURES as error:
        raise _fail(error) from error
    click.echo(f"Moved data keys into the token, key generation {report.current}.")
    _moved(report)


@click.command("rotate-generation")
@with_appcontext
@click.option("--force", is_flag=True, help="Start a new generation even if the current is young.")
@click.option("--batch-size", default=200, show_default=True)
def rotate_generation_command(force: bool, batch_size: int) -> None:
    """Run daily: a new key generation every KEY_GENERATION_DAYS, every data key re-wrapped
    under the current one, and generations superseded BACKUP_RETENTION_DAYS ago destroyed in
    the token. Exits non-zero when a due generation could not be destroyed."""
    if batch_size < 1:
        raise click.BadParameter("use a whole number above zero", param_hint="--batch-size")
    try:
        report = keystore.rotate_generation(force=force, batch_size=batch_size)
    except FAILURES as error:
        raise _fail(error) from error
    if report.created:
        click.echo(f"Started key generation {report.created}.")
    else:
        click.echo(f"Key generation {report.current} is current; no new generation is due.")
    _moved(report)
    for generation_id in report.destroyed:
        click.echo(f"Destroyed key generation {generation_id} in the token.")
    if report.still_in_use:
        raise click.ClickException(
            "not destroyed, data keys still use them: " + ", ".join(report.still_in_use)
        )


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "-"


@click.command("status")
@with_appcontext
def status_command() -> None:
    """Each key generation, its age, its data keys and whether this token still holds it;
    exits non-zero when something needs doing."""
    try:
        rows, problems = keystore.status()
    except FAILURES as error:
        raise _fail(error) from error
    token = keystore.token()
    where = token.label if token is not None else "-"
    click.echo(
        f"{'generation':<11}{'age':>6}  {'created':<11}{'superseded':<11}"
        f"{'destroy after':<14}{'destroyed':<11}{'data keys':>9}  in token {where}"
    )
    for row in rows:
        age = (now() - row.created_at).days
        click.echo(
            f"{row.id:<11}{age:>5}d  {_date(row.created_at):<11}{_date(row.superseded_at):<11}"
            f"{_date(row.destroy_after):<14}{_date(row.destroyed_at):<11}{row.data_keys:>9}  "
            f"{'yes' if row.in_token else 'no'}"
        )
    if not rows:
        click.echo("No key generation yet: the first is created with the first case.")
    for problem in problems:
        click.echo(f"! {problem}", err=True)
    if problems:
        raise SystemExit(1)
