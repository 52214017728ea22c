"""Finance's part of the app: its area, `flask stripe sync`, the payout webhooks and the
payout bank references and gifts' references `keys rotate-master` re-seals."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from accounts.models import Role
from accounts.views import StaffArea, add_staff_area
from finance import cli, free_text, views, webhooks
from fundraising.cli import add_stripe_commands
from fundraising.webhooks import add_handlers
from security.rotation import add_resealer


def init_app(app: Flask) -> None:
    """Wire finance into the app (after fundraising, whose Stripe group and intake it uses)."""
    app.register_blueprint(views.bp)
    add_stripe_commands(app, cli.sync_command)
    add_handlers(app, webhooks.HANDLERS)
    add_resealer(app, free_text.BANK_REFERENCES)
    add_resealer(app, free_text.GIFT_TEXTS)
    add_staff_area(
        app, StaffArea("finance.index", _l("Finance"), (Role.FINANCE,), home_of=(Role.FINANCE,))
    )
