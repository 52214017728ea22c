"""`flask --app app keys rotate-master`: every package's values moved to the new master key;
`keys rotate-blind-index`: every package's blind index recomputed under BLIND_INDEX_KEY;
`jobs worker`: the background jobs (security/jobs.py) taken from Redis and run."""

from __future__ import annotations

import sys

import click
from flask import Blueprint, current_app

from config import ConfigError, decode_key
from extensions import db
from security import blind_index, fields, generations_cli, jobs, rotation

keys_bp = Blueprint("keys_cli", __name__, cli_group="keys")
keys_bp.cli.add_command(generations_cli.rotate_generation_command)
keys_bp.cli.add_command(generations_cli.status_command)
jobs_bp = Blueprint("jobs_cli", __name__, cli_group="jobs")


@keys_bp.cli.command("rotate-master")
@click.option("--batch-size", default=200, show_default=True)
@click.option(
    "--to-token",
    is_flag=True,
    help="Move every data key from the file master key into the PKCS#11 token instead.",
)
def rotate_master_command(batch_size: int, to_token: bool) -> None:
    """Re-wrap every data key (and re-seal staff and donor secrets) under the new master key.

    The old key is read from standard input; the new one is CASE_MASTER_KEY. Field
    ciphertexts are untouched. Each batch commits, so an interrupted run resumes where it
    stopped: values already under the new key are skipped. With --to-token, data keys move
    from the file master key to the token's current key generation (nothing read from stdin).
    """
    if batch_size < 1:
        raise click.BadParameter("use a whole number above zero", param_hint="--batch-size")
    if to_token:
        generations_cli.move_to_token(batch_size)
        return
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


@keys_bp.cli.command("rotate-blind-index")
@click.option("--batch-size", default=200, show_default=True)
def rotate_blind_index_command(batch_size: int) -> None:
    """Recompute every blind index (the duplicate index of cases) under BLIND_INDEX_KEY.

    Set the new BLIND_INDEX_KEY first. Each batch commits; an interrupted run is simply run
    again (it recomputes everything, so nothing under the old key is left behind).
    """
    if batch_size < 1:
        raise click.BadParameter("use a whole number above zero", param_hint="--batch-size")
    try:
        decode_key("BLIND_INDEX_KEY", current_app.config["BLIND_INDEX_KEY"])
        done = [(index, index.reindex(batch_size)) for index in blind_index.reindexers()]
    except (ConfigError, fields.DecryptionError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    for index, count in done:
        click.echo(f"Recomputed the {index.label} of {count} {index.unit}(s).")


@jobs_bp.cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
def worker_command(burst: bool) -> None:
    """Run background jobs (mail, for one) from the queue on JOBS_REDIS_URL, retrying failed
    ones with back-off. Run one or more beside the web servers; without Redis, jobs run in
    the web process after each commit and no worker is needed."""
    try:
        jobs.work(burst=burst)
    except jobs.JobsNotConfigured as error:
        raise click.ClickException(str(error)) from error
