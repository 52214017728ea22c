"""`flask --app app audit verify`, `audit anchor` and `audit grant-app-role`."""

from __future__ import annotations

import os
from typing import NoReturn

import click
from flask import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from audit.anchors import (
    PATH_SETTING,
    AnchorError,
    anchor_line,
    anchor_path,
    append_anchor,
    check_anchors,
    read_anchors,
)
from audit.roles import RoleError, grant_app_role
from audit.services import verify_chain
from audit.verifications import record_verification
from extensions import db

bp = Blueprint("audit", __name__, cli_group="audit")


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(1)


@bp.cli.command("verify")
def verify_command() -> None:
    """Check the whole audit chain, and against the anchors in AUDIT_ANCHOR_PATH when set;
    exit 1 naming the first problem. The outcome is kept for /metrics (audit_chain_ok)."""
    report = verify_chain()
    summary = f"audit chain intact: {report.checked} records, head {report.head_hash}"
    problem: str | None = None
    if not report.ok:
        problem = f"audit chain broken at record {report.bad_record_id}: {report.problem}"
    path = anchor_path()
    if problem is None and path is None:
        summary += f" ({PATH_SETTING} is not set: not checked against an anchor)"
    elif problem is None and path is not None:
        try:
            anchors = read_anchors(path)
            if not anchors:
                raise AnchorError(f"{PATH_SETTING} {path} holds no anchors (run audit anchor)")
            check_anchors(anchors)
        except AnchorError as error:
            problem = f"audit log does not match its anchors: {error}"
        else:
            latest = anchors[-1]
            summary += (
                f"; matches {len(anchors)} anchors, the latest of {latest.time} "
                f"(record {latest.record_id}, {latest.count} records)"
            )
    _remember(is_intact=problem is None, records_checked=report.checked)
    if problem is not None:
        _fail(problem)
    click.echo(summary)


def _remember(*, is_intact: bool, records_checked: int) -> None:
    """Keep the outcome for /metrics; a database that refuses it does not hide the verdict."""
    db.session.rollback()  # the verification's reads end here; the row is its own transaction
    try:
        record_verification(is_intact=is_intact, records_checked=records_checked)
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        click.echo(f"(the outcome was not kept for /metrics: {type(error).__name__})", err=True)


@bp.cli.command("anchor")
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the anchor line (e.g. for `| logger`) instead of appending it to the file.",
)
def anchor_command(to_stdout: bool) -> None:
    """Verify the chain, then append its signed head to AUDIT_ANCHOR_PATH (or print it)."""
    path = anchor_path()
    if path is None and not to_stdout:
        _fail(
            f"{PATH_SETTING} is not set: set it to a file outside the database that the app may "
            "append to but not rewrite (chattr +a), or use --stdout to send the anchor to syslog"
        )
    report = verify_chain()
    if not report.ok:
        _fail(f"refusing to anchor a broken chain: record {report.bad_record_id}: {report.problem}")
    try:
        if path is not None and _has_anchors(path):
            check_anchors(read_anchors(path))
        line = anchor_line(report)
        if to_stdout or path is None:
            click.echo(line)
            return
        append_anchor(path, line)
    except AnchorError as error:
        _fail(f"refusing to anchor: {error}")
    click.echo(f"anchored record {report.head_record_id} ({report.checked} records) in {path}")


def _has_anchors(path: str) -> bool:
    """Whether there is an anchor file to check against (the first anchor starts one)."""
    return os.path.isfile(path) and os.path.getsize(path) > 0


@bp.cli.command("grant-app-role")
@click.argument("role")
def grant_app_role_command(role: str) -> None:
    """PostgreSQL, as the tables' owner after migrations: give ROLE what the app needs, but no
    UPDATE, DELETE or TRUNCATE on audit_records."""
    try:
        statements = grant_app_role(role)
    except RoleError as error:
        db.session.rollback()
        _fail(f"grant-app-role: {error}")
    db.session.commit()
    for statement in statements:
        click.echo(statement)
    click.echo(f"role {role} may now run the app; it cannot update or delete audit records")
