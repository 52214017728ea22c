"""`flask keys rotate-master`: every data key re-wrapped, ciphertexts untouched, resumable."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from cases import encryption, services
from cases.models import Case, CaseKey
from extensions import db
from fundraising import services as fundraising
from fundraising.models import Donation, Drive
from security import fields as crypto
from tests.conftest import Auth
from tests.factories import make_drive

OLD = base64.b64encode(b"m" * 32).decode()  # the test settings' CASE_MASTER_KEY
NEW = base64.b64encode(b"n" * 32).decode()
NEW_ID = crypto.key_id(b"n" * 32)
OLD_ID = crypto.key_id(b"m" * 32)


@pytest.fixture
def world(app, person):
    """Five cases with notes, a staff member with TOTP, a donation with sealed details."""
    worker = person()
    case_ids = []
    for number in range(5):
        case_id = worker.create_case(
            legal_name=f"Person Number {number}", known_as="", contact=f"+1555010{number}"
        )
        worker.client.post(f"/cases/{case_id}/notes", data={"body": f"Note {number}"})
        case_ids.append(case_id)
    make_drive(app)
    with app.app_context():
        drive = db.session.scalar(select(Drive))
        donation = fundraising.start_donation(
            drive,
            fundraising.GiftRequest(amount_minor=5000, name="Dana Donor", email="d@example.org"),
        )
        db.session.commit()
        donation_id = donation.id
        ciphertexts = dict(db.session.execute(select(Case.id, Case.legal_name_enc)).all())
    return worker, case_ids, donation_id, ciphertexts


def _rotate(app, key=OLD, *extra):
    return app.test_cli_runner().invoke(args=["keys", "rotate-master", *extra], input=key + "\n")


def _assert_all_readable(app, case_ids, donation_id):
    with app.app_context():
        for number, case_id in enumerate(case_ids):
            case = db.session.get(Case, case_id)
            assert encryption.read_identity(case)["legal_name"] == f"Person Number {number}"
            assert [body for _, body in services.notes_for(case)] == [f"Note {number}"]
        ids = set(db.session.scalars(select(CaseKey.master_key_id)).all())
        assert ids == {NEW_ID}
        details = fundraising.donor_details(db.session.get(Donation, donation_id))
        assert details == {"name": "Dana Donor", "email": "d@example.org"}


def test_rotation_keeps_everything_readable(make_app, app, world, clock):
    worker, case_ids, donation_id, ciphertexts = world
    rotated = make_app(CASE_MASTER_KEY=NEW)
    with rotated.app_context(), pytest.raises(crypto.DecryptionError):
        encryption.read_identity(db.session.get(Case, case_ids[0]))

    result = _rotate(rotated)
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 5 data key(s)" in result.output
    _assert_all_readable(rotated, case_ids, donation_id)
    with rotated.app_context():
        after = dict(db.session.execute(select(Case.id, Case.legal_name_enc)).all())
    assert after == ciphertexts  # field ciphertexts are not touched

    # The staff TOTP secret was re-sealed: the caseworker still signs in and reads the case.
    client = rotated.test_client()
    Auth(rotated, client, clock).login(worker.email)
    page = client.get(f"/cases/{case_ids[0]}")
    assert page.status_code == 200
    assert "Person Number 0" in page.get_data(as_text=True)

    again = _rotate(rotated)
    assert again.exit_code == 0, again.output
    assert "Re-wrapped 0 data key(s), re-sealed 0 secret(s)." in again.output


def test_a_crash_mid_rotation_resumes(make_app, app, world, monkeypatch):
    _, case_ids, donation_id, _ = world
    rotated = make_app(CASE_MASTER_KEY=NEW)
    real_wrap = crypto.wrap
    calls = []

    def failing_wrap(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("power cut")
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(crypto, "wrap", failing_wrap)
    result = _rotate(rotated, OLD, "--batch-size", "2")
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError)
    with rotated.app_context():
        ids = db.session.scalars(select(CaseKey.master_key_id)).all()
    assert sorted(ids).count(NEW_ID) == 2  # the first batch committed, the second did not
    assert sorted(ids).count(OLD_ID) == 3

    monkeypatch.setattr(crypto, "wrap", real_wrap)
    result = _rotate(rotated, OLD, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 3 data key(s)" in result.output
    _assert_all_readable(rotated, case_ids, donation_id)


def test_a_wrong_old_key_changes_nothing(make_app, app, world):
    _, case_ids, _, _ = world
    rotated = make_app(CASE_MASTER_KEY=NEW)
    wrong = base64.b64encode(b"w" * 32).decode()
    result = _rotate(rotated, wrong)
    assert result.exit_code != 0
    assert "old key" in result.output
    assert _rotate(rotated, "not base64 at all").exit_code != 0
    assert _rotate(rotated, NEW).exit_code != 0  # the same key twice
    with rotated.app_context():
        assert set(db.session.scalars(select(CaseKey.master_key_id)).all()) == {OLD_ID}
    with app.app_context():
        assert encryption.read_identity(db.session.get(Case, case_ids[0]))["legal_name"]


def test_one_value_under_a_third_key_anywhere_stops_the_rotation_before_any_change(
    make_app, app, world
):
    """Every package is checked before any moves: a donor's email sealed under another key
    (a restore mixed with another instance, say) leaves the case keys where they were."""
    from security import sealing

    _, _, donation_id, _ = world
    third = b"t" * 32
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        purpose = f"donation:{donation_id}:email"
        donation.email_sealed = sealing.seal("d@example.org", purpose, master=third)
        db.session.commit()
    rotated = make_app(CASE_MASTER_KEY=NEW)
    result = _rotate(rotated)
    assert result.exit_code != 0
    assert "donors' details are under neither the old key" in result.output
    with rotated.app_context():
        assert set(db.session.scalars(select(CaseKey.master_key_id)).all()) == {OLD_ID}
    assert _rotate(rotated, OLD, "--batch-size", "0").exit_code != 0


def test_every_package_with_secrets_under_the_master_key_is_asked(app):
    from security.rotation import resealers

    with app.app_context():
        assert [resealer.label for resealer in resealers()] == [
            "staff TOTP seeds",
            "donors' details",
            "payout bank references",
            "references of gifts outside Stripe",
            "case keys",
        ]
