"""Staff for the benchmarks: created through the accounts service, signed in through the forms."""

from __future__ import annotations

from typing import Any

PASSWORD = "benchmark password that is long enough"  # noqa: S105  (a throw-away)


def make_staff(app: Any, email: str, role: str) -> int:
    """A vetted staff member with the benchmark password; returns the user id."""
    from accounts import services
    from accounts.models import Role
    from extensions import db

    with app.app_context():
        user = services.create_user(
            email, email.split("@", maxsplit=1)[0], Role(role), PASSWORD, actor=None
        )
        user.is_vetted = True
        db.session.commit()
        return int(user.id)


def login(app: Any, client: Any, email: str) -> None:
    """Sign a test client in through /login and /login/two-factor."""
    import pyotp

    from accounts.services import find_user_by_email
    from accounts.totp import totp_secret

    with app.app_context():
        user = find_user_by_email(email)
        if user is None:
            raise SystemExit(f"no staff member {email}")
        secret = totp_secret(user)
    client.post("/login", data={"email": email, "password": PASSWORD})
    response = client.post("/login/two-factor", data={"code": pyotp.TOTP(secret).now()})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
