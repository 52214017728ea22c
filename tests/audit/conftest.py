"""Quick password hashing for these tests (see tests.factories.use_fast_password_hashing)."""

import pytest

from tests.factories import use_fast_password_hashing


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch):
    use_fast_password_hashing(monkeypatch)
