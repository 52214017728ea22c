"""The PostgreSQL role the app connects as: all it needs, but it cannot rewrite the audit log.

Run as the tables' owner (who runs migrations). The app role may SELECT and INSERT
audit_records but not UPDATE, DELETE or TRUNCATE them; audit_head (moved by every record) may be
read, inserted and updated, never deleted or truncated; alembic_version only read.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from extensions import db

ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class RoleError(Exception):
    """The grants cannot be made for this role or database."""


def _scalar(statement: str, **params: object) -> object:
    return db.session.execute(text(statement), params).scalar()


def grant_app_role(role: str) -> list[str]:
    """Issue the grants and revokes for `role` in the caller's transaction; the statements."""
    if db.session.get_bind().dialect.name != "postgresql":
        raise RoleError("grant-app-role is for PostgreSQL: SQLite has no roles to restrict")
    if not ROLE_NAME.match(role):
        raise RoleError(
            f"{role!r} is not a plain role name (letters, digits and _, not starting with a digit)"
        )
    superuser = _scalar("SELECT rolsuper FROM pg_roles WHERE rolname = :role", role=role)
    if superuser is None:
        raise RoleError(f"role {role} does not exist: create it first (CREATE ROLE {role} LOGIN)")
    if superuser:
        raise RoleError(f"role {role} is a superuser, which no grant can restrict")
    owner = _scalar(
        "SELECT tableowner FROM pg_tables "
        "WHERE schemaname = current_schema() AND tablename = 'audit_records'"
    )
    if owner is None:
        raise RoleError("there is no audit_records table: run flask --app app db upgrade first")
    if _scalar("SELECT pg_has_role(:role, :owner, 'MEMBER')", role=role, owner=owner):
        raise RoleError(
            f"role {role} owns the tables (or is a member of {owner}, who does): the app role "
            "must be a separate role from the one that runs migrations"
        )
    quote = db.session.get_bind().dialect.identifier_preparer.quote_identifier
    who = quote(role)
    schema = quote(str(_scalar("SELECT current_schema()")))
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        # Tables a later migration creates (as this owner) reach the app role too.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {who}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_records FROM {who}",
        f"REVOKE DELETE, TRUNCATE ON {schema}.audit_head FROM {who}",
    ]
    if _scalar("SELECT to_regclass('alembic_version')") is not None:
        statements.append(
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.alembic_version FROM {who}"
        )
    try:
        for statement in statements:
            db.session.execute(text(statement))
    except DBAPIError as error:
        raise RoleError(
            f"PostgreSQL refused ({type(error.orig).__name__}): run this as the tables' owner"
        ) from error
    return statements
