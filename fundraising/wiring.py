"""Fundraising's part of the app: the public pages, Stripe, webhook intake, drive admin."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from accounts.models import Role
from accounts.security_events import SecurityEvent, add_security_events
from accounts.views import StaffArea, add_staff_area
from extensions import csrf
from fundraising import (
    admin_views,
    card_testing,
    cli,
    receipt_mail,
    services,
    translation_views,
    update_mail,
    update_views,
    views,
    webhooks,
)
from fundraising.money import format_money
from fundraising.stripe_gateway import StripeGateway
from security.rotation import add_resealer


def init_app(app: Flask) -> None:
    """Wire fundraising into the app (after accounts; finance and cases build on it)."""
    app.extensions["stripe_gateway"] = app.config.get("STRIPE_GATEWAY") or StripeGateway(
        app.config.get("STRIPE_SECRET_KEY"),
        app.config.get("STRIPE_WEBHOOK_SECRET"),
        api_base=app.config.get("STRIPE_API_BASE"),
        timeout_seconds=app.config["STRIPE_TIMEOUT_SECONDS"],
    )
    app.jinja_env.filters["money"] = format_money
    csrf.exempt(views.webhook_bp)  # Stripe signs its deliveries instead
    # A mail client's one-click unsubscribe (RFC 8058) posts no form: the signed token in the
    # link is the authority, and no cookie is involved.
    csrf.exempt(update_views.unsubscribe)
    for blueprint in (views.bp, admin_views.bp, views.webhook_bp, cli.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(update_views.bp)
    app.register_blueprint(update_views.public_bp)
    app.register_blueprint(translation_views.bp)
    update_mail.init_app(app)
    receipt_mail.init_app(app)
    cli.add_stripe_commands(
        app,
        cli.local_webhook_secret_command,
        cli.reconcile_pending_command,
        cli.recover_missing_command,
    )
    webhooks.add_handlers(app, webhooks.HANDLERS)
    add_resealer(app, services.DONOR_DETAILS)
    add_security_events(
        app, SecurityEvent(card_testing.SUSPECTED, _l("Card testing suspected on a drive"))
    )
    add_staff_area(app, StaffArea("drives_admin.index", _l("Drives"), (Role.ADMIN,)))
