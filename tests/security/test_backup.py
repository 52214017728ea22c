"""Encrypted backups: `backup create` / `restore` / `verify`, on SQLite and PostgreSQL.

Each test makes its own databases (a new SQLite file or a new PostgreSQL database), migrated
with `db upgrade` as production is, so the manifest has a real schema revision and a restore
really lands in an empty database."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import stat
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyrage
import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import func, inspect, select, text

from accounts.models import Role
from app import create_app
from audit import services as audit_services
from audit.models import AuditRecord
from cases.models import Case
from config import ConfigError
from extensions import db
from fundraising.models import Donation
from security.backup_engines import database_for
from tests.cases.conftest import INTAKE, Person
from tests.conftest import Auth, Clock, settings_for
from tests.factories import make_drive
from tests.fundraising.support import make_gift

# migrations/env.py is Flask-Migrate's template, which tries Flask-SQLAlchemy's deprecated
# get_engine() first; pyproject turns that warning into an error.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

DONOR_EMAIL = "wren.backup-donor@example.net"
DONOR_NAME = "Wrenna Castellanos-Ibe"
CASE_NAME = INTAKE["legal_name"]
STAFF_EMAIL = "backup.caseworker@example.org"
NAME_PATTERN = re.compile(r"^safe-passage-\d{8}T\d{6}Z-[0-9a-f]{6}\.age$")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """Alembic's env.py reconfigures logging (and disables loggers); put it back afterwards."""
    manager = logging.root.manager
    disabled = {
        name: logger.disabled
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


@pytest.fixture
def identity() -> Any:
    return pyrage.x25519.Identity.generate()


@pytest.fixture
def identity_file(tmp_path: Path, identity: Any) -> Path:
    """The identity as age-keygen writes it (comments, then the key)."""
    path = tmp_path / "offline" / "backup-identity.txt"
    path.parent.mkdir()
    path.write_text(
        f"# created: 2026-11-22T09:00:00Z\n# public key: {identity.to_public()}\n{identity}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def new_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Any]:
    """new_database(label): the URL of a new, empty database of database_url's kind."""
    made: list[str] = []
    admin_url = ""

    def make(label: str) -> str:
        nonlocal admin_url
        if database_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'{label}.db'}"
        server = request.getfixturevalue("postgres_server")
        admin_url = server.url().replace("postgresql+psycopg", "postgresql")
        name = f"backup_{label}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return str(server.url(name))

    yield make
    for name in made:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def build(tmp_path: Path, clock: Clock, identity: Any) -> Iterator[Callable[..., Flask]]:
    """build(url, **settings): the app on that database, encrypting backups to `identity`."""
    built: list[Flask] = []

    def make(url: str, **overrides: Any) -> Flask:
        settings = settings_for(url, tmp_path / "instance", clock)
        settings["BACKUP_AGE_RECIPIENT"] = str(identity.to_public())
        settings.update(overrides)
        app = create_app(settings)
        built.append(app)
        return app

    yield make
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def flask(app: Flask, *args: str, stdin: str | None = None) -> Any:
    """Run `flask --app app ARGS` against this app; the result has exit_code and output."""
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def upgrade(app: Flask, revision: str = "head") -> None:
    result = flask(app, "db", "upgrade", revision)
    assert result.exit_code == 0, result.output


@dataclass
class Source:
    """A migrated database with a drive, a gift with a donor's email, a case, staff, audit."""

    app: Flask
    url: str
    case_id: str
    donation_id: str


@pytest.fixture
def source(new_database: Any, build: Any, clock: Clock) -> Source:
    url = new_database("source")
    app = build(url)
    upgrade(app)
    caseworker = Person(app, clock, Role.CASEWORKER, STAFF_EMAIL)
    case_id = caseworker.create_case()
    drive_id = make_drive(app)
    gift = make_gift(app, drive_id, 5000, name=DONOR_NAME, email=DONOR_EMAIL)
    make_gift(app, drive_id, 1200)
    return Source(app, url, case_id, gift.donation_id)


def backup_to(app: Flask, directory: Path) -> Path:
    result = flask(app, "backup", "create", "--to", str(directory))
    assert result.exit_code == 0, result.output
    (path,) = directory.glob("*.age")
    return path


def table_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the app has, in primary-key order."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [
                tuple(row) for row in db.session.execute(select(table).order_by(*order))
            ]
        return rows


def database_objects(url: str) -> list[str]:
    return database_for(url).objects()


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


# --- create, then restore ------------------------------------------------------------------


def test_a_restore_into_an_empty_database_gives_back_every_row(
    source, new_database, build, identity_file, tmp_path, clock
):
    path = backup_to(source.app, tmp_path / "backups")
    target_url = new_database("target")
    target = build(target_url)
    assert database_objects(target_url) == []

    result = flask(
        target, "backup", "restore", "--from", str(path), "--identity", str(identity_file)
    )

    assert result.exit_code == 0, result.output
    assert "restored the" in result.output
    assert "db upgrade" in result.output  # the next step is named
    before, after = table_rows(source.app), table_rows(target)
    # The source took one audit record since: the backup itself (`backup.created`).
    assert after["audit_records"] == before["audit_records"][:-1]
    assert [row[3] for row in before["audit_records"][-1:]] == ["backup.created"]
    for name in ("donations", "cases", "users", "drives", "case_keys"):
        assert after[name] == before[name], name
    assert {name: len(rows) for name, rows in after.items() if name != "audit_head"} == {
        name: len(rows) - (name == "audit_records")
        for name, rows in before.items()
        if name != "audit_head"
    }
    assert count(target, Donation) == 2
    assert count(target, Case) == 1
    # The restored database is the app's again: the chain verifies, and the caseworker signs
    # in and reads the case (its data key opens: the keys are not in the backup, but here).
    verified = flask(target, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    caseworker_client = target.test_client()
    Auth(target, caseworker_client, clock).login(STAFF_EMAIL)
    page = caseworker_client.get(f"/cases/{source.case_id}")
    assert page.status_code == 200
    assert CASE_NAME in page.get_data(as_text=True)


def test_the_manifest_names_time_revision_kind_audit_head_and_the_ciphertext(
    source, identity, tmp_path, clock
):
    directory = tmp_path / "backups"
    with source.app.app_context():
        head_before = audit_services.verify_chain()
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    path = backup_to(source.app, directory)

    assert NAME_PATTERN.match(path.name)
    beside = directory / path.name.replace(".age", ".manifest.json")
    assert sorted(item.name for item in directory.iterdir()) == sorted([path.name, beside.name])
    for item in (path, beside):
        assert stat.S_IMODE(item.stat().st_mode) == 0o600, item.name
    manifest = json.loads(beside.read_text(encoding="utf-8"))
    kind = "sqlite" if source.url.startswith("sqlite") else "postgresql"
    assert manifest["format"] == "safe-passage-backup/1"
    assert manifest["created_at"] == clock.current.isoformat(timespec="seconds")
    assert manifest["database"] == kind
    assert manifest["schema_revision"] == revision
    assert manifest["audit_head"] == {
        "record_id": head_before.head_record_id,
        "record_hash": head_before.head_hash,
    }
    content = path.read_bytes()
    assert manifest["archive"] == {
        "name": path.name,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert manifest["encrypted_to"] == [str(identity.to_public())]
    # The manifest inside the encrypted archive is the same, less what only the outside knows.
    inside = _inner_manifest(pyrage.decrypt(content, [identity]))
    assert inside == {
        key: value for key, value in manifest.items() if key not in ("archive", "encrypted_to")
    }
    assert inside["dump"]["size"] > 0
    # The backup is in the audit log: the system took a copy of everything.
    with source.app.app_context():
        last = db.session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert (last.action, last.object_type, last.object_id) == (
        "backup.created",
        "backup",
        path.name.removesuffix(".age"),
    )


def _inner_manifest(archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getnames()[0] == "manifest.json"
        member = tar.extractfile("manifest.json")
        assert member is not None
        return dict(json.loads(member.read()))


def test_the_backup_file_holds_no_plaintext_personal_data(source, identity, tmp_path):
    path = backup_to(source.app, tmp_path / "backups")
    content = path.read_bytes()
    for secret in (DONOR_EMAIL, DONOR_NAME, CASE_NAME, STAFF_EMAIL, INTAKE["contact"]):
        assert secret.encode() not in content
        assert secret.encode("utf-16-le") not in content
    manifest = (tmp_path / "backups" / path.name.replace(".age", ".manifest.json")).read_text()
    for secret in (DONOR_EMAIL, DONOR_NAME, CASE_NAME, STAFF_EMAIL):
        assert secret not in manifest
    if source.url.startswith("sqlite"):
        # The same search finds what is in clear in the database once decrypted (staff emails
        # are plain columns), so its silence above means something.
        assert STAFF_EMAIL.encode() in pyrage.decrypt(content, [identity])


# --- refusals ------------------------------------------------------------------------------


def test_restore_refuses_a_database_that_has_tables_and_changes_nothing(
    source, new_database, build, identity_file, tmp_path, clock
):
    path = backup_to(source.app, tmp_path / "backups")
    target_url = new_database("target")
    target = build(target_url)
    upgrade(target)
    Person(target, clock, Role.ADMIN, "only@example.org")
    before = table_rows(target)

    result = flask(
        target, "backup", "restore", "--from", str(path), "--identity", str(identity_file)
    )

    assert result.exit_code == 1
    assert "is not empty" in result.output
    assert "restored only into an empty database; nothing was changed" in result.output
    assert table_rows(target) == before


@pytest.mark.parametrize(
    ("where", "message"),
    [
        # The recipient stanza: its key share no longer opens with the identity.
        ("key stanza", "or its header was altered"),
        ("header mac", "failed age's authentication (Header MAC is invalid)"),
        ("middle", "failed age's authentication"),
        ("last byte", "failed age's authentication"),
    ],
)
def test_a_tampered_backup_is_refused_and_nothing_is_restored(
    source, new_database, build, identity_file, tmp_path, where, message
):
    path = backup_to(source.app, tmp_path / "backups")
    content = bytearray(path.read_bytes())
    header_end = content.index(b"\n---") + 5
    position = {
        "key stanza": 30,
        "header mac": header_end + 3,
        "middle": len(content) // 2,
        "last byte": len(content) - 1,
    }[where]
    if where == "header mac":
        # The MAC is base64: swap in another base64 letter (a flipped bit could make a byte
        # that is not base64 at all, which age reports as an unknown format instead).
        content[position] = ord("B") if content[position] == ord("A") else ord("A")
    else:
        content[position] ^= 0x01
    path.write_bytes(bytes(content))
    target_url = new_database("target")
    target = build(target_url)

    for command in ("restore", "verify"):
        result = flask(
            target, "backup", command, "--from", str(path), "--identity", str(identity_file)
        )
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "nothing was restored" in result.output
    assert database_objects(target_url) == []


def test_a_wrong_identity_is_refused_and_nothing_is_restored(source, new_database, build, tmp_path):
    path = backup_to(source.app, tmp_path / "backups")
    target_url = new_database("target")
    target = build(target_url)
    other = tmp_path / "other-identity.txt"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n", encoding="utf-8")
    public_only = tmp_path / "public.txt"
    public_only.write_text(f"{pyrage.x25519.Identity.generate().to_public()}\n", encoding="utf-8")

    cases = [
        (other, "it is not encrypted to this identity (the wrong key file?)"),
        (public_only, "that is a public key: restoring needs the private identity"),
        (tmp_path / "missing.txt", "cannot be read"),
    ]
    for identity_path, message in cases:
        for command in ("restore", "verify"):
            result = flask(
                target, "backup", command, "--from", str(path), "--identity", str(identity_path)
            )
            assert result.exit_code == 1, result.output
            assert message in result.output
    assert database_objects(target_url) == []


def test_a_missing_file_or_one_that_is_not_a_backup_is_refused(
    source, new_database, build, identity, identity_file, tmp_path
):
    target_url = new_database("target")
    target = build(target_url)
    plain = tmp_path / "notes.age"
    plain.write_text("not encrypted at all\n", encoding="utf-8")
    foreign = tmp_path / "foreign.age"  # age-encrypted to the right key, but not a backup
    foreign.write_bytes(pyrage.encrypt(b"a shopping list", [identity.to_public()]))
    cases = [
        (tmp_path / "missing.age", "cannot be read"),
        (plain, "is not an age-encrypted file"),
        (foreign, "decrypted, but is not a backup of this app"),
    ]
    for path, message in cases:
        for command in ("restore", "verify"):
            result = flask(
                target, "backup", command, "--from", str(path), "--identity", str(identity_file)
            )
            assert result.exit_code == 1, result.output
            assert message in result.output
            assert "Traceback" not in result.output
    assert database_objects(target_url) == []


def test_the_identity_can_come_from_standard_input(source, new_database, build, identity, tmp_path):
    """So it can stay encrypted at rest: `age -d identity.age | flask ... --identity -`."""
    path = backup_to(source.app, tmp_path / "backups")
    target = build(new_database("target"))
    result = flask(
        target,
        "backup",
        "restore",
        "--from",
        str(path),
        "--identity",
        "-",
        stdin=f"# offline key\n{identity}\n",
    )
    assert result.exit_code == 0, result.output
    assert count(target, Case) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "BACKUP_AGE_RECIPIENT is not set"),
        ("age1notakey", "BACKUP_AGE_RECIPIENT must be an age public key"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA", "BACKUP_AGE_RECIPIENT must be an age public key"),
    ],
)
def test_a_missing_or_malformed_recipient_is_refused_and_nothing_is_written(
    source, tmp_path, value, message
):
    directory = tmp_path / "backups"
    source.app.config["BACKUP_AGE_RECIPIENT"] = value
    records = count(source.app, AuditRecord)

    result = flask(source.app, "backup", "create", "--to", str(directory))

    assert result.exit_code == 1
    assert message in result.output
    assert "nothing was written" in result.output
    assert not directory.exists()
    assert count(source.app, AuditRecord) == records


def test_the_app_refuses_to_start_with_a_malformed_recipient_or_a_private_key(
    database_url, tmp_path
):
    settings = settings_for(database_url, tmp_path / "instance", Clock())
    with pytest.raises(ConfigError, match="BACKUP_AGE_RECIPIENT must be an age public key"):
        create_app({**settings, "BACKUP_AGE_RECIPIENT": "age1qqqq"})
    secret = str(pyrage.x25519.Identity.generate())
    with pytest.raises(ConfigError, match="is an age identity") as refused:
        create_app({**settings, "BACKUP_AGE_RECIPIENT": secret})
    assert secret not in str(refused.value)
    assert secret[15:40] not in str(refused.value)
    two = ",".join(str(pyrage.x25519.Identity.generate().to_public()) for _ in range(2))
    app = create_app({**settings, "BACKUP_AGE_RECIPIENT": two})  # several recipients are fine
    with app.app_context():
        db.engine.dispose()


# --- verify --------------------------------------------------------------------------------


def test_verify_passes_on_a_good_backup(source, identity_file, tmp_path):
    path = backup_to(source.app, tmp_path / "backups")

    result = flask(
        source.app, "backup", "verify", "--from", str(path), "--identity", str(identity_file)
    )

    assert result.exit_code == 0, result.output
    assert "audit chain: ok: intact" in result.output
    assert "passes every check" in result.output
    _no_throwaway_database_left(source.url)


def test_verify_fails_on_a_backup_whose_audit_chain_was_broken_before_it(
    source, identity_file, tmp_path
):
    with source.app.app_context():
        second = db.session.scalars(select(AuditRecord.id).order_by(AuditRecord.id)).all()[1]
        db.session.execute(
            text("UPDATE audit_records SET action = 'nothing.to.see' WHERE id = :id"),
            {"id": second},
        )
        db.session.commit()
    path = backup_to(source.app, tmp_path / "backups")

    result = flask(
        source.app, "backup", "verify", "--from", str(path), "--identity", str(identity_file)
    )

    assert result.exit_code == 1
    assert f"audit chain: FAILED: broken at record {second}" in result.output
    assert "FAILED its checks" in result.output
    _no_throwaway_database_left(source.url)


def test_verify_checks_audit_links_keyed_in_the_token(
    new_database, build, softhsm, identity_file, tmp_path
):
    """With a PKCS#11 token the links are HMACs under its key: verify checks them with it, and a
    restore host without the token cannot pass a keyed chain off as intact."""
    app = build(new_database("keyed"), **softhsm.settings())
    upgrade(app)
    with app.app_context():
        for number in range(3):
            audit_services.record(None, "test.keyed", "test", number)
        db.session.commit()
    path = backup_to(app, tmp_path / "backups")

    result = flask(app, "backup", "verify", "--from", str(path), "--identity", str(identity_file))
    assert result.exit_code == 0, result.output
    assert "audit chain: ok: intact: 3 records" in result.output

    without_token = build(new_database("plain"))
    result = flask(
        without_token, "backup", "verify", "--from", str(path), "--identity", str(identity_file)
    )
    assert result.exit_code == 1
    assert "keyed in a PKCS#11 token this app is not configured for" in result.output


def _no_throwaway_database_left(url: str) -> None:
    if url.startswith("sqlite"):
        return
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database")]
    assert not [name for name in names if name.startswith("safepassage_verify_")]


# --- across a schema revision ----------------------------------------------------------------


def test_a_backup_from_the_previous_revision_restores_and_upgrades(
    new_database, build, identity_file, tmp_path
):
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_current_head()
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    old = build(new_database("old"))
    upgrade(old, previous)
    with old.app_context():
        for number in range(3):
            audit_services.record(None, "test.before_upgrade", "test", number)
        db.session.commit()
    path = backup_to(old, tmp_path / "backups")
    manifest = json.loads(path.with_name(path.name.replace(".age", ".manifest.json")).read_text())
    assert manifest["schema_revision"] == previous

    target_url = new_database("target")
    target = build(target_url)
    restored = flask(
        target, "backup", "restore", "--from", str(path), "--identity", str(identity_file)
    )
    assert restored.exit_code == 0, restored.output
    with target.app_context():
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == previous
    upgrade(target)

    with target.app_context():
        # (SQLite: one connection at a time here, as every transaction takes the write lock.)
        assert set(inspect(db.engine).get_table_names()) >= {
            table.name for table in db.metadata.sorted_tables
        }
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == head
        actions = db.session.scalars(
            select(AuditRecord.action).where(AuditRecord.action == "test.before_upgrade")
        ).all()
    assert len(actions) == 3
    verified = flask(target, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_backup_is_restored_only_into_the_same_kind_of_database(
    build, postgres_server, identity_file, tmp_path
):
    """A SQLite backup into PostgreSQL is refused by name (moving kinds is not a restore)."""
    old = build(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old)
    path = backup_to(old, tmp_path / "backups")
    name = f"backup_kind_{uuid.uuid4().hex[:10]}"
    admin_url = postgres_server.url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        target_url = postgres_server.url(name)
        target = build(target_url)
        result = flask(
            target, "backup", "restore", "--from", str(path), "--identity", str(identity_file)
        )
        assert result.exit_code == 1
        assert "is a backup of a SQLite database and the app's database is PostgreSQL" in (
            result.output
        )
        assert database_objects(target_url) == []
        with target.app_context():
            db.engine.dispose()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
