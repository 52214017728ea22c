"""Browser fixtures: the app served on a free port, Debian's Chromium through Playwright, axe."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from extensions import db
from tests.conftest import Clock, settings_for
from tests.e2e.helpers import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on SQLite, real clock, CSRF on, no rate limits, in a background thread.

    One server and database per test module, so a module's pages show only its own data.
    """
    directory = tmp_path_factory.mktemp("e2e")
    settings = settings_for(f"sqlite:///{directory / 'e2e.db'}", directory / "instance", Clock())
    for name in ("CLOCK", "SERVER_NAME"):  # real time; the browser uses 127.0.0.1:<port>
        settings.pop(name)
    settings.update(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False, PROPAGATE_UNEXPECTED=False)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.port}")
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(live_server: LiveServer) -> Flask:
    """The served app (one SQLite database per module), for factories and services."""
    return live_server.app


@pytest.fixture
def database_url() -> str:
    """Browser tests run on SQLite only; this keeps PostgreSQL out if a fixture asks."""
    return "sqlite://"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Missing: a skip, or a failure under REQUIRE_BROWSER=1."""
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (install the chromium package)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """The window size; override in a module (or parametrise) for phone widths."""
    return {"width": 1200, "height": 800}


@pytest.fixture
def context(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test."""
    created = browser.new_context(viewport=viewport, locale="en-GB")
    created.set_default_timeout(10_000)
    yield created
    created.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()
