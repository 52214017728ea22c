"""Demo staff for `flask --app app demo` (development only)."""

from __future__ import annotations

import secrets

from accounts import services, totp
from accounts.models import Role

DEMO_DOMAIN = "demo.invalid"


def is_seeded() -> bool:
    """True when the demo staff already exist."""
    return services.find_user_by_email(f"admin@{DEMO_DOMAIN}") is not None


def seed_demo_users() -> list[str]:
    """One vetted user per role with a random password; returns lines describing them."""
    lines = ["Demo staff (development only):"]
    for role in Role:
        email = f"{role.value}@{DEMO_DOMAIN}"
        password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
        user = services.create_user(email, f"Demo {role.label}", role, password, actor=None)
        lines.append(f"  {role.label!s:<11} email {email}  password {password}")
        lines.append(f"              authenticator: {totp.provisioning_uri(user)}")
    lines.append("Current code without a phone: flask --app app users code --email EMAIL")
    return lines
