"""`flask --app app cases purge-expired` and `flask --app app keys rotate-master`."""

from __future__ import annotations

import sys

import click
from flask import Blueprint, current_app
from sqlalchemy import select

from accounts.models import User
from cases import services
from cases.models import CaseKey
from config import ConfigError, decode_key
from extensions import db
from fundraising.models import Donation
from security import fields as crypto
from security import sealing

bp = Blueprint("cases_cli", __name__, cli_group="cases")
keys_bp = Blueprint("keys_cli", __name__, cli_group="keys")


@bp.cli.command("purge-expired")
def purge_expired_command() -> None:
    """Crypto-shred closed cases whose retention period has ended."""
    count = services.purge_expired()
    db.session.commit()
    click.echo(f"Purged {count} case(s).")


@keys_bp.cli.command("rotate-master")
@click.option("--batch-size", default=200, show_default=True)
def rotate_master_command(batch_size: int) -> None:
    """Re-wrap every data key (and re-seal staff and donor secrets) under the new master key.

    The old key is read from standard input; the new one is CASE_MASTER_KEY. Field
    ciphertexts are untouched. Each batch commits, so an interrupted run resumes where it
    stopped: rows already under the new key are skipped.
    """
    try:
        old = decode_key("old master key", sys.stdin.readline().strip())
        new = decode_key("CASE_MASTER_KEY", current_app.config["CASE_MASTER_KEY"])
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    if old == new:
        raise click.ClickException("The old and new master keys are the same.")
    rotated = 0
    old_id, new_id = crypto.key_id(old), crypto.key_id(new)
    stray = db.session.scalar(
        select(CaseKey.case_id).where(CaseKey.master_key_id.not_in((old_id, new_id))).limit(1)
    )
    if stray is not None:
        raise click.ClickException(
            "Some case keys are under neither the old key given nor CASE_MASTER_KEY: "
            "check the old key. Nothing was changed."
        )
    while True:
        batch = db.session.scalars(
            select(CaseKey).where(CaseKey.master_key_id == old_id).limit(batch_size)
        ).all()
        if not batch:
            break
        for case_key in batch:
            data_key = crypto.unwrap(
                crypto.WrappedKey(case_key.master_key_id, case_key.wrapped_key),
                case_key.case_id,
                old,
            )
            wrapped = crypto.wrap(data_key, case_key.case_id, new)
            case_key.master_key_id, case_key.wrapped_key = wrapped.master_key_id, wrapped.wrapped
        db.session.commit()
        rotated += len(batch)
    resealed = 0
    for user in db.session.scalars(select(User).where(User.totp_secret_sealed.is_not(None))):
        resealed += _reseal(user, "totp_secret_sealed", "staff-totp", old, new)
    for donation in db.session.scalars(
        select(Donation).where(
            Donation.name_sealed.is_not(None) | Donation.email_sealed.is_not(None)
        )
    ):
        for field in ("name", "email"):
            resealed += _reseal(
                donation, f"{field}_sealed", f"donation:{donation.id}:{field}", old, new
            )
    db.session.commit()
    remaining = db.session.scalar(select(CaseKey.case_id).where(CaseKey.master_key_id != new_id))
    click.echo(f"Re-wrapped {rotated} case key(s), re-sealed {resealed} secret(s).")
    if remaining is not None:
        raise click.ClickException("Some case keys are under yet another master key.")


def _reseal(row: object, attribute: str, purpose: str, old: bytes, new: bytes) -> int:
    token = getattr(row, attribute)
    if not token or sealing.sealed_with(token) == crypto.key_id(new):
        return 0
    if sealing.sealed_with(token) != crypto.key_id(old):
        raise click.ClickException(
            f"A sealed {purpose} value is under neither the old key given nor CASE_MASTER_KEY: "
            "check the old key."
        )
    setattr(
        row,
        attribute,
        sealing.seal(sealing.unseal(token, purpose, master=old), purpose, master=new),
    )
    return 1
