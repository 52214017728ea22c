"""Which payment methods a drive's form offers: the configured ones its currency can take."""

from __future__ import annotations

from flask import current_app

from config import MANDATE_PAYMENT_METHODS, PAYMENT_METHOD_CURRENCIES


def offered_for(currency: str) -> tuple[str, ...]:
    """The STRIPE_PAYMENT_METHOD_TYPES a gift in this currency can use, in their configured
    order: the page's Payment Element offers exactly these, and the PaymentIntent allows them.
    Card is always among them (config.py insists on it), so every drive can take gifts."""
    configured: tuple[str, ...] = current_app.config["STRIPE_PAYMENT_METHOD_TYPES"]
    return tuple(
        name
        for name in configured
        if (currencies := PAYMENT_METHOD_CURRENCIES[name]) is None or currency.lower() in currencies
    )


def needs_mandate(types: tuple[str, ...]) -> bool:
    """Whether a gift allowing these types confirms with the donor's mandate (a bank debit)."""
    return any(name in MANDATE_PAYMENT_METHODS for name in types)
