"""Security's part of the app: signed cookies, headers, error pages, the sign-in-free views."""

from __future__ import annotations

from flask import Flask

from security import (
    backup_cli,
    cli,
    errors,
    headers,
    jobs,
    keystore,
    locales,
    metrics,
    uploads,
    views,
)
from security.cookies import SignedCookieSessions


def init_app(app: Flask) -> None:
    """Wire security into the app (first: every other package relies on it)."""
    app.session_interface = SignedCookieSessions()
    app.request_class = uploads.InMemoryRequest
    keystore.init_app(app)
    locales.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    jobs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(cli.keys_bp)
    app.register_blueprint(cli.jobs_bp)
    app.register_blueprint(backup_cli.bp)
