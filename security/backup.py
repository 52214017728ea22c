"""Encrypted backups that restore: made by `backup create`, opened by `backup restore` and
`backup verify` (security/backup_cli.py).

A backup is one file, `safe-passage-<UTC time>-<random>.age`: a tar of `manifest.json` and the
database dump (security/backup_engines.py), encrypted with age to BACKUP_AGE_RECIPIENT. The
server holds only that public key; the identity that decrypts is kept offline and brought to a
restore. Beside it, `<same name>.manifest.json` is a copy of the manifest plus the size and
SHA-256 of the encrypted file, for monitoring and retention scripts: it holds no personal data
(times, the schema revision, the database kind, the audit head's id and hash, sizes, hashes).

The plaintext dump exists only in a private temporary folder (TMPDIR, mode 0700) while it is
being encrypted or restored, and is deleted at once. A backup is decrypted completely (age
authenticates every chunk) before anything is restored, so an altered file changes nothing.

Security knows no domain: other packages add to the manifest, check a restored copy and hear
of a new backup through hooks their wiring registers (audit: the chain head, verify_chain on
the restored copy, and an audit record for each backup).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pyrage
from flask import Flask, current_app
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from extensions import db
from security.backup_engines import DUMP_NAMES, BackupError, database_for, throwaway
from security.backup_keys import NOTHING_RESTORED, recipients
from security.clock import now

FORMAT = "safe-passage-backup/1"
PREFIX = "safe-passage-"
SUFFIX = ".age"
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_MEMBER = "manifest.json"
HOOKS_KEY = "backup_hooks"
KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
AGE_MAGIC = b"age-encryption.org/v1\n"

__all__ = ["BackupError"]


@dataclass(frozen=True)
class CheckResult:
    """What one check found in a restored copy."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Backup:
    """A backup written: the encrypted file, the manifest beside it, and that manifest."""

    path: Path
    manifest_path: Path
    manifest: dict[str, Any]


ManifestEntry = Callable[[Session], dict[str, Any]]
RestoreCheck = Callable[[Session, Mapping[str, Any]], CheckResult]
CreatedListener = Callable[[Backup], None]


@dataclass
class BackupHooks:
    """What other packages registered (security knows no domain)."""

    manifest: list[ManifestEntry] = field(default_factory=list)
    checks: list[RestoreCheck] = field(default_factory=list)
    created: list[CreatedListener] = field(default_factory=list)


def hooks(app: Flask) -> BackupHooks:
    """The app's backup hooks (each app holds its own)."""
    registered: BackupHooks = app.extensions.setdefault(HOOKS_KEY, BackupHooks())
    return registered


def add_manifest_entry(app: Flask, entry: ManifestEntry) -> None:
    """Have `entry(session)` add keys to each manifest, read from the state being backed up."""
    hooks(app).manifest.append(entry)


def add_check(app: Flask, check: RestoreCheck) -> None:
    """Have `check(session, manifest)` run on the throw-away copy `backup verify` restores."""
    hooks(app).checks.append(check)


def add_created_listener(app: Flask, listener: CreatedListener) -> None:
    """Have `listener(backup)` called after each backup is written (in the command's
    transaction, which the command commits)."""
    hooks(app).created.append(listener)


# --- Files -----------------------------------------------------------------------------------


def _new_file(path: Path) -> IO[bytes]:
    """A new file only its owner can read (never an existing one)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(descriptor, "wb")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A private temporary folder for plaintext, removed whatever happens."""
    with tempfile.TemporaryDirectory(prefix="safe-passage-backup-") as folder:
        yield Path(folder)


# --- Create ----------------------------------------------------------------------------------


def schema_revision(connection: Connection) -> str | None:
    """The Alembic revision the database is at (None: never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = sorted(
        str(v) for v in connection.scalars(text("SELECT version_num FROM alembic_version"))
    )
    return ",".join(versions) or None


def _manifest(
    app: Flask, created: datetime, kind: str, connection: Connection, dump: Path
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": created.isoformat(timespec="seconds"),
        "database": kind,
        "schema_revision": schema_revision(connection),
        "dump": {"name": dump.name, "size": dump.stat().st_size, "sha256": _sha256(dump)},
    }
    session = Session(bind=connection)
    try:
        for entry in hooks(app).manifest:
            added = entry(session)
            clash = set(added) & set(manifest)
            if clash:
                raise RuntimeError(f"two backup manifest entries named {', '.join(sorted(clash))}")
            manifest.update(added)
    finally:
        session.close()
    return manifest


def _write_archive(path: Path, manifest: dict[str, Any], dump: Path) -> None:
    """A plain tar (the dump is compressed already, or a page image): manifest first."""
    content = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with (
        _new_file(path) as handle,
        tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, size, source in (
            (MANIFEST_MEMBER, len(content), io.BytesIO(content)),
            (dump.name, dump.stat().st_size, dump.open("rb")),
        ):
            member = tarfile.TarInfo(name)
            member.size, member.mode = size, 0o600
            with source:
                tar.addfile(member, source)


def _encrypt(archive: Path, target: Path, keys: list[pyrage.x25519.Recipient]) -> None:
    """Encrypt into `target` through a hidden partial file, so a failed run leaves nothing."""
    if target.exists():
        raise BackupError(f"{target} already exists; nothing was written")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with archive.open("rb") as source, _new_file(partial) as sink:
            pyrage.encrypt_io(source, sink, keys)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def create_backup(directory: Path) -> Backup:
    """Dump the app's database consistently, encrypt it to BACKUP_AGE_RECIPIENT into
    `directory`, and write the manifest beside it; both files 0600."""
    keys = recipients()  # first: without a recipient, nothing is dumped or written
    app = current_app
    database = database_for(db.engine.url)
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory} is not a directory; nothing was written")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = now()
    name = f"{PREFIX}{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    path = directory / f"{name}{SUFFIX}"
    manifest_path = directory / f"{name}{MANIFEST_SUFFIX}"
    with _scratch() as work:
        with database.snapshot(work) as (dump, connection):
            manifest = _manifest(app, created, database.kind, connection, dump)
        archive = work / "backup.tar"
        _write_archive(archive, manifest, dump)
        _encrypt(archive, path, keys)
    beside = {
        **manifest,
        "archive": {"name": path.name, "size": path.stat().st_size, "sha256": _sha256(path)},
        "encrypted_to": [str(key) for key in keys],
    }
    try:
        with _new_file(manifest_path) as handle:
            handle.write(json.dumps(beside, indent=2, sort_keys=True).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _sync_directory(directory)
    backup = Backup(path, manifest_path, manifest)
    for listener in hooks(app).created:
        listener(backup)
    return backup


# --- Open, restore, verify -------------------------------------------------------------------


def _decrypt(path: Path, identities: list[Any], plain: Path) -> None:
    """Decrypt the whole file into `plain`; BackupError naming why age refused it."""
    try:
        source = path.open("rb")
    except OSError as error:
        raise BackupError(f"the backup {path} cannot be read ({error.strerror})") from None
    with source, _new_file(plain) as sink:
        if source.read(len(AGE_MAGIC)) != AGE_MAGIC:
            raise BackupError(
                f"{path.name} is not an age-encrypted file (not made by backup create?); "
                f"{NOTHING_RESTORED}"
            )
        source.seek(0)
        try:
            pyrage.decrypt_io(source, sink, identities)
        except pyrage.DecryptError as error:
            if "no matching keys" in str(error).lower():
                # age cannot tell these apart: the key stanza did not open with this key.
                raise BackupError(
                    f"no identity given opens the backup {path.name}: it is not encrypted to "
                    f"this identity (the wrong key file?), or its header was altered; "
                    f"{NOTHING_RESTORED}"
                ) from None
            raise BackupError(_tampered(path, str(error))) from None
        except OSError as error:
            if error.errno is not None:  # our own disk, not the backup's content
                raise BackupError(f"decrypting {path.name} failed ({error.strerror})") from None
            raise BackupError(_tampered(path, str(error))) from None


def _tampered(path: Path, reason: str) -> str:
    return (
        f"the backup {path.name} failed age's authentication ({reason}): it was altered or "
        f"damaged after it was made; {NOTHING_RESTORED}"
    )


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    member = tar.extractfile(MANIFEST_MEMBER)
    if member is None:
        raise BackupError(f"the backup has no {MANIFEST_MEMBER}")
    manifest = json.loads(member.read())
    dump = manifest.get("dump") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or manifest.get("database") not in DUMP_NAMES
        or not isinstance(dump, dict)
        or dump.get("name") != DUMP_NAMES[manifest["database"]]
    ):
        raise BackupError(f"the backup's manifest is not a {FORMAT} manifest")
    return manifest


def _open_backup(path: Path, identities: list[Any], work: Path) -> tuple[dict[str, Any], Path]:
    """Decrypt and unpack a backup into `work`: its manifest and its dump, checked."""
    plain = work / "backup.tar"
    _decrypt(path, identities, plain)
    try:
        with tarfile.open(plain, mode="r:") as tar:
            manifest = _read_manifest(tar)
            dump = work / manifest["dump"]["name"]
            member = tar.extractfile(manifest["dump"]["name"])
            if member is None:
                raise BackupError("the backup's dump is not a file")
            with member, _new_file(dump) as sink:
                shutil.copyfileobj(member, sink)
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(
            f"{path.name} decrypted, but is not a backup of this app ({type(error).__name__}); "
            f"{NOTHING_RESTORED}"
        ) from None
    finally:
        plain.unlink(missing_ok=True)
    expected = manifest["dump"]
    if dump.stat().st_size != expected.get("size") or _sha256(dump) != expected.get("sha256"):
        raise BackupError(
            f"the dump in {path.name} does not match its manifest; {NOTHING_RESTORED}"
        )
    return manifest, dump


def restore_backup(path: Path, identities: list[Any]) -> dict[str, Any]:
    """Decrypt a backup and restore it into the app's database, which must be empty; return
    its manifest. Any refusal changes nothing."""
    database = database_for(db.engine.url)
    db.session.remove()
    db.engine.dispose()  # the restore's own connections are the only ones

    def refuse_unless_empty() -> None:
        present = database.objects()
        if present:
            raise BackupError(
                f"{database.describe()} is not empty ({len(present)} tables, indexes and other "
                f"objects, such as {', '.join(present[:3])}): a backup is restored only into an "
                "empty database; nothing was changed"
            )

    refuse_unless_empty()
    with _scratch() as work:
        manifest, dump = _open_backup(path, identities, work)
        if manifest["database"] != database.kind:
            raise BackupError(
                f"{path.name} is a backup of a {KINDS[manifest['database']]} database and the "
                f"app's database is {KINDS[database.kind]}: restore it into the same kind; "
                f"{NOTHING_RESTORED}"
            )
        refuse_unless_empty()  # again: decrypting takes a while
        database.restore(dump)
    return manifest


def verify_backup(path: Path, identities: list[Any]) -> tuple[dict[str, Any], list[CheckResult]]:
    """Restore a backup into a throw-away database (a temporary SQLite file, or a temporary
    PostgreSQL database on the app's server) and run every registered check on it."""
    with _scratch() as work:
        manifest, dump = _open_backup(path, identities, work)
        with throwaway(manifest["database"], db.engine.url, work) as scratch_database:
            scratch_database.restore(dump)
            results = _run_checks(current_app, scratch_database.url, manifest)
    return manifest, results


def _run_checks(app: Flask, url: Any, manifest: Mapping[str, Any]) -> list[CheckResult]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            revision = schema_revision(connection)
        expected = manifest.get("schema_revision")
        message = f"revision {revision}"
        if revision != expected:
            message = f"restored at revision {revision}, but the manifest says {expected}"
        results = [CheckResult("schema", revision == expected, message)]
        for check in hooks(app).checks:
            with Session(engine) as session:
                results.append(check(session, manifest))
        return results
    finally:
        engine.dispose()
