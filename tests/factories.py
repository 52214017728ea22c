"""Test data built through the same services the app uses."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from accounts import services
from accounts.models import Role, User
from extensions import db
from tests.conftest import PASSWORD, Auth, Clock, current_code


def make_user(
    app: Flask,
    role: Role | str = Role.CASEWORKER,
    email: str | None = None,
    *,
    password: str = PASSWORD,
    is_vetted: bool = True,
    **fields: Any,
) -> int:
    """Create a staff user (with a TOTP secret) and return their id."""
    role = Role(role)
    with app.app_context():
        count = db.session.query(User).count()
        user = services.create_user(
            email or f"{role.value}{count}@example.org",
            f"Test {role.label} {count}",
            role,
            password,
            actor=None,
        )
        user.is_vetted = is_vetted
        for name, value in fields.items():
            setattr(user, name, value)
        db.session.commit()
        return user.id


def user_email(app: Flask, user_id: int) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return user.email


def make_drive(app: Flask, slug: str = "relocation", **fields: Any) -> int:
    """A live drive (open now by the app's clock unless told otherwise); returns its id."""
    from datetime import timedelta

    from fundraising import drives
    from security.clock import now

    with app.app_context():
        moment = now()
        settings: dict[str, Any] = {
            "slug": slug,
            "title": "Relocate five people",
            "goal_minor": 6_000_000,
            "currency": "usd",
            "starts_at": moment - timedelta(hours=1),
            "ends_at": moment + timedelta(hours=72),
            "story": "People are hunted for **who they are**.",
        }
        settings.update(fields)
        drive = drives.create_drive(**settings)
        db.session.commit()
        return drive.id


def count_rows(app: Flask, model: Any) -> int:
    """How many rows a model's table holds."""
    with app.app_context():
        return int(db.session.query(model).count())


def audit_actions(app: Flask, action_prefix: str = "") -> list[str]:
    """The audit log's actions in order, optionally only those starting with a prefix."""
    from sqlalchemy import select

    from audit.models import AuditRecord

    with app.app_context():
        actions = db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
    return [action for action in actions if action.startswith(action_prefix)]


def get_user(app: Flask, user_id: int) -> User:
    """A detached copy of a user's current row, for assertions."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        db.session.expunge(user)
        return user


def form_tokens(html: str) -> list[str]:
    """The values of every csrf_token input on a page."""
    import re

    return re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html) + re.findall(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )


class StaffMember:
    """A staff member signed in on their own test client (cases and finance tests)."""

    def __init__(self, app: Flask, clock: Clock, role: Role, email: str | None = None) -> None:
        self.app = app
        self.id = make_user(app, role, email)
        self.email = user_email(app, self.id)
        self.client: FlaskClient = app.test_client()
        self.auth = Auth(app, self.client, clock)
        self.auth.login(self.email)

    def reauthenticate(self) -> Any:
        """Give password and a fresh code again (a new TOTP step, so the code is unused)."""
        self.auth.clock.advance(seconds=30)
        code = current_code(self.app, self.email)
        return self.client.post("/reauthenticate", data={"password": PASSWORD, "code": code})
