"""Anchors outside the database: a re-chained or truncated log fails `audit verify` against them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

import audit
from audit.anchors import anchor_mac
from audit.models import GENESIS_HASH, AuditHead, AuditRecord
from audit.services import compute_hash
from extensions import db
from tests.factories import count_rows


@pytest.fixture
def anchors(tmp_path):
    return tmp_path / "anchors" / "audit-anchors"


@pytest.fixture
def app(make_app, anchors, monkeypatch):
    monkeypatch.delenv("AUDIT_ANCHOR_PATH", raising=False)
    anchors.parent.mkdir()
    return make_app(AUDIT_ANCHOR_PATH=str(anchors))


@pytest.fixture
def ids(app, clock):
    """Five records, committed; their ids in order."""
    with app.app_context():
        for number in range(5):
            clock.advance(seconds=1)
            audit.record(None, "test.action", "thing", number, count=number)
        db.session.commit()
        return list(db.session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))


def _cli(app, *args, **overrides):
    if overrides:
        for key, value in overrides.items():
            app.config[key] = value
    return app.test_cli_runner().invoke(args=["audit", *args])


def _old_verify(app):
    """`audit verify` as it was before anchors: the chain and audit_head alone."""
    saved = app.config["AUDIT_ANCHOR_PATH"]
    try:
        return _cli(app, "verify", AUDIT_ANCHOR_PATH=None)
    finally:
        app.config["AUDIT_ANCHOR_PATH"] = saved


def _sql(app, statement, **params):
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def _rechain(app, removed_id):
    """What someone with write access does: delete a record, re-chain the rest, move the head."""
    _sql(app, "DELETE FROM audit_records WHERE id = :id", id=removed_id)
    with app.app_context():
        previous = GENESIS_HASH
        rows = db.session.execute(
            text(
                "SELECT id, created_at, actor_id, action, object_type, object_id, details, "
                "record_hash FROM audit_records ORDER BY id"
            )
        ).all()
        records = {row.id: db.session.get(AuditRecord, row.id) for row in rows}
        last = None
        for row in rows:
            entry = records[row.id]
            new_hash = compute_hash(
                previous,
                entry.created_at,
                entry.actor_id,
                entry.action,
                entry.object_type,
                entry.object_id,
                entry.details,
            )
            db.session.execute(
                text(
                    "UPDATE audit_records SET previous_hash = :p, record_hash = :h WHERE id = :id"
                ),
                {"p": previous, "h": new_hash, "id": row.id},
            )
            previous, last = new_hash, row.id
        db.session.execute(
            text("UPDATE audit_head SET last_record_id = :id, last_hash = :h"),
            {"id": last, "h": previous},
        )
        db.session.commit()


def _lines(anchors):
    return anchors.read_text().splitlines()


def _signed(app, **fields):
    """An anchor line signed with the app's key, as `audit anchor` would write it."""
    with app.app_context():
        content = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps({**fields, "mac": anchor_mac(content)}, sort_keys=True)


def test_anchor_appends_the_signed_head(app, ids, anchors):
    result = _cli(app, "anchor")
    assert result.exit_code == 0, result.output
    assert f"anchored record {ids[-1]} (5 records)" in result.output
    [line] = _lines(anchors)
    anchor = json.loads(line)
    assert set(anchor) == {"record_id", "record_hash", "count", "time", "mac"}
    assert anchor["record_id"] == ids[-1]
    assert anchor["count"] == 5
    with app.app_context():
        assert anchor["record_hash"] == db.session.get(AuditRecord, ids[-1]).record_hash
    verified = _cli(app, "verify")
    assert verified.exit_code == 0, verified.output
    assert "matches 1 anchors" in verified.output


def test_each_anchor_is_appended_and_earlier_lines_are_left_alone(app, ids, anchors, clock):
    assert _cli(app, "anchor").exit_code == 0
    first = anchors.read_bytes()
    with app.app_context():
        audit.record(None, "test.action", "thing", "later")
        db.session.commit()
    assert _cli(app, "anchor").exit_code == 0
    assert anchors.read_bytes().startswith(first)
    assert [json.loads(line)["count"] for line in _lines(anchors)] == [5, 6]
    assert _cli(app, "verify").exit_code == 0


def test_records_written_after_the_latest_anchor_still_verify(app, ids):
    assert _cli(app, "anchor").exit_code == 0
    with app.app_context():
        audit.record(None, "test.action", "thing", "later")
        db.session.commit()
    result = _cli(app, "verify")
    assert result.exit_code == 0, result.output
    assert "6 records" in result.output


def test_a_rechained_log_passes_the_old_verify_but_fails_against_the_anchor(app, ids):
    assert _cli(app, "anchor").exit_code == 0
    _rechain(app, ids[2])
    old = _old_verify(app)
    assert old.exit_code == 0, old.output  # what issue 14 found: the chain alone says OK
    assert "4 records" in old.output
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert f"record {ids[-1]} does not have the hash anchor line 1" in result.output
    assert "re-chained" in result.output


def test_a_truncated_tail_fails_against_the_anchor(app, ids):
    assert _cli(app, "anchor").exit_code == 0
    _sql(app, "DELETE FROM audit_records WHERE id >= :id", id=ids[3])
    with app.app_context():
        kept = db.session.get(AuditRecord, ids[2])
        db.session.get(AuditHead, 1).last_record_id = kept.id
        db.session.get(AuditHead, 1).last_hash = kept.record_hash
        db.session.commit()
    assert _old_verify(app).exit_code == 0
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert f"record {ids[-1]}, anchored by anchor line 1" in result.output
    assert "is gone" in result.output


def test_an_emptied_log_fails_against_the_anchor(app, ids):
    assert _cli(app, "anchor").exit_code == 0
    _sql(app, "DELETE FROM audit_records")
    _sql(app, "DELETE FROM audit_head")
    assert _old_verify(app).exit_code == 0
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "is gone" in result.output


def test_an_older_anchor_is_checked_too(app, ids, anchors):
    """Re-chaining from a record between two anchors breaks the older one as well."""
    assert _cli(app, "anchor").exit_code == 0
    with app.app_context():
        audit.record(None, "test.action", "thing", "later")
        db.session.commit()
    assert _cli(app, "anchor").exit_code == 0
    _rechain(app, ids[0])
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "anchor line 2" in result.output  # the newest is named first


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda anchor: {**anchor, "record_hash": "a" * 64}, "mac that does not match"),
        (lambda anchor: {**anchor, "count": 4}, "mac that does not match"),
        (lambda anchor: {**anchor, "mac": "0" * 64}, "mac that does not match"),
        (
            lambda anchor: {key: v for key, v in anchor.items() if key != "mac"},
            "exactly the fields",
        ),
    ],
)
def test_an_edited_anchor_fails(app, ids, anchors, change, problem):
    assert _cli(app, "anchor").exit_code == 0
    anchors.write_text(json.dumps(change(json.loads(anchors.read_text()))) + "\n")
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "anchor line 1" in result.output
    assert problem in result.output


def test_an_anchor_signed_under_another_secret_key_fails(app, ids, anchors):
    assert _cli(app, "anchor").exit_code == 0
    app.config["SECRET_KEY"] = "another-secret-key"
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "mac that does not match" in result.output


def test_an_edited_older_anchor_fails_even_when_the_latest_is_good(app, ids, anchors):
    assert _cli(app, "anchor").exit_code == 0
    assert _cli(app, "anchor").exit_code == 0
    first, second = _lines(anchors)
    anchors.write_text(first.replace('"count":5', '"count":6') + "\n" + second + "\n")
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "anchor line 1 has a mac that does not match" in result.output


def test_an_anchor_counting_fewer_records_than_the_one_before_fails(app, ids, anchors):
    assert _cli(app, "anchor").exit_code == 0
    with app.app_context():
        earlier = db.session.get(AuditRecord, ids[1])
        line = _signed(
            app, record_id=earlier.id, record_hash=earlier.record_hash, count=2, time="later"
        )
    with anchors.open("a") as handle:
        handle.write(line + "\n")
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "anchor line 2 has fewer records (2) than line 1 (5)" in result.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not an anchor\n", "anchor line 1 is not an anchor"),
        ("{not json\n", "anchor line 1 is not valid JSON"),
        ("[1, 2]\n", "anchor line 1 is not an anchor"),
        ('{"record_id": 1}\n', "exactly the fields"),
        ("", "holds no anchors"),
    ],
)
def test_a_malformed_anchor_file_fails_with_a_clear_message(app, ids, anchors, content, problem):
    anchors.write_text(content)
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert problem in result.output


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"record_id": "1", "record_hash": "x", "count": 1, "time": "t"}, "bad record_id"),
        ({"record_id": 1, "record_hash": "x", "count": 0, "time": "t"}, "bad count"),
        ({"record_id": 1, "record_hash": 5, "count": 1, "time": "t"}, "bad record_hash"),
    ],
)
def test_a_signed_anchor_with_bad_values_fails(app, ids, anchors, fields, problem):
    anchors.write_text(_signed(app, **fields) + "\n")
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert problem in result.output


def test_a_missing_anchor_file_fails_verify(app, ids, anchors):
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "AUDIT_ANCHOR_PATH" in result.output


def test_verify_without_anchor_path_says_it_did_not_check_one(app, ids):
    result = _old_verify(app)
    assert result.exit_code == 0
    assert "AUDIT_ANCHOR_PATH is not set: not checked against an anchor" in result.output


def test_anchor_refuses_without_anchor_path_and_changes_nothing(app, ids, anchors, tmp_path):
    before = sorted(tmp_path.rglob("*"))
    result = _cli(app, "anchor", AUDIT_ANCHOR_PATH=None)
    assert result.exit_code == 1
    assert "AUDIT_ANCHOR_PATH is not set" in result.output
    assert "--stdout" in result.output
    assert sorted(tmp_path.rglob("*")) == before
    assert count_rows(app, AuditRecord) == 5


def test_the_environment_sets_the_path_when_the_config_does_not(make_app, tmp_path, monkeypatch):
    path = tmp_path / "from-env"
    monkeypatch.setenv("AUDIT_ANCHOR_PATH", str(path))
    app = make_app()
    app.config.pop("AUDIT_ANCHOR_PATH", None)
    assert _cli(app, "anchor").exit_code == 0
    assert json.loads(path.read_text())["count"] == 0


@pytest.mark.parametrize("where", ["directory", "missing folder"])
def test_anchor_refuses_an_unwritable_path(app, ids, tmp_path, where):
    path = tmp_path / "a-directory" if where == "directory" else tmp_path / "nowhere" / "anchors"
    if where == "directory":
        path.mkdir()
    result = _cli(app, "anchor", AUDIT_ANCHOR_PATH=str(path))
    assert result.exit_code == 1
    assert f"cannot append to AUDIT_ANCHOR_PATH {path}" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_anchor_refuses_a_broken_chain(app, ids, anchors):
    _sql(app, "UPDATE audit_records SET details = :d WHERE id = :id", d='{"count":9}', id=ids[2])
    result = _cli(app, "anchor")
    assert result.exit_code == 1
    assert f"refusing to anchor a broken chain: record {ids[2]}" in result.output
    assert not anchors.exists()


def test_anchor_refuses_a_log_that_no_longer_matches_its_anchors(app, ids, anchors):
    assert _cli(app, "anchor").exit_code == 0
    before = anchors.read_bytes()
    _rechain(app, ids[1])
    result = _cli(app, "anchor")
    assert result.exit_code == 1
    assert "refusing to anchor" in result.output
    assert "re-chained" in result.output
    assert anchors.read_bytes() == before


def test_a_torn_last_line_never_swallows_the_next_anchor(app, ids, anchors):
    anchors.write_text('{"torn')
    assert _cli(app, "anchor").exit_code == 1  # the file is checked before anything is added
    assert anchors.read_text() == '{"torn'
    with app.app_context():
        from audit.anchors import anchor_line, append_anchor
        from audit.services import verify_chain

        append_anchor(str(anchors), anchor_line(verify_chain()))
    torn, line = _lines(anchors)
    assert torn == '{"torn'
    assert json.loads(line)["count"] == 5


def test_an_empty_log_can_be_anchored(app, anchors):
    assert _cli(app, "anchor").exit_code == 0
    assert json.loads(anchors.read_text())["record_id"] is None
    assert _cli(app, "verify").exit_code == 0


def test_stdout_prints_only_the_line_and_a_syslog_copy_verifies(app, ids, anchors, tmp_path):
    result = _cli(app, "anchor", "--stdout", AUDIT_ANCHOR_PATH=None)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert json.loads(line)["record_id"] == ids[-1]
    assert not anchors.exists()
    # What `| logger -t safe-passage-audit` leaves on the syslog server, copied back to check.
    copy = tmp_path / "from-syslog"
    copy.write_text(f"Nov 22 09:00:05 app1 safe-passage-audit: {line}\n")
    verified = _cli(app, "verify", AUDIT_ANCHOR_PATH=str(copy))
    assert verified.exit_code == 0, verified.output
    _rechain(app, ids[3])
    assert _cli(app, "verify").exit_code == 1


def test_the_mac_is_keyed_by_the_secret_key(app):
    with app.app_context():
        first = anchor_mac(b"content")
        assert anchor_mac(b"content") == first
        assert anchor_mac(b"other") != first
        app.config["SECRET_KEY"] = "another"
        assert anchor_mac(b"content") != first
