"""The two databases a backup is taken from and restored into: SQLite and PostgreSQL.

SQLite is copied with its online-backup API (a consistent copy while the app writes), then
vacuumed, so no free page of the copy keeps anything deleted. PostgreSQL is dumped by
`pg_dump --format=custom` inside an exported snapshot, so the manifest's schema revision and
audit head are read from exactly the state the dump holds; it is restored by `pg_restore` in
one transaction (all or nothing), without owners or grants (the restoring role owns the
objects; run `audit grant-app-role` after). Both restore only into an empty database.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Lines of a client tool's error output that are safe to show: PostgreSQL's DETAIL and CONTEXT
# lines can quote a row's values (a key that clashed, the line of a COPY), which is personal data.
SAFE_LINE = re.compile(r"^(pg_dump|pg_restore)?:?\s*(error|fatal|ERROR|FATAL)\b")
USER_RELATIONS = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype IN ('e', 'd')
ORDER BY 1
"""


class BackupError(Exception):
    """A backup could not be made, opened, checked or restored; the message says why."""


def database_for(url: str | URL) -> SQLiteDatabase | PostgresDatabase:
    """The database behind an SQLAlchemy URL, as something that dumps and restores."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SQLiteDatabase(parsed)
    if parsed.get_backend_name() == "postgresql":
        return PostgresDatabase(parsed)
    raise BackupError(f"backups are for SQLite and PostgreSQL, not {parsed.get_backend_name()}")


class SQLiteDatabase:
    """A SQLite file."""

    kind = "sqlite"

    def __init__(self, url: URL) -> None:
        if not url.database or url.database == ":memory:":
            raise BackupError("the database is in memory: there is no file to back up or restore")
        self.url = url
        self.path = Path(url.database)

    def describe(self) -> str:
        return f"the SQLite database {self.path.name}"

    @contextmanager
    def snapshot(self, work: Path) -> Iterator[tuple[Path, Connection]]:
        """Copy the database into `work`; yield the copy and a connection reading it."""
        if not self.path.is_file():
            raise BackupError(f"{self.describe()} does not exist: nothing to back up")
        copy_path = work / DUMP_NAMES["sqlite"]
        try:
            source = sqlite3.connect(self.path)
            try:
                source.execute("PRAGMA busy_timeout=5000")
                copy = sqlite3.connect(copy_path)
                try:
                    source.backup(copy)
                    # One self-contained file (no -wal beside it), without free pages.
                    copy.execute("PRAGMA journal_mode=DELETE")
                    copy.execute("VACUUM")
                finally:
                    copy.close()
            finally:
                source.close()
        except sqlite3.Error as error:
            raise BackupError(f"the SQLite backup failed ({error})") from error
        engine = create_engine(URL.create("sqlite", database=str(copy_path)), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                yield copy_path, connection
        finally:
            engine.dispose()

    def objects(self) -> list[str]:
        """The tables, views, indexes and triggers in the database (none: it is empty)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        try:
            connection = sqlite3.connect(self.path)
            try:
                rows = connection.execute(
                    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
                ).fetchall()
            finally:
                connection.close()
        except sqlite3.Error as error:
            raise BackupError(f"{self.describe()} cannot be read ({error})") from error
        return [str(name) for (name,) in rows]

    def restore(self, dump: Path) -> None:
        """Copy the backup's database into this (empty) file, page by page."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            source = sqlite3.connect(dump)
            try:
                target = sqlite3.connect(self.path)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
        except sqlite3.Error as error:
            raise BackupError(f"restoring {self.describe()} failed ({error})") from error


class PostgresDatabase:
    """A PostgreSQL database, reached with the app's own credentials."""

    kind = "postgresql"

    def __init__(self, url: URL) -> None:
        self.url = url

    def describe(self) -> str:
        return f"the PostgreSQL database {self.url.database}"

    def _unreachable(self, error: SQLAlchemyError) -> BackupError:
        # The error's text is not shown: it can quote the URL, password and all.
        return BackupError(f"{self.describe()} cannot be read ({type(error).__name__})")

    def _client(self) -> tuple[str, dict[str, str]]:
        """The libpq URL for the client tools, and their environment: the password goes in
        PGPASSWORD, not on a command line any user on the host can read."""
        conninfo = self.url.set(drivername="postgresql", password=None)
        environment = dict(os.environ)
        if self.url.password:
            environment["PGPASSWORD"] = str(self.url.password)
        return conninfo.render_as_string(hide_password=False), environment

    def _run(self, command: list[str]) -> None:
        conninfo, environment = self._client()
        try:
            result = subprocess.run(  # noqa: S603  (our own arguments, no shell)
                [*command, f"--dbname={conninfo}"],
                capture_output=True,
                text=True,
                env=environment,
                check=False,
            )
        except OSError as error:
            raise BackupError(f"{Path(command[0]).name} could not run ({error.strerror})") from None
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if SAFE_LINE.match(line)]
            reason = "; ".join(lines[:3]) or f"exit status {result.returncode}"
            raise BackupError(f"{Path(command[0]).name} failed: {reason}")

    @contextmanager
    def snapshot(self, work: Path) -> Iterator[tuple[Path, Connection]]:
        """Dump the database into `work` from an exported snapshot; yield the dump and a
        connection that reads that same snapshot."""
        dump = work / DUMP_NAMES["postgresql"]
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with (
                engine.connect().execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                ) as connection,
                connection.begin(),
            ):
                pg_dump = client_tool("pg_dump", _server_major(connection))
                snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
                self._run(
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        "--no-password",
                        f"--file={dump}",
                    ]
                )
                yield dump, connection
        except SQLAlchemyError as error:
            raise BackupError(
                f"{self.describe()} cannot be read ({type(error).__name__})"
            ) from None
        finally:
            engine.dispose()

    def objects(self) -> list[str]:
        """Tables, sequences, views and types outside PostgreSQL's own schemas."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return [str(name) for name in connection.scalars(text(USER_RELATIONS))]
        except SQLAlchemyError as error:
            raise BackupError(
                f"{self.describe()} cannot be read ({type(error).__name__})"
            ) from None
        finally:
            engine.dispose()

    def restore(self, dump: Path) -> None:
        """pg_restore the dump, all of it or nothing (one transaction)."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                major = _server_major(connection)
        except SQLAlchemyError as error:
            raise BackupError(
                f"{self.describe()} cannot be reached ({type(error).__name__})"
            ) from None
        finally:
            engine.dispose()
        self._run(
            [
                client_tool("pg_restore", major),
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-acl",
                "--no-password",
                str(dump),
            ]
        )

    @contextmanager
    def throwaway(self) -> Iterator[PostgresDatabase]:
        """A new empty database on the same server, dropped afterwards."""
        name = f"safepassage_verify_{secrets.token_hex(6)}"
        engine = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as error:
            engine.dispose()
            raise BackupError(
                "backup verify restores into a throw-away database on the same server, and "
                f"this role may not create one ({type(error).__name__}): grant it CREATEDB, or "
                "run verify with DATABASE_URL naming a role that may"
            ) from None
        try:
            yield PostgresDatabase(self.url.set(database=name))
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()


@contextmanager
def throwaway(kind: str, app_url: URL, work: Path) -> Iterator[SQLiteDatabase | PostgresDatabase]:
    """An empty database to restore a backup of `kind` into and check: a new SQLite file in
    `work`, or a new PostgreSQL database on the app's server, dropped afterwards."""
    if kind == "sqlite":
        yield SQLiteDatabase(URL.create("sqlite", database=str(work / "verify.sqlite3")))
        return
    server = database_for(app_url)
    if not isinstance(server, PostgresDatabase):
        raise BackupError(
            "this is a PostgreSQL backup: verify it with DATABASE_URL naming a PostgreSQL "
            "server (a throw-away database is made there, and dropped)"
        )
    with server.throwaway() as database:
        yield database


def _server_major(connection: Connection) -> int:
    return int(connection.scalar(text("SHOW server_version_num")) or 0) // 10000


def _tool_major(path: str) -> int | None:
    try:
        result = subprocess.run(  # noqa: S603  (our own arguments, no shell)
            [path, "--version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\(PostgreSQL\) (\d+)", result.stdout)
    return int(found.group(1)) if found else None


def client_tool(name: str, server_major: int) -> str:
    """pg_dump or pg_restore of the server's version or newer: the server's own bindir first
    (Debian's /usr/lib/postgresql/N/bin, as tests/postgres.py finds it), then PATH, then any
    newer installed version."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}"]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            major = _tool_major(candidate)
            if major is not None and major >= server_major:
                return candidate
    raise BackupError(
        f"{name} for PostgreSQL {server_major} or newer was not found (looked in "
        f"/usr/lib/postgresql/*/bin and PATH): install postgresql-client-{server_major}"
    )
