"""Argon2id password hashing and the password policy."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 14
MAX_LENGTH = 128
ZXCVBN_MAX_LENGTH = 72

_hasher = PasswordHasher()  # Argon2id with the library's current RFC 9106 parameters

# zxcvbn's warnings (zxcvbn/feedback.py) are English only: listed here so that they are
# extracted and translated with the app's messages. One zxcvbn does not list falls back to
# the general hint, so no English sentence reaches a page in another language.
ZXCVBN_WARNINGS = {
    "Straight rows of keys are easy to guess.": _l("Straight rows of keys are easy to guess."),
    "Short keyboard patterns are easy to guess.": _l("Short keyboard patterns are easy to guess."),
    'Repeats like "aaa" are easy to guess.': _l('Repeats like "aaa" are easy to guess.'),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': _l(
        'Repeats like "abcabcabc" are only slightly harder to guess than "abc".'
    ),
    'Sequences like "abc" or "6543" are easy to guess.': _l(
        'Sequences like "abc" or "6543" are easy to guess.'
    ),
    "Recent years are easy to guess.": _l("Recent years are easy to guess."),
    "Dates are often easy to guess.": _l("Dates are often easy to guess."),
    "This is a top-10 common password.": _l("This is a top-10 common password."),
    "This is a top-100 common password.": _l("This is a top-100 common password."),
    "This is a very common password.": _l("This is a very common password."),
    "This is similar to a commonly used password.": _l(
        "This is similar to a commonly used password."
    ),
    "A word by itself is easy to guess.": _l("A word by itself is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _l(
        "Names and surnames by themselves are easy to guess."
    ),
    "Common names and surnames are easy to guess.": _l(
        "Common names and surnames are easy to guess."
    ),
}


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
        raise WeakPassword(_("Use at least %(count)d characters.", count=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise WeakPassword(_("Use at most %(count)d characters.", count=MAX_LENGTH))
    folded = password.casefold()
    if folded in _common_passwords() or folded.strip("0123456789!?. ") in _common_passwords():
        raise WeakPassword(_("This password is on the list of common passwords. Choose another."))
    # zxcvbn refuses more than ZXCVBN_MAX_LENGTH characters (its estimate is slow past that);
    # it judges the start, and the policy above has seen the whole password.
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[word for word in personal if word])
    if result["score"] < 3:
        warning = result["feedback"].get("warning") or ""
        hint = ZXCVBN_WARNINGS.get(warning) or _l("It is too easy to guess.")
        raise WeakPassword(_("%(hint)s Try a few unrelated words together.", hint=hint))
