"""Payout events: finance's init_app registers them with fundraising's webhook intake (which
knows no finance)."""

from __future__ import annotations

from typing import Any

from finance import reconcile
from fundraising.stripe_gateway import current_gateway
from fundraising.webhooks import Handler


def payout_changed(payout: dict[str, Any]) -> str:
    """Store the payout; once paid, fetch its balance transactions and match them."""
    if payout.get("status") == "paid":
        reconcile.sync_payout(current_gateway(), payout["id"], payout)
    else:
        reconcile.upsert_payout(payout)
    return "applied"


PAYOUT_EVENTS = (
    "payout.paid",
    "payout.failed",
    "payout.canceled",
    "payout.updated",
    "payout.created",
)
HANDLERS: dict[str, Handler] = dict.fromkeys(PAYOUT_EVENTS, payout_changed)
