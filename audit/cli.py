"""`flask --app app audit verify`."""

import click
from flask import Blueprint

from audit.services import verify_chain

bp = Blueprint("audit", __name__, cli_group="audit")


@bp.cli.command("verify")
def verify_command() -> None:
    """Check the whole audit chain; exit 1 naming the first bad record."""
    report = verify_chain()
    if not report.ok:
        click.echo(
            f"audit chain broken at record {report.bad_record_id}: {report.problem}", err=True
        )
        raise SystemExit(1)
    click.echo(f"audit chain intact: {report.checked} records, head {report.head_hash}")
