"""`flask --app app users ...`: create staff from the command line."""

from __future__ import annotations

import sys

import click
import pyotp
from flask import Blueprint, current_app

from accounts import services, totp, vetting
from accounts.models import Role, User
from accounts.passwords import WeakPassword
from extensions import db

bp = Blueprint("users_cli", __name__, cli_group="users")


@bp.cli.command("create")
@click.option("--email", required=True, help="The staff member's email (their sign-in name).")
@click.option("--name", required=True, help="The name shown to other staff.")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
def create_command(email: str, name: str, role: str) -> None:
    """Create a vetted user; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.create_user(email, name, Role(role), password, actor=None)
    except (services.AccountError, WeakPassword) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}), vetted.")
    click.echo("Add this to an authenticator app (it is shown only now):")
    click.echo(totp.provisioning_uri(user))


def _user_or_fail(email: str) -> User:
    user = services.find_user_by_email(email)
    if user is None:
        raise click.ClickException("No such user.")
    return user


@bp.cli.command("vet")
@click.option("--email", required=True)
def vet_command(email: str) -> None:
    """Vet an account when no second admin could (a group with one admin); audited as such."""
    try:
        vetting.vet_user_from_cli(_user_or_fail(email))
    except services.AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{email} is vetted. The audit log records it as vetted from the command line.")


@bp.cli.command("role")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
def role_command(email: str, role: str) -> None:
    """Change a role when no second admin could approve it; their sessions end."""
    try:
        vetting.change_role_from_cli(_user_or_fail(email), Role(role))
    except services.AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{email} is now {role}; their sessions ended.")


@bp.cli.command("code")
@click.option("--email", required=True)
def code_command(email: str) -> None:
    """Print a user's current TOTP code (development only, for the demo without a phone)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException(
            "users code is disabled in production: a sign-in code comes from the staff "
            "member's own authenticator, never from the server."
        )
    user = _user_or_fail(email)
    try:
        click.echo(pyotp.TOTP(totp.totp_secret(user)).now())
    except totp.NoAuthenticator as error:
        raise click.ClickException(str(error)) from error
