"""The audit log's part of the app: `flask audit ...` (its viewer is in accounts' admin area)."""

from __future__ import annotations

from flask import Flask

from audit import backup_hooks, cli, verifications
from security import backup, metrics


def init_app(app: Flask) -> None:
    """Wire the audit log into the app (and into security's backups and metrics)."""
    app.register_blueprint(cli.bp)
    metrics.add_collector(app, verifications.chain_metrics)
    backup.add_manifest_entry(app, backup_hooks.audit_head)
    backup.add_check(app, backup_hooks.check_chain)
    backup.add_created_listener(app, backup_hooks.record_backup)
