"""`flask keys rotate-blind-index`: every live case's duplicate index recomputed under the new
BLIND_INDEX_KEY, in batches, re-runnable, audited once without personal data."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from cases import services
from cases.models import BlindIndexEntry, Case, DuplicateReview
from extensions import db
from security.blind_index import blind_index, normalise_contact, normalise_name
from tests.cases.conftest import INTAKE, SECRETS, Person
from tests.factories import audit_actions

NEW = base64.b64encode(b"c" * 32).decode()  # the test settings' key is b"b" * 32
NAMES = [f"Person Number {number}" for number in range(5)]
CONTACTS = [f"+1555010{number}" for number in range(5)]


@pytest.fixture
def world(app, person):
    """Five cases under the old key, the last of them purged."""
    worker = person()
    case_ids = [
        worker.create_case(legal_name=name, known_as="", contact=contact)
        for name, contact in zip(NAMES, CONTACTS, strict=True)
    ]
    with app.app_context():
        services.purge_case(db.session.get(Case, case_ids[-1]), None, "test")
        db.session.commit()
    return worker, case_ids


def _old_digests(app):
    """What the old key makes of every name and contact, purged case included."""
    with app.app_context():
        return {blind_index("name", normalise_name(name)) for name in NAMES} | {
            blind_index("contact", normalise_contact(contact)) for contact in CONTACTS
        }


def _entries(app):
    with app.app_context():
        return sorted(
            db.session.execute(
                select(BlindIndexEntry.case_id, BlindIndexEntry.kind, BlindIndexEntry.digest)
            ).all()
        )


def _rotate(app, *extra):
    return app.test_cli_runner().invoke(args=["keys", "rotate-blind-index", *extra])


def test_rotation_moves_the_index_to_the_new_key(make_app, app, world, clock):
    _, case_ids = world
    old = _old_digests(app)
    assert {digest for *_, digest in _entries(app)} <= old
    rotated = make_app(BLIND_INDEX_KEY=NEW)

    result = _rotate(rotated, "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert result.output == "Recomputed the duplicate index of 4 case(s).\n"
    entries = _entries(rotated)
    assert not {digest for *_, digest in entries} & old  # nothing under the old key is left
    assert {case_id for case_id, *_ in entries} == set(case_ids[:-1])  # purged: no entries
    assert len(entries) == 8  # a name and a contact for each live case

    # Duplicate detection works under the new key; the purged case matches nothing.
    other = Person(rotated, clock, Role.CASEWORKER)
    newcomer = other.create_case(legal_name="person number 2", known_as="", contact="")
    purged_name = other.create_case(legal_name="Person Number 4", known_as="", contact="")
    with rotated.app_context():
        reviews = db.session.execute(
            select(DuplicateReview.case_id, DuplicateReview.matched_case_id, DuplicateReview.kinds)
        ).all()
    assert reviews == [(newcomer, case_ids[2], "name")]
    assert purged_name not in {case_id for case_id, *_ in reviews}


def test_a_rerun_is_harmless(make_app, app, world):
    rotated = make_app(BLIND_INDEX_KEY=NEW)
    assert _rotate(rotated).exit_code == 0
    first = _entries(rotated)
    again = _rotate(rotated, "--batch-size", "1")
    assert again.exit_code == 0, again.output
    assert "Recomputed the duplicate index of 4 case(s)." in again.output
    assert _entries(rotated) == first


def test_an_interrupted_run_is_simply_run_again(make_app, app, world, monkeypatch):
    from cases import encryption

    old = _old_digests(app)
    rotated = make_app(BLIND_INDEX_KEY=NEW)
    real = encryption._indexed_identity
    calls = []

    def failing(case):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("power cut")
        return real(case)

    monkeypatch.setattr(encryption, "_indexed_identity", failing)
    crashed = _rotate(rotated, "--batch-size", "2")
    assert isinstance(crashed.exception, RuntimeError)
    left = [digest for *_, digest in _entries(rotated) if digest in old]
    assert len(left) == 4  # the first batch (two cases) committed, the second did not

    monkeypatch.setattr(encryption, "_indexed_identity", real)
    result = _rotate(rotated, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert not {digest for *_, digest in _entries(rotated)} & old


@pytest.mark.parametrize("size", ["0", "-5"])
def test_a_bad_batch_size_is_refused_and_changes_nothing(make_app, app, world, size):
    before = _entries(app)
    rotated = make_app(BLIND_INDEX_KEY=NEW)
    result = _rotate(rotated, "--batch-size", size)
    assert result.exit_code == 2
    assert "--batch-size" in result.output
    assert "use a whole number above zero" in result.output
    assert _entries(rotated) == before
    assert audit_actions(rotated, "keys.") == []


def test_one_audit_record_with_the_count_and_no_personal_data(make_app, app, world):
    old = _old_digests(app)
    rotated = make_app(BLIND_INDEX_KEY=NEW)
    opened_before = audit_actions(rotated, "case.decrypted")
    assert _rotate(rotated).exit_code == 0
    new = {digest for *_, digest in _entries(rotated)}
    with rotated.app_context():
        rotation = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "keys.blind_index_rotated")
        ).all()
        every_detail = " ".join(db.session.scalars(select(AuditRecord.details)).all())
    assert len(rotation) == 1
    assert rotation[0].actor_id is None  # a command, not a signed-in reader
    assert json.loads(rotation[0].details) == {"count": 4}
    # The run is that one record, not one `case.decrypted` per case.
    assert audit_actions(rotated, "case.decrypted") == opened_before
    needles = [*NAMES, *CONTACTS, *SECRETS, INTAKE["legal_name"], *old, *new]
    for needle in needles:
        assert needle.casefold() not in every_detail.casefold()


def test_a_case_that_cannot_be_opened_stops_the_run_cleanly(make_app, app, world):
    before = _entries(app)
    wrong_master = base64.b64encode(b"x" * 32).decode()
    rotated = make_app(BLIND_INDEX_KEY=NEW, CASE_MASTER_KEY=wrong_master)
    result = _rotate(rotated)
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert _entries(rotated) == before
    assert audit_actions(rotated, "keys.") == []
