"""`flask --app app keys rotate-master`: every package's values moved to the new master key."""

from __future__ import annotations

import sys

import click
from flask import Blueprint, current_app

from config import ConfigError, decode_key
from extensions import db
from security import rotation

keys_bp = Blueprint("keys_cli", __name__, cli_group="keys")


@keys_bp.cli.command("rotate-master")
@click.option("--batch-size", default=200, show_default=True)
def rotate_master_command(batch_size: int) -> None:
    """Re-wrap every data key (and re-seal staff and donor secrets) under the new master key.

    The old key is read from standard input; the new one is CASE_MASTER_KEY. Field
    ciphertexts are untouched. Each batch commits, so an interrupted run resumes where it
    stopped: values already under the new key are skipped.
    """
    if batch_size < 1:
        raise click.BadParameter("use a whole number above zero", param_hint="--batch-size")
    try:
        old = decode_key("old master key", sys.stdin.readline().strip())
        new = decode_key("CASE_MASTER_KEY", current_app.config["CASE_MASTER_KEY"])
        moved = rotation.rotate_master(old, new, batch_size)
    except (ConfigError, rotation.RotationRefused) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    kinds = {resealer.label: resealer.kind for resealer in rotation.resealers()}
    wrapped = sum(count for label, count in moved.items() if kinds[label] == "wrapped")
    sealed = sum(count for label, count in moved.items() if kinds[label] == "sealed")
    click.echo(f"Re-wrapped {wrapped} data key(s), re-sealed {sealed} secret(s).")
    for label, count in moved.items():
        click.echo(f"  {label}: {count} moved")
