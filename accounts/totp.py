"""Staff TOTP: each account's sealed seed, its enrolment URI, and codes that work once."""

from __future__ import annotations

from typing import Any, cast

import pyotp
from flask import current_app
from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import User
from extensions import db
from security import rotation
from security.clock import now
from security.sealing import seal, unseal

TOTP_PURPOSE = "staff-totp"
TOTP_ISSUER = "Safe Passage"


class NoAuthenticator(ValueError):
    """The account has no authenticator set up (never enrolled, or reset)."""


def new_totp_secret(user: User) -> str:
    """Give the user a fresh TOTP secret (sealed at rest) and return it for enrolment."""
    secret = pyotp.random_base32()
    user.totp_secret_sealed = seal(secret, TOTP_PURPOSE)
    user.totp_confirmed_at = None
    user.last_totp_step = 0
    return secret


def totp_secret(user: User) -> str:
    """The user's TOTP secret, opened for display on the enrolment page."""
    if not user.totp_secret_sealed:
        raise NoAuthenticator("This account has no authenticator set up.")
    return unseal(user.totp_secret_sealed, TOTP_PURPOSE)


def check_totp_seeds(old: bytes, new: bytes) -> None:
    """Before a master-key rotation: every sealed TOTP seed is under the old or the new key."""
    seeds = db.session.scalars(
        select(User.totp_secret_sealed).where(User.totp_secret_sealed.is_not(None))
    )
    rotation.check_sealed(seeds, "staff TOTP seeds", old, new)


def reseal_totp_seeds(old: bytes, new: bytes, batch_size: int) -> int:
    """Re-seal every TOTP seed still under the old master key; the number moved."""
    moved = 0
    users = db.session.scalars(select(User).where(User.totp_secret_sealed.is_not(None))).all()
    for number, user in enumerate(users, start=1):
        token = rotation.resealed(user.totp_secret_sealed, TOTP_PURPOSE, old, new)
        if token is not None:
            user.totp_secret_sealed = token
            moved += 1
        if number % batch_size == 0:
            db.session.commit()
    db.session.commit()
    return moved


TOTP_SEEDS = rotation.Resealer("staff TOTP seeds", "sealed", check_totp_seeds, reseal_totp_seeds)


def provisioning_uri(user: User) -> str:
    """The otpauth:// URI an authenticator app scans."""
    issuer = current_app.config.get("ORGANISATION_NAME") or TOTP_ISSUER
    return pyotp.TOTP(totp_secret(user)).provisioning_uri(name=user.email, issuer_name=issuer)


def verify_totp(user: User, code: str) -> bool:
    """Accept a 6-digit code once per time step, allowing one step of clock drift."""
    code = code.strip().replace(" ", "")
    if not user.totp_secret_sealed or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(totp_secret(user))
    moment = now()
    current_step = totp.timecode(moment)
    for step in (current_step - 1, current_step, current_step + 1):
        if step <= user.last_totp_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return _use_totp_step(user, step)
    return False


USERS = cast(Table, User.__table__)


def _use_totp_step(user: User, step: int) -> bool:
    """Claim a time step for this user, once: a conditional UPDATE, so of two requests with
    the same code at the same moment (each having read the old step) only one moves it; the
    other waits on the row and then finds nothing to update."""
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(USERS)
            .where(USERS.c.id == user.id, USERS.c.last_totp_step < step)
            .values(last_totp_step=step)
        ),
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(user, "last_totp_step", step)
    return True
