"""The audit log's part of the app: `flask audit ...` (its viewer is in accounts' admin area)."""

from __future__ import annotations

from flask import Flask

from audit import cli


def init_app(app: Flask) -> None:
    """Wire the audit log into the app."""
    app.register_blueprint(cli.bp)
