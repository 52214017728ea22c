"""The hash chain: `flask --app app audit verify` passes when whole, names the first bad record."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

import audit
from audit.models import AuditRecord
from audit.services import AuditDetailError, compute_hash
from extensions import db
from tests.factories import count_rows


@pytest.fixture
def ids(app, clock):
    """Five records, committed; their ids in order."""
    with app.app_context():
        for number in range(5):
            clock.advance(seconds=1)
            audit.record(None, "test.action", "thing", number, count=number)
        db.session.commit()
        return list(db.session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))


def _verify(runner):
    return runner.invoke(args=["audit", "verify"])


def _sql(app, statement, **params):
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def test_an_empty_log_verifies(runner):
    result = _verify(runner)
    assert result.exit_code == 0
    assert "0 records" in result.output


def test_an_intact_chain_verifies(runner, ids):
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert "5 records" in result.output


def test_an_edited_record_is_named(app, runner, ids):
    _sql(app, "UPDATE audit_records SET details = :d WHERE id = :id", d='{"count":9}', id=ids[2])
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[2]}:" in result.output
    assert "does not match its hash" in result.output


def test_an_edited_action_is_named(app, runner, ids):
    _sql(app, "UPDATE audit_records SET action = 'x.other' WHERE id = :id", id=ids[0])
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[0]}:" in result.output


def test_a_deleted_middle_record_is_noticed_at_the_next(app, runner, ids):
    _sql(app, "DELETE FROM audit_records WHERE id = :id", id=ids[2])
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[3]}:" in result.output
    assert "removed or inserted" in result.output


def test_a_deleted_last_record_is_named(app, runner, ids):
    _sql(app, "DELETE FROM audit_records WHERE id = :id", id=ids[-1])
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[-1]}:" in result.output
    assert "missing" in result.output


def _forge(app, previous_hash, record_id):
    """A row with a correctly computed hash, as someone who read this code would write it."""
    with app.app_context():
        template = db.session.get(AuditRecord, 1) or db.session.scalars(select(AuditRecord)).first()
        created_at = template.created_at
        details = json.dumps({"reason": "forged"}, separators=(",", ":"))
        record_hash = compute_hash(previous_hash, created_at, None, "forged", "thing", "x", details)
        db.session.add(
            AuditRecord(
                id=record_id,
                created_at=created_at,
                actor_id=None,
                action="forged",
                object_type="thing",
                object_id="x",
                details=details,
                previous_hash=previous_hash,
                record_hash=record_hash,
            )
        )
        db.session.commit()


def test_a_row_appended_directly_is_named_even_with_a_valid_hash(app, runner, ids):
    with app.app_context():
        last_hash = db.session.get(AuditRecord, ids[-1]).record_hash
    _forge(app, last_hash, ids[-1] + 1)
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[-1] + 1}:" in result.output


def test_a_row_inserted_in_the_middle_is_named(app, runner, ids):
    _sql(app, "DELETE FROM audit_records WHERE id = :id", id=ids[2])
    with app.app_context():
        before = db.session.get(AuditRecord, ids[1]).record_hash
    _forge(app, before, ids[2])  # fills the gap, but the next record does not follow it
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[3]}:" in result.output


def test_a_row_inserted_with_a_made_up_predecessor_is_named(app, runner, ids):
    _forge(app, "f" * 64, ids[-1] + 1)
    result = _verify(runner)
    assert result.exit_code != 0
    assert f"record {ids[-1] + 1}:" in result.output


def test_new_records_after_verification_keep_the_chain_whole(app, runner, ids, clock):
    assert _verify(runner).exit_code == 0
    with app.app_context():
        audit.record(None, "test.action", "thing", "later")
        db.session.commit()
    result = _verify(runner)
    assert result.exit_code == 0
    assert "6 records" in result.output


@pytest.mark.parametrize(
    "details",
    [{"password": "hunter2 hunter2"}, {"totp_secret": "JBSWY3DPEHPK3PXP"}, {"legal_name": "A"}],
)
def test_detail_keys_outside_the_allow_list_are_refused(app, details):
    with app.app_context(), pytest.raises(AuditDetailError, match="not allowed"):
        audit.record(None, "user.created", "user", 1, **details)
    assert count_rows(app, AuditRecord) == 0


def test_detail_values_must_be_short_scalars(app):
    with app.app_context():
        with pytest.raises(AuditDetailError):
            audit.record(None, "user.created", "user", 1, reason={"nested": "value"})
        with pytest.raises(AuditDetailError):
            audit.record(None, "user.created", "user", 1, reason="x" * 501)
