"""Case test helpers: quick hashing, an intake form, staff signed in on their own clients."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from accounts.models import Role
from tests.conftest import Clock
from tests.factories import StaffMember

INTAKE = {
    "legal_name": "Zuleika Quintanar-Oyelaran",
    "known_as": "Zuzu Oyel",
    "date_of_birth": "1991-03-14",
    "contact": "Signal zuleika.q.42 on +44 7700 900123",  # one contact at intake
    "current_location": "Safehouse above Marrowgate bakery",
    "region": "Eastern Region",
    "risk_level": "high",
    "household_size": "2",
    "referral_source": "partner",
    "risk_narrative": "Threatened by Vasquez-Thornbury cousins",
    "needs": "Insulin for Kestrel",
    "household_members": "Kestrel Quintanar (son)",
}

# Strings that must never leave the encrypted columns (audit, logs, raw files).
SECRETS = [
    INTAKE[field]
    for field in (
        "legal_name",
        "known_as",
        "current_location",
        "risk_narrative",
        "needs",
        "household_members",
    )
] + ["7700 900123", "zuleika.q.42"]


@pytest.fixture(autouse=True)
def _no_identity_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Whatever any case test logs, no test identity appears in it."""
    caplog.set_level(logging.DEBUG)
    yield
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for secret in SECRETS:
        assert secret not in logged
        assert secret.casefold() not in logged.casefold()


class Person(StaffMember):
    """A staff member signed in on their own test client, who can take in a case."""

    def create_case(self, **changes: str) -> str:
        """Create a case through the intake form; return its id."""
        response = self.client.post("/cases/new", data={**INTAKE, **changes})
        assert response.status_code == 302, response.get_data(as_text=True)
        return str(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def person(app: Flask, clock: Clock) -> Any:
    """Make people: person(Role.CASEWORKER) is signed in and ready."""

    def make(role: Role = Role.CASEWORKER, email: str | None = None) -> Person:
        return Person(app, clock, role, email)

    return make
