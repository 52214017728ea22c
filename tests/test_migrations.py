"""Every migration upgrades from empty and downgrades back, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import create_app
from extensions import db
from tests.conftest import Clock, settings_for


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"migtest_{uuid.uuid4().hex[:12]}"
    admin_url = server.url().replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield server.url(name)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def keep_logging() -> Iterator[None]:
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


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _enum_types(app) -> list[str]:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return []
        with db.engine.connect() as connection:
            return list(connection.scalars(text("SELECT typname FROM pg_type WHERE typtype = 'e'")))


# migrations/env.py is Flask-Migrate's template, which tries Flask-SQLAlchemy's deprecated
# get_engine() first; pyproject turns that warning into an error.
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_upgrade_from_empty_matches_the_models_and_downgrade_removes_everything(
    empty_database_url, tmp_path, keep_logging
):
    app = create_app(settings_for(empty_database_url, tmp_path / "instance", Clock()))
    runner = app.test_cli_runner()
    assert _tables(app) == set()

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.exception is None, repr(result.exception)
    assert _tables(app) == {table.name for table in db.metadata.sorted_tables}

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []

    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert result.exception is None, repr(result.exception)
    assert _tables(app) == set()
    assert _enum_types(app) == []

    result = runner.invoke(args=["db", "upgrade"])  # and back up again from the bottom
    assert result.exception is None, repr(result.exception)
    assert _tables(app) == {table.name for table in db.metadata.sorted_tables}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_0016_moves_cases_closed_early_to_closed_with_their_outcome(
    empty_database_url, tmp_path, keep_logging
):
    """Cases closed as declined or withdrawn (old stages), or after arriving, keep what they
    were as an outcome; open cases and the stage history are untouched."""
    app = create_app(settings_for(empty_database_url, tmp_path / "instance", Clock()))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "0015"])
    assert result.exception is None, repr(result.exception)
    stages = {"c1": "declined", "c2": "withdrawn", "c3": "closed", "c4": "screening"}
    with app.app_context(), db.engine.begin() as connection:
        for case_id, stage in stages.items():
            connection.execute(
                text(
                    "INSERT INTO cases (id, code, stage, risk_level, region, household_size, "
                    "referral_source, created_at, updated_at, stage_changed_at) VALUES "
                    "(:id, :code, :stage, 'high', 'North', 1, 'partner', :now, :now, :now)"
                ),
                {"id": case_id, "code": f"RC-{case_id}", "stage": stage, "now": "2026-01-01"},
            )
            connection.execute(
                text(
                    "INSERT INTO case_stage_changes (case_id, from_stage, to_stage, created_at)"
                    " VALUES (:id, 'referred', :stage, :now)"
                ),
                {"id": case_id, "stage": stage, "now": "2026-01-01"},
            )
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exception is None, repr(result.exception)
    with app.app_context(), db.engine.connect() as connection:
        rows = dict(
            (row.id, (row.stage, row.outcome))
            for row in connection.execute(text("SELECT id, stage, outcome FROM cases"))
        )
        history = sorted(
            connection.execute(text("SELECT case_id, to_stage FROM case_stage_changes")).all()
        )
    assert rows == {
        "c1": ("closed", "declined"),
        "c2": ("closed", "withdrawn"),
        "c3": ("closed", "relocated"),
        "c4": ("screening", None),
    }
    assert history == sorted(stages.items())
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
