"""After a crypto-shred commits: leave no old copy of the shredded rows in the database's own
files. SQLite (WAL mode, secure_delete on) checkpoints the write-ahead log into the database,
where freed pages are zeroed, and truncates the log; PostgreSQL rewrites the shredded tables
(VACUUM FULL), so their dead tuples leave the table's files. Copies outside the database
(backups, WAL archives, replicas) are what key generations in the token are for."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from extensions import db

log = logging.getLogger(__name__)


def scrub(tables: tuple[str, ...]) -> None:
    """Call after the shredding transaction committed (VACUUM runs outside any transaction)."""
    engine = db.engine
    try:
        if engine.dialect.name == "sqlite":
            # On the driver's connection: SQLAlchemy would open a transaction (BEGIN IMMEDIATE,
            # app.py), inside which SQLite cannot checkpoint.
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cursor.close()
            finally:
                raw.close()
            if busy:
                log.warning("scrub after purge: a reader kept the write-ahead log busy")
            return
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql":
                # Never wait behind a long transaction: the next purge scrubs again.
                autocommit.exec_driver_sql("SET lock_timeout = '5s'")
                for table in tables:
                    preparer = engine.dialect.identifier_preparer
                    autocommit.execute(text(f"VACUUM (FULL) {preparer.quote(table)}"))
    except DBAPIError as error:
        # The shred itself has committed; a busy database only delays the scrub to the next.
        log.warning("scrub after purge did not run: %s", type(error.orig).__name__)
