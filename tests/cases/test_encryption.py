"""Identity is ciphertext at rest, bound to its row and column."""

from __future__ import annotations

import os
import subprocess
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cases import encryption
from cases.models import Case, CaseKey
from extensions import db
from security import fields as crypto
from tests.cases.conftest import INTAKE


def _forms(text: str) -> list[bytes]:
    """The UTF-8 bytes of a value, case-folded and without accents too."""
    folded = text.casefold()
    plain = "".join(
        char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char)
    )
    return [form.encode() for form in dict.fromkeys((text, folded, plain, text.upper()))]


IDENTITY_BYTES = [
    form
    for value in (
        INTAKE["legal_name"],
        "Quintanar",
        "José Álvarez Núñez",
        INTAKE["current_location"],
        "Marrowgate",
        "7700 900123",
        "7700900123",
        "zuleika.q.42",
    )
    for form in _forms(value)
]


def _sqlite_bytes(app) -> bytes:
    path = Path(db.engine.url.database)
    chunks = [path.read_bytes()]
    for suffix in ("-wal", "-journal", "-shm"):
        extra = Path(str(path) + suffix)
        if extra.exists():
            chunks.append(extra.read_bytes())
    return b"".join(chunks)


def _postgres_dump(request, app) -> bytes:
    server = request.getfixturevalue("postgres_server")
    command = [
        str(server.bindir / "pg_dump"),
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-U",
        "postgres",
        db.engine.url.database,
    ]
    if os.geteuid() == 0 and server.user:
        command = ["runuser", "-u", server.user, "--", *command]
    result = subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert b"CREATE TABLE public.cases" in result.stdout
    return result.stdout


def database_bytes(request, app) -> bytes:
    """Everything the database holds, as an attacker with the disk or a dump would see it."""
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "sqlite":
            db.engine.dispose()
            return _sqlite_bytes(app)
        return _postgres_dump(request, app)


def test_identity_never_reaches_the_database_in_clear(request, app, person):
    worker = person()
    case_id = worker.create_case(known_as="José Álvarez Núñez")
    worker.client.post(f"/cases/{case_id}/notes", data={"body": "Met near Marrowgate"})
    worker.client.post(
        f"/cases/{case_id}/stage", data={"to_stage": "screening", "reason": "Quintanar ok"}
    )
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Quintanar-Oyelaran" in page  # it round-trips through the key
    raw = database_bytes(request, app)
    assert case_id.encode() in raw  # we are looking at the right data
    for needle in IDENTITY_BYTES:
        assert needle not in raw, needle


def _ids(app, worker) -> tuple[str, str]:
    first = worker.create_case()
    second = worker.create_case(
        legal_name="Another Person Entirely", known_as="", contact="+15550999"
    )
    return first, second


def test_swapped_ciphertexts_fail_to_decrypt_naming_the_field(app, person):
    worker = person()
    first, second = _ids(app, worker)
    with app.app_context():
        blobs = {row[0]: row[1] for row in db.session.execute(select(Case.id, Case.legal_name_enc))}
        for case_id, other in ((first, second), (second, first)):
            db.session.execute(
                update(Case).where(Case.id == case_id).values(legal_name_enc=blobs[other])
            )
        db.session.commit()
    with app.app_context():
        for case_id in (first, second):
            case = db.session.get(Case, case_id)
            with pytest.raises(crypto.DecryptionError, match="field legal_name of record"):
                encryption.read_identity(case)


def test_a_ciphertext_moved_to_another_column_fails(app, person):
    worker = person()
    case_id = worker.create_case()
    with app.app_context():
        db.session.execute(
            update(Case).where(Case.id == case_id).values(known_as_enc=Case.legal_name_enc)
        )
        db.session.commit()
        case = db.session.get(Case, case_id)
        with pytest.raises(crypto.DecryptionError, match="field known_as"):
            encryption.read_identity(case)


def test_a_wrapped_key_moved_to_another_case_fails(app, person):
    worker = person()
    first, second = _ids(app, worker)
    with app.app_context():
        wrapped = db.session.get(CaseKey, second).wrapped_key
        db.session.execute(
            update(CaseKey).where(CaseKey.case_id == first).values(wrapped_key=wrapped)
        )
        db.session.commit()
        with pytest.raises(crypto.DecryptionError, match=f"record {first}"):
            encryption.read_identity(db.session.get(Case, first))
        assert encryption.read_identity(db.session.get(Case, second))["legal_name"]


def test_wrong_master_key_is_refused_by_key_id(make_app, person):
    import base64

    app = make_app()
    with app.app_context():
        data_key = crypto.new_data_key()
        wrapped = crypto.wrap(data_key, "record-1")
        blob = crypto.encrypt(data_key, "Zuleika", "record-1", "legal_name")
        other = base64.b64decode(base64.b64encode(b"o" * 32))
        with pytest.raises(crypto.DecryptionError, match="wrapped by master key"):
            crypto.unwrap(wrapped, "record-1", other)
        assert crypto.decrypt(crypto.unwrap(wrapped, "record-1"), blob, "record-1", "legal_name")
        assert b"Zuleika" not in blob
        tampered = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(data_key, tampered, "record-1", "legal_name")


def test_case_ids_are_random_uuids(app, person):
    worker = person()
    first, second = _ids(app, worker)
    import uuid

    assert uuid.UUID(first).version == 4
    assert uuid.UUID(second).version == 4
    with app.app_context():
        codes = db.session.scalars(select(Case.code)).all()
    assert all(code.startswith("RC-") and 4 <= len(code) - 3 <= 6 for code in codes)


def test_sqlite_overwrites_deleted_content(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'secure.db'}")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
