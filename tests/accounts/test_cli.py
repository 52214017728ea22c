"""`flask --app app users create` and `flask --app app demo`."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from tests.conftest import PASSWORD, Auth
from tests.factories import audit_actions, count_rows


def test_users_create_prints_the_enrolment_uri_last_and_the_user_can_sign_in(
    app, runner, client, clock
):
    result = runner.invoke(
        args=["users", "create", "--email", "Ops@Example.org", "--name", "Ops", "--role", "admin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    last_line = result.output.strip().splitlines()[-1]
    assert last_line.startswith("otpauth://totp/")
    assert "secret=" in last_line
    Auth(app, client, clock).login("ops@example.org")
    assert client.get("/admin/").status_code == 200
    assert "user.created" in audit_actions(app)


@pytest.mark.parametrize("password", ["short", "passwordpassword"])
def test_users_create_refuses_a_weak_password_and_creates_nothing(app, runner, password):
    result = runner.invoke(
        args=["users", "create", "--email", "a@example.org", "--name", "A", "--role", "finance"],
        input=password + "\n",
    )
    assert result.exit_code != 0
    assert "Error:" in result.output
    assert "otpauth://" not in result.output
    assert count_rows(app, User) == 0


def test_users_create_refuses_an_unknown_role(app, runner):
    result = runner.invoke(
        args=["users", "create", "--email", "a@example.org", "--name", "A", "--role", "root"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert count_rows(app, User) == 0


@pytest.fixture
def demo_runner(make_app, monkeypatch, tmp_path):
    # The demo writes its credentials into the instance folder: keep it out of the project.
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "demo-instance"))
    return make_app().test_cli_runner()


def _demo(runner):
    # `flask` pushes an app context for commands added to app.cli; the test runner does not.
    with runner.app.app_context():
        return runner.invoke(args=["demo"])


def test_demo_seeds_one_user_per_role_once(demo_runner, tmp_path):
    first = _demo(demo_runner)
    assert first.exit_code == 0, first.output
    app = demo_runner.app
    with app.app_context():
        from sqlalchemy import select

        from extensions import db

        roles = sorted(role.value for role in db.session.scalars(select(User.role)))
    assert roles == sorted(role.value for role in Role)
    assert first.output.count("otpauth://") == len(Role)
    credentials = tmp_path / "demo-instance" / "demo-credentials.txt"
    assert credentials.stat().st_mode & 0o777 == 0o600

    second = _demo(demo_runner)
    assert second.exit_code == 0
    assert "nothing seeded" in second.output
    assert count_rows(app, User) == len(Role)


def test_users_code_for_an_account_without_an_authenticator_says_so(app, runner):
    """After a reset the seed is gone: a clear message, not a stack trace."""
    from accounts import services
    from extensions import db
    from tests.factories import make_user, user_email

    user_id = make_user(app, Role.FINANCE)
    admin_id = make_user(app, Role.ADMIN)
    with app.app_context():
        user = db.session.get(User, user_id)
        services.issue_reset_link(user, actor=db.session.get(User, admin_id))
        db.session.commit()
    result = runner.invoke(args=["users", "code", "--email", user_email(app, user_id)])
    assert result.exit_code == 1
    assert "no authenticator set up" in result.output
