"""`flask --app app backup create --to DIR`, `backup restore --from FILE --identity KEYFILE`
and `backup verify --from FILE --identity KEYFILE` (security/backup.py does the work)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from flask import Blueprint

from extensions import db
from security import backup, backup_keys

bp = Blueprint("backup_cli", __name__, cli_group="backup")

FROM = click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The encrypted backup (safe-passage-....age).",
)
IDENTITY = click.option(
    "--identity",
    required=True,
    help="The age identity file (AGE-SECRET-KEY-1...), or - to read it from standard input.",
)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(1)


def _identities(identity: str) -> list[Any]:
    if identity == "-":
        return backup_keys.parse_identities(sys.stdin.read(), "standard input")
    return backup_keys.read_identities(Path(identity))


def _summary(manifest: dict[str, Any]) -> str:
    head = manifest.get("audit_head") or {}
    return (
        f"{backup.KINDS[manifest['database']]} backup of {manifest['created_at']}, schema "
        f"revision {manifest.get('schema_revision')}, audit head record {head.get('record_id')}"
    )


@bp.cli.command("create")
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the encrypted backup and its manifest (created 0700 if missing).",
)
def create_command(directory: Path) -> None:
    """Dump the database consistently and encrypt it to BACKUP_AGE_RECIPIENT, with a manifest
    beside it; exit 1 naming the problem."""
    try:
        made = backup.create_backup(directory)
    except backup.BackupError as error:
        db.session.rollback()
        _fail(f"backup create: {error}")
    db.session.commit()  # the audit record of the backup
    click.echo(f"wrote {made.path} ({_summary(made.manifest)})")
    click.echo(f"manifest: {made.manifest_path}")


@bp.cli.command("restore")
@FROM
@IDENTITY
def restore_command(source: Path, identity: str) -> None:
    """Decrypt a backup and restore it into the app's database, which must be empty."""
    try:
        manifest = backup.restore_backup(source, _identities(identity))
    except backup.BackupError as error:
        _fail(f"backup restore: {error}")
    click.echo(f"restored the {_summary(manifest)}")
    click.echo(
        "next: flask --app app db upgrade (to this version's schema), then audit verify; on "
        "PostgreSQL, audit grant-app-role ROLE (the restore keeps no grants)"
    )


@bp.cli.command("verify")
@FROM
@IDENTITY
def verify_command(source: Path, identity: str) -> None:
    """Restore a backup into a throw-away database and check it (the audit chain among
    others); exit 1 on any failure."""
    try:
        manifest, results = backup.verify_backup(source, _identities(identity))
    except backup.BackupError as error:
        _fail(f"backup verify: {error}")
    click.echo(f"restored the {_summary(manifest)} into a throw-away database")
    for result in results:
        click.echo(f"  {result.name}: {'ok' if result.ok else 'FAILED'}: {result.message}")
    if not all(result.ok for result in results):
        _fail(f"backup verify: {source.name} FAILED its checks")
    click.echo(f"backup verify: {source.name} restores and passes every check")
