"""Money as integer minor units: parsing donor input, converting, and formatting with Babel."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency
from flask_babel import gettext as _

from security import locales

# Stripe's zero-decimal and three-decimal currencies (docs.stripe.com/currencies).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
SUPPORTED = frozenset(
    [
        "usd",
        "eur",
        "gbp",
        "cad",
        "aud",
        "nzd",
        "chf",
        "sek",
        "nok",
        "dkk",
        "pln",
        "czk",
        "huf",
        "ron",
        "isk",
        "jpy",
        "krw",
        "clp",
        "ugx",
        "vnd",
        "xof",
        "xaf",
        "mxn",
        "brl",
        "inr",
        "zar",
        "ils",
        "try",
        "sgd",
        "hkd",
        "twd",
        "bhd",
        "jod",
        "kwd",
        "omr",
        "tnd",
    ]
)
MAX_MAJOR_DIGITS = 9
# A gift's amount and a drive's goal are 32-bit integer columns (PostgreSQL's INTEGER; the
# drive totals that add them up are 64-bit): refuse what cannot be stored rather than fail in
# the database.
MAX_MINOR = 2**31 - 1

_AMOUNT = re.compile(r"^(\d+)(?:\.(\d+))?$")


class InvalidAmount(ValueError):
    """The amount text is not a plain positive number for this currency."""


def exponent(currency: str) -> int:
    """Digits after the decimal point in this currency's minor unit."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def parse_amount(text: str | None, currency: str) -> int:
    """Parse a donor's amount in major units ("25", "25.50") into minor units; never a float.
    The error's message is in the reader's language (English outside a request)."""
    value = (text or "").strip()
    if not value:
        raise InvalidAmount(_("Enter an amount."))
    if value.startswith("-"):
        raise InvalidAmount(_("The amount must be more than zero."))
    if "," in value or " " in value:
        raise InvalidAmount(_("Enter the amount as digits only, without separators, e.g. 1000.50."))
    match = _AMOUNT.match(value)
    if not match:
        raise InvalidAmount(_("Enter the amount as a number, e.g. 25 or 25.50."))
    whole, fraction = match.group(1), match.group(2) or ""
    digits = exponent(currency)
    if len(whole.lstrip("0")) > MAX_MAJOR_DIGITS:
        raise InvalidAmount(_("That amount is too large."))
    if len(fraction) > digits:
        if digits == 0:
            raise InvalidAmount(
                _(
                    "%(currency)s has no minor unit: enter a whole amount.",
                    currency=currency.upper(),
                )
            )
        raise InvalidAmount(
            _("Use at most %(digits)d digits after the decimal point.", digits=digits)
        )
    minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if minor <= 0:
        raise InvalidAmount(_("The amount must be more than zero."))
    if minor > MAX_MINOR:
        raise InvalidAmount(_("That amount is too large."))
    if digits == 3 and minor % 10:
        raise InvalidAmount(_("The last digit must be 0 for this currency."))
    return int(minor)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units to an exact Decimal in major units."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def to_major_string(amount_minor: int, currency: str) -> str:
    """Minor units as a plain decimal string ("1000.50"), for forms and CSV."""
    digits = exponent(currency)
    return f"{to_decimal(amount_minor, currency):.{digits}f}"


def format_money(amount_minor: int, currency: str, locale: str | None = None) -> str:
    """Minor units formatted for people ("$1,000.50", "¥5,000"; "1.000,50 US$" in Spanish),
    in the reader's locale unless one is given."""
    return str(
        format_currency(
            to_decimal(amount_minor, currency), currency.upper(), locale=locale or locales.current()
        )
    )


def fee_to_cover(amount_minor: int, percent_basis_points: int, fixed_minor: int) -> int:
    """The extra that makes the net after Stripe's fee equal the gift (rounded up)."""
    # total - (total * p + fixed) = amount  =>  total = (amount + fixed) / (1 - p)
    denominator = 10_000 - percent_basis_points
    total = -(-(amount_minor + fixed_minor) * 10_000 // denominator)
    return total - amount_minor
