"""The password policy and the production hashing parameters."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from accounts import passwords


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short words", "at least 14"),
        ("passwordpassword", "Repeats"),
        ("Password123456!", "common"),
        ("x" * 129, "at most 128"),
        ("aaaaaaaaaaaaaaaaaaaa", "guess"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, message):
    with pytest.raises(passwords.WeakPassword, match=message):
        passwords.check_password_policy(password)


def test_personal_words_make_a_password_weaker():
    with pytest.raises(passwords.WeakPassword):
        passwords.check_password_policy("ada.lovelace@ex.org", "ada.lovelace@ex.org", "Ada")


def test_a_long_password_is_accepted_and_never_truncated():
    long_password = "quiet otter mango " * 7  # 126 characters
    passwords.check_password_policy(long_password)
    stored = passwords.hash_password(long_password)
    assert passwords.verify_password(stored, long_password)
    assert not passwords.verify_password(stored, long_password[:-1] + "X")


def test_production_hashing_is_argon2id_with_the_library_defaults(monkeypatch):
    monkeypatch.undo()  # the real hasher, not the quick one the other tests use
    stored = passwords.hash_password("violet lantern harbour sixty glide")
    assert stored.startswith("$argon2id$")
    real = PasswordHasher()
    assert passwords._hasher.time_cost == real.time_cost  # not the fast test hasher
    assert passwords._hasher.memory_cost == real.memory_cost


def test_no_stored_hash_never_verifies():
    assert not passwords.verify_password(None, "anything at all here")
