"""On PostgreSQL the app's role may add audit records but never change or remove them."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

import audit
from audit.models import AuditRecord
from extensions import db
from tests.factories import count_rows

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


@pytest.fixture
def role(postgres_server):
    """A new login role, dropped (with its grants) afterwards."""
    name = f"sp_app_{uuid.uuid4().hex[:10]}"
    admin_url = postgres_server.url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP OWNED BY {name}")
        connection.execute(f"DROP ROLE {name}")


def _grant(app, role):
    return app.test_cli_runner().invoke(args=["audit", "grant-app-role", role])


def _as_role(make_app, database_url, role):
    return make_app(SQLALCHEMY_DATABASE_URI=database_url.replace("postgres@", f"{role}@", 1))


def _refused(app, statement):
    with app.app_context():
        with pytest.raises(ProgrammingError) as raised:
            db.session.execute(text(statement))
        db.session.rollback()
    assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)


def test_the_app_role_inserts_audit_records_but_cannot_update_or_delete_them(
    app, make_app, database_url, role
):
    result = _grant(app, role)
    assert result.exit_code == 0, result.output
    revoke = f'REVOKE UPDATE, DELETE, TRUNCATE ON "public".audit_records FROM "{role}"'
    assert revoke in result.output
    as_role = _as_role(make_app, database_url, role)
    with as_role.app_context():
        assert db.session.scalar(text("SELECT current_user")) == role
        for number in range(3):
            audit.record(None, "test.action", "thing", number)  # moves audit_head too
        db.session.commit()
    assert count_rows(as_role, AuditRecord) == 3
    _refused(as_role, "UPDATE audit_records SET details = '{}'")
    _refused(as_role, "UPDATE audit_records SET record_hash = previous_hash")
    _refused(as_role, "DELETE FROM audit_records")
    _refused(as_role, "TRUNCATE audit_records")
    _refused(as_role, "DELETE FROM audit_head")
    assert count_rows(app, AuditRecord) == 3
    verified = as_role.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "3 records" in verified.output


def test_the_app_role_keeps_full_use_of_the_other_tables(app, make_app, database_url, role):
    assert _grant(app, role).exit_code == 0
    as_role = _as_role(make_app, database_url, role)
    with as_role.app_context():
        db.session.execute(
            text(
                "INSERT INTO login_throttles (key, failures, last_failure_at) "
                "VALUES ('k', 1, now())"
            )
        )
        db.session.execute(text("UPDATE login_throttles SET failures = 2"))
        db.session.execute(text("DELETE FROM login_throttles"))
        db.session.commit()


def test_granting_twice_is_harmless(app, role):
    assert _grant(app, role).exit_code == 0
    assert _grant(app, role).exit_code == 0


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("nobody_has_this_role", "does not exist: create it first"),
        ('x"; DROP TABLE cases; --', "is not a plain role name"),
        ("postgres", "is a superuser"),
    ],
)
def test_bad_roles_are_refused_with_a_clear_message(app, name, problem):
    result = _grant(app, name)
    assert result.exit_code == 1
    assert problem in result.output


def test_the_owner_of_the_tables_is_refused(app, postgres_server, role):
    admin_url = postgres_server.url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"GRANT postgres TO {role}")
    result = _grant(app, role)
    assert result.exit_code == 1
    assert "must be a separate role" in result.output
