"""With a PKCS#11 token, each audit link is an HMAC under a key in the token: someone who can
write the database cannot re-chain the log, even without an anchor to compare against."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import audit
from audit.models import AuditRecord
from audit.services import LINK_KEY_LABEL, compute_hash
from extensions import db
from security import keystore
from tests.audit.test_anchors import _rechain


def _write(app, count, start=0):
    with app.app_context():
        for number in range(start, start + count):
            audit.record(None, "test.action", "thing", number)
        db.session.commit()


def _records(app):
    with app.app_context():
        return db.session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _plain_hash(entry):
    return compute_hash(
        entry.previous_hash,
        entry.created_at,
        entry.actor_id,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.details,
    )


@pytest.fixture
def app(make_app, softhsm):
    return make_app(**softhsm.settings())


def test_links_are_keyed_in_the_token_and_verify(app):
    _write(app, 4)
    records = _records(app)
    assert all(entry.record_hash != _plain_hash(entry) for entry in records)
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "4 records" in result.output
    with app.app_context():
        assert keystore.token().key_id_of(LINK_KEY_LABEL) == b"audit-links-after:0"


def test_a_log_rechained_by_direct_sql_fails_verify_without_any_anchor(app):
    _write(app, 5)
    doomed = _records(app)[2].id
    _rechain(app, doomed)  # delete a record, re-chain the rest with SHA-256, move the head
    result = _verify(app)
    assert result.exit_code == 1
    assert f"broken at record {_records(app)[0].id}" in result.output
    assert "keyed in the token" in result.output


def test_an_edited_record_fails_verify(app):
    _write(app, 3)
    target = _records(app)[1].id
    with app.app_context():
        db.session.get(AuditRecord, target).details = '{"count":99}'
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"broken at record {target}" in result.output


def test_an_existing_plain_log_continues_keyed_after_the_token_arrives(make_app, softhsm):
    software = make_app()
    _write(software, 3)
    keyed = make_app(**softhsm.settings())
    _write(keyed, 2, start=3)
    records = _records(keyed)
    assert [entry.record_hash == _plain_hash(entry) for entry in records] == [
        True,
        True,
        True,
        False,
        False,
    ]
    result = _verify(keyed)
    assert result.exit_code == 0, result.output
    assert "5 records" in result.output
    # The switch point is fixed in the token: later records cannot be passed off as plain.
    with keyed.app_context():
        assert (
            keystore.token().key_id_of(LINK_KEY_LABEL)
            == f"audit-links-after:{records[2].id}".encode()
        )
    # Without the token the keyed records cannot be checked, and verify says why.
    without = _verify(software)
    assert without.exit_code == 1
    assert "keyed in a PKCS#11 token this app is not configured for" in without.output
    _rechain(keyed, records[4].id)
    assert _verify(keyed).exit_code == 1
