"""Argon2id password hashing and the password policy."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 14
MAX_LENGTH = 128
ZXCVBN_MAX_LENGTH = 72

_hasher = PasswordHasher()  # Argon2id with the library's current RFC 9106 parameters


class WeakPassword(ValueError):
    """The password breaks the policy; the message says how."""


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not a real password: this hash evens out the timing")


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    """Argon2id hash of the whole password (never truncated)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time on a dummy one."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str, *personal: str) -> None:
    """Raise WeakPassword unless the password is long, uncommon and not guessable."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    folded = password.casefold()
    if folded in _common_passwords() or folded.strip("0123456789!?. ") in _common_passwords():
        raise WeakPassword("This password is on the list of common passwords. Choose another.")
    # zxcvbn refuses more than ZXCVBN_MAX_LENGTH characters (its estimate is slow past that);
    # it judges the start, and the policy above has seen the whole password.
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[word for word in personal if word])
    if result["score"] < 3:
        hint = result["feedback"].get("warning") or "It is too easy to guess."
        raise WeakPassword(f"{hint} Try a few unrelated words together.")
