"""Each TOTP code works once, even when two requests bring it at the same moment."""

from __future__ import annotations

import threading

import pytest

from accounts import totp
from accounts.models import Role, User
from extensions import db
from tests.conftest import current_code
from tests.factories import make_user, user_email


@pytest.mark.parametrize("round_number", range(3))
def test_two_concurrent_sign_ins_with_one_code_let_one_through(app, database_url, round_number):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL's row locks")
    user_id = make_user(app, Role.CASEWORKER)
    code = current_code(app, user_email(app, user_id))
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[bool | str] = []

    def sign_in() -> None:
        with app.app_context():
            # Both read the account (and its last used step) before either checks the code,
            # as two requests arriving together do.
            user = db.session.get(User, user_id)
            assert user.last_totp_step == 0
            barrier.wait()
            try:
                outcomes.append(totp.verify_totp(user, code))
                db.session.commit()
            except Exception as error:  # reported by the assertion below
                db.session.rollback()
                outcomes.append(repr(error))

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes, key=str) == [False, True]
    with app.app_context():
        assert totp.verify_totp(db.session.get(User, user_id), code) is False  # still used
