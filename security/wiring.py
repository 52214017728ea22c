"""Security's part of the app: signed cookies, headers, error pages, the sign-in-free views."""

from __future__ import annotations

from flask import Flask

from security import cli, errors, headers, keystore, views
from security.cookies import SignedCookieSessions


def init_app(app: Flask) -> None:
    """Wire security into the app (first: every other package relies on it)."""
    app.session_interface = SignedCookieSessions()
    keystore.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(cli.keys_bp)
