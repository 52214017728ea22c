"""Accounts' part of the app: who is signed in, sign-in and account pages, the admin area."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from accounts import admin_views, cli, guards, security_events, totp, views
from accounts.models import Role
from accounts.views import StaffArea, add_staff_area
from extensions import login_manager
from security.rotation import add_resealer


def init_app(app: Flask) -> None:
    """Wire accounts into the app (after security and audit, before the domain packages)."""
    login_manager.init_app(app)
    login_manager.request_loader(guards.load_staff_user)
    login_manager.session_protection = None  # sessions live in our own table
    login_manager.login_view = "accounts.login"
    # Flask-Login's remember-me cookie is never used (staff sessions live in our own table), and
    # its after-request hook reads the cookie session on every response: that adds
    # "Vary: Cookie" to public answers such as progress.json, which shared caches then skip.
    # Flask-Login has no setting to leave the hook out, so it is taken off here (its one
    # private name we touch; tests/fundraising/test_public_cache.py shows the effect).
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    for blueprint in (views.bp, admin_views.bp, cli.bp):
        app.register_blueprint(blueprint)
    add_resealer(app, totp.TOTP_SEEDS)
    add_staff_area(app, StaffArea("admin.index", _l("Staff"), (Role.ADMIN,), home_of=(Role.ADMIN,)))
    add_staff_area(app, StaffArea("admin.security_events", _l("Security"), (Role.ADMIN,)))
    add_staff_area(app, StaffArea("admin.audit_log", _l("Audit log"), (Role.ADMIN,)))
    security_events.init_app(app)
