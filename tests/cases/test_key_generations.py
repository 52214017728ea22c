"""Case data keys wrapped in a real SoftHSM2 token, in generations: purge reaches every copy.

A "dump" here is what any copy of the database holds: the SQLite file copied while the case was
open, and (on both databases) the case_keys rows as a backup, WAL archive or replica keeps them.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pkcs11 import Attribute
from pkcs11.exceptions import AttributeSensitive
from sqlalchemy import select, text

from accounts.models import Role
from audit.models import AuditRecord
from cases import encryption, services
from cases.models import Case, CaseKey
from extensions import db
from security import fields, keystore
from security.models import KeyGeneration
from tests.cases.conftest import INTAKE
from tests.hsm import LABEL, PIN


@pytest.fixture
def app(make_app, softhsm):
    """The case manager with its key-encryption keys in the test token."""
    return make_app(**softhsm.settings())


def _generation_labels(app) -> set[str]:
    """The key generations the token holds (it also holds the audit log's link key)."""
    with app.app_context():
        return {
            label for label in keystore.token().labels() if label.startswith(keystore.LABEL_PREFIX)
        }


def _cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def _wrapped(app, case_id) -> fields.WrappedKey:
    """The case's wrapped data key, as every copy of the database holds it."""
    with app.app_context():
        row = db.session.get(CaseKey, case_id)
        return fields.WrappedKey(row.master_key_id, row.wrapped_key)


def _opens(app, wrapped: fields.WrappedKey, case_id: str) -> bool:
    with app.app_context():
        try:
            keystore.unwrap(wrapped, case_id)
        except fields.DecryptionError:
            return False
        return True


def _legal_name(app, case_id) -> str | None:
    with app.app_context():
        return encryption.read_identity(db.session.get(Case, case_id))["legal_name"]


def _purge(app, case_id):
    with app.app_context():
        services.purge_case(db.session.get(Case, case_id), None, "test")
        db.session.commit()
        services.finish_purge(None)


def _dump(request, app, database_url, tmp_path) -> str:
    """A backup of the whole database taken now, restored: the URL to open it at. SQLite: the
    file copied; PostgreSQL: pg_dump, restored with psql into a new database."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if database_url.startswith("sqlite"):
        copy = tmp_path / "dump.db"
        shutil.copy(database_url.removeprefix("sqlite:///"), copy)  # WAL checkpointed on close
        return f"sqlite:///{copy}"
    server = request.getfixturevalue("postgres_server")
    name = f"dump_{uuid.uuid4().hex[:10]}"

    def run(tool, *args, given=None):
        command = [str(server.bindir / tool), "-h", "127.0.0.1", "-p", str(server.port)]
        command += ["-U", "postgres", *args]
        if os.geteuid() == 0 and server.user:
            command = ["runuser", "-u", server.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, timeout=120, input=given)

    dump = run("pg_dump", "--no-owner", database_url.rsplit("/", 1)[-1]).stdout
    run("createdb", name)
    run("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, given=dump)
    request.addfinalizer(lambda: run("dropdb", "--force", name))
    return str(server.url(name))


def _rotate(app, *extra):
    result = _cli(app, "keys", "rotate-generation", *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_case_is_written_and_read_through_the_token(app, person):
    case_id = person().create_case(legal_name="Token Person")
    wrapped = _wrapped(app, case_id)
    assert wrapped.master_key_id == "t000001"
    assert _legal_name(app, case_id) == "Token Person"
    with app.app_context():
        # The file master key, which the server also holds, does not open it.
        with pytest.raises(fields.DecryptionError):
            fields.unwrap(wrapped, case_id)
        assert db.session.get(KeyGeneration, "t000001").destroyed_at is None


def test_the_key_encryption_key_never_leaves_the_token(app, person):
    person().create_case()
    with app.app_context():
        token = keystore.token()
        key = token._key(token._open(), keystore.label_of("t000001"))
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]


def test_a_wrapped_key_moved_to_another_case_does_not_open(app, person):
    worker = person()
    first, second = worker.create_case(), worker.create_case(legal_name="Second Person")
    assert not _opens(app, fields.WrappedKey("t000001", _wrapped(app, first).wrapped), second)


def test_rotate_master_moves_file_key_cases_into_the_token(make_app, softhsm, person, clock):
    from tests.cases.conftest import Person

    software = make_app()
    worker = Person(software, clock, Role.CASEWORKER, None)
    case_id = worker.create_case(legal_name="File Key Person")
    assert not keystore.is_generation(_wrapped(software, case_id).master_key_id)

    with_token = make_app(**softhsm.settings())
    status = _cli(with_token, "keys", "status")
    assert status.exit_code == 1
    assert "still under the file master key" in status.output
    result = _cli(with_token, "keys", "rotate-master", "--to-token")
    assert result.exit_code == 0, result.output
    assert "case keys: 1 re-wrapped under t000001" in result.output
    assert _wrapped(with_token, case_id).master_key_id == "t000001"
    assert _legal_name(with_token, case_id) == "File Key Person"
    again = _cli(with_token, "keys", "rotate-master", "--to-token")
    assert "case keys: 0 re-wrapped" in again.output
    # And the software-only app cannot open it any more: the key is in the token now.
    with software.app_context(), pytest.raises(fields.DecryptionError, match="token"):
        encryption.read_identity(db.session.get(Case, case_id))


def test_rotation_is_due_only_after_the_period(app, person, clock):
    person().create_case()
    assert "t000001 is current; no new generation is due" in _rotate(app)
    clock.advance(days=29)
    assert "no new generation is due" in _rotate(app)
    clock.advance(days=1)
    output = _rotate(app)
    assert "Started key generation t000002" in output
    assert "case keys: 1 re-wrapped under t000002" in output
    assert "case keys: 0 re-wrapped" in _rotate(app)  # re-running is harmless


def test_purge_reaches_every_copy_once_the_generations_that_wrapped_it_are_destroyed(
    request, app, make_app, person, clock, softhsm, database_url, tmp_path
):
    worker = person()
    purged, kept = worker.create_case(legal_name="Purged Person"), worker.create_case()
    purged_copy, kept_copy = _wrapped(app, purged), _wrapped(app, kept)
    dump_url = _dump(request, app, database_url, tmp_path)

    _purge(app, purged)
    assert _legal_name(app, kept) is not None
    # Within the window the copies still open (the retention window the page states) ...
    clock.advance(days=30)
    _rotate(app)  # t000002 starts; t000001 superseded today
    assert _opens(app, purged_copy, purged)
    assert _opens(app, kept_copy, kept)
    dump_app = make_app(SQLALCHEMY_DATABASE_URI=dump_url, **softhsm.settings())
    assert _legal_name(dump_app, kept) is not None  # a never-purged case restores
    assert _legal_name(dump_app, purged) == "Purged Person"  # within the window, as stated
    clock.advance(days=34)
    assert "Destroyed" not in _rotate(app)
    # ... and once t000001 has been superseded for the retention, it is destroyed.
    clock.advance(days=1)
    output = _rotate(app)
    assert "Destroyed key generation t000001 in the token." in output
    assert not _opens(app, purged_copy, purged)
    assert not _opens(app, kept_copy, kept)  # the old copy of a live case is noise too
    assert _legal_name(app, kept) is not None  # the live case, re-wrapped, still reads
    with dump_app.app_context():  # even with the file key and the PIN this app holds
        for case_id in (purged, kept):
            with pytest.raises(fields.DecryptionError, match="destroyed"):
                encryption.read_identity(db.session.get(Case, case_id))


def test_the_purge_page_states_the_date_after_which_no_copy_opens(app, person, clock):
    case_id = person().create_case()
    admin = person(Role.ADMIN)
    page = admin.client.get(f"/cases/{case_id}/manage").get_data(as_text=True)
    # Generation t000001 started today (22 Nov 2026): superseded by 22 Dec, destroyed 35 days
    # later, with a day's grace for the timer.
    assert "destroys by <strong>27 January 2027</strong>" in page
    assert "Emergency: make every existing backup unreadable now" in page


def test_without_a_token_the_purge_page_does_not_promise_backups(make_app, person, clock):
    from tests.cases.conftest import Person

    software = make_app()
    case_id = Person(software, clock, Role.CASEWORKER, None).create_case()
    page = Person(software, clock, Role.ADMIN, None).client.get(f"/cases/{case_id}/manage")
    text = page.get_data(as_text=True)
    assert "can still open this case with the master key" in text
    assert "destroy_backups" not in text


def test_emergency_purge_destroys_every_older_generation_at_once(app, person, clock):
    worker = person()
    target, other = worker.create_case(), worker.create_case(legal_name="Other Person")
    clock.advance(days=30)
    _rotate(app)  # two generations now: t000001 (superseded) and t000002
    third = person().create_case(legal_name="Third Person")  # sessions ended with the month
    copies = {case_id: _wrapped(app, case_id) for case_id in (target, other, third)}

    admin = person(Role.ADMIN)
    with app.app_context():
        code = db.session.get(Case, target).code
    response = admin.client.post(
        f"/cases/{target}/purge", data={"confirm_code": code, "destroy_backups": "1"}
    )
    assert response.status_code == 302
    assert "2 older key generations destroyed" in admin.client.get("/cases/").get_data(as_text=True)
    for case_id, copy in copies.items():
        assert not _opens(app, copy, case_id)  # no older copy opens any case
    assert _legal_name(app, other) == "Other Person"
    assert _legal_name(app, third) == "Third Person"
    with app.app_context():
        generations = db.session.scalars(select(KeyGeneration).order_by(KeyGeneration.id)).all()
        assert [(g.id, g.destroyed_at is not None) for g in generations] == [
            ("t000001", True),
            ("t000002", True),
            ("t000003", False),
        ]
        record = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "keys.emergency_rotation")
        ).one()
        assert record.object_id == "t000003"
        assert '"count":2' in record.details
        assert _generation_labels(app) == {keystore.label_of("t000003")}


def test_a_plain_purge_destroys_no_generation(app, person):
    worker = person()
    target = worker.create_case()
    admin = person(Role.ADMIN)
    with app.app_context():
        code = db.session.get(Case, target).code
    admin.client.post(f"/cases/{target}/purge", data={"confirm_code": code})
    with app.app_context():
        assert _generation_labels(app) == {keystore.label_of("t000001")}


def test_keys_status_lists_each_generation_and_where_it_is(app, person, clock):
    person().create_case()
    clock.advance(days=30)
    _rotate(app)
    result = _cli(app, "keys", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"in token {LABEL}" in lines[0]
    assert lines[1].split()[:2] == ["t000002", "0d"]
    assert lines[1].split()[-2:] == ["1", "yes"]
    assert lines[2].split()[:2] == ["t000001", "30d"]
    assert "2027-01-26" in lines[2]  # destroy after: superseded 2026-12-22 + 35 days
    clock.advance(days=40)
    overdue = _cli(app, "keys", "status")
    assert overdue.exit_code == 1
    assert "t000001 is past its retention" in overdue.output
    assert "rotation is overdue" in overdue.output


def test_rotation_without_a_token_is_refused_and_changes_nothing(make_app):
    software = make_app()
    for command in (["rotate-generation"], ["status"], ["rotate-master", "--to-token"]):
        result = _cli(software, "keys", *command)
        assert result.exit_code == 1
        assert "no PKCS#11 token is configured" in result.output
    with software.app_context():
        assert db.session.scalars(select(KeyGeneration)).all() == []


def test_a_bad_batch_size_is_refused(app):
    result = _cli(app, "keys", "rotate-generation", "--batch-size", "0")
    assert result.exit_code == 2
    assert "whole number above zero" in result.output


def test_a_wrong_pin_names_the_setting_and_reveals_nothing(make_app, softhsm):
    wrong = make_app(**softhsm.settings(pin="000000"))
    with wrong.app_context():
        keystore.token().reset()  # a login is per process: this one starts logged out
    result = _cli(wrong, "keys", "status")
    assert result.exit_code == 1
    assert "PKCS11_TOKEN_LABEL and the PIN" in result.output
    assert "000000" not in result.output
    assert PIN not in result.output


def test_a_case_reads_back_through_the_recovery_copy_of_the_token(
    app, person, softhsm, database_url, tmp_path
):
    if not database_url.startswith("sqlite"):
        pytest.skip("the recovery process reads the SQLite file")
    case_id = person().create_case(legal_name="Recovered Person")
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    conf = softhsm.copy_tokens(recovery)
    # A second device: another process that sees only the copied token directory.
    script = f"""
import base64
from app import create_app
from cases import encryption
from cases.models import Case
from extensions import db
app = create_app({{
    "APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": {database_url!r},
    "SECRET_KEY": "x", "CASE_MASTER_KEY": {base64.b64encode(b"m" * 32).decode()!r},
    "BLIND_INDEX_KEY": {base64.b64encode(b"b" * 32).decode()!r}, "STRIPE_WEBHOOK_SECRET": "w",
    "PKCS11_MODULE": {softhsm.module!r}, "PKCS11_TOKEN_LABEL": {LABEL!r}, "PKCS11_PIN": {PIN!r},
}})
with app.app_context():
    print(encryption.read_identity(db.session.get(Case, {case_id!r}))["legal_name"])
"""
    done = subprocess.run(  # noqa: PLW1510 (the return code is asserted below)
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "Recovered Person"


def test_intake_still_works_when_the_first_generation_is_created_by_a_rolled_back_request(
    app, person
):
    """A token key made for a transaction that rolled back is adopted, never duplicated."""
    with app.app_context():
        keystore.current_generation()
        db.session.rollback()
    case_id = person().create_case(**{"legal_name": INTAKE["legal_name"]})
    assert _wrapped(app, case_id).master_key_id == "t000001"
    with app.app_context():
        assert _generation_labels(app) == {keystore.label_of("t000001")}


def test_admins_are_warned_while_keys_are_in_software(make_app, softhsm, clock):
    from tests.cases.conftest import Person

    software = make_app()
    page = Person(software, clock, Role.ADMIN, None).client.get("/admin/").get_data(as_text=True)
    assert "Keys in software." in page
    with_token = make_app(**softhsm.settings())
    admin = Person(with_token, clock, Role.ADMIN, "other-admin@example.org")
    assert "Keys in software." not in admin.client.get("/admin/").get_data(as_text=True)


def test_sqlite_purge_leaves_the_wrapped_key_in_no_file_of_the_database(app, person, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's files are the server's: VACUUM FULL runs after each purge")
    case_id = person().create_case()
    wrapped = _wrapped(app, case_id).wrapped
    path = Path(database_url.removeprefix("sqlite:///"))

    def every_file() -> bytes:  # the database, its write-ahead log and its shared memory
        return b"".join(
            candidate.read_bytes()
            for candidate in path.parent.iterdir()
            if candidate.name.startswith(path.name)
        )

    assert wrapped[1:20] in every_file()
    _purge(app, case_id)
    assert wrapped[1:20] not in every_file()
    with app.app_context():
        assert db.session.get(CaseKey, case_id) is None


def test_postgresql_rewrites_the_shredded_tables_after_a_purge(app, person, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's files are checked by the test above")
    case_id = person().create_case()

    def filenode() -> int:
        with app.app_context():
            return int(db.session.scalar(text("SELECT pg_relation_filenode('case_keys')")))

    before = filenode()
    _purge(app, case_id)
    assert filenode() != before  # VACUUM (FULL) wrote the table anew, without the dead row
