"""Donor amounts parsed into minor units, formatted for people, and the fee gross-up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from fundraising.money import InvalidAmount, exponent, fee_to_cover, format_money, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("25", "usd", 2500),
        ("25.5", "usd", 2550),
        ("25.50", "usd", 2550),
        (" 25.50 ", "usd", 2550),
        ("1000.50", "eur", 100050),
        ("0.01", "usd", 1),
        ("5000", "jpy", 5000),
        ("5000", "JPY", 5000),
        ("12000", "krw", 12000),
        ("1.250", "kwd", 1250),
        ("999999999", "jpy", 999_999_999),
    ],
)
def test_plain_amounts_become_exact_minor_units(text, currency, minor):
    amount = parse_amount(text, currency)
    assert amount == minor
    assert type(amount) is int


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("1,000.50", "usd", "without separators"),
        ("1 000", "usd", "without separators"),
        ("0", "usd", "more than zero"),
        ("0.00", "usd", "more than zero"),
        ("-5", "usd", "more than zero"),
        ("1e3", "usd", "as a number"),
        ("", "usd", "Enter an amount"),
        (None, "usd", "Enter an amount"),
        ("   ", "usd", "Enter an amount"),
        ("abc", "usd", "as a number"),
        ("NaN", "usd", "as a number"),
        ("Infinity", "usd", "as a number"),
        ("0x10", "usd", "as a number"),
        ("$25", "usd", "as a number"),
        ("25.", "usd", "as a number"),
        ("0.001", "usd", "at most 2 digits"),
        ("50.5", "jpy", "JPY has no minor unit"),
        ("1.255", "kwd", "last digit must be 0"),
        ("99999999999999999999", "usd", "too large"),
        # fits the digit limit but not the database's integer column (over 2^31 - 1 cents)
        ("999999999", "usd", "too large"),
        ("3000000000", "jpy", "too large"),
    ],
)
def test_malformed_amounts_are_refused_with_a_clear_message(text, currency, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(text, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (100050, "usd", "en", "$1,000.50"),
        (2500, "usd", "en", "$25.00"),
        (100050, "eur", "de_DE", "1.000,50\xa0€"),
        (100050, "eur", "fr_FR", "1\u202f000,50\xa0€"),
        (500000, "jpy", "en", "¥500,000"),
        (5000, "jpy", "ja_JP", "￥5,000"),
    ],
)
def test_amounts_are_formatted_for_people(minor, currency, locale, shown):
    assert format_money(minor, currency, locale) == shown


def stripe_fee(total: int, basis_points: int, fixed: int) -> int:
    """Stripe's fee on a charge: the percentage rounded to the minor unit, plus the fixed part."""
    percentage = (Decimal(total) * basis_points / 10_000).quantize(Decimal(1), ROUND_HALF_UP)
    return int(percentage) + fixed


@pytest.mark.parametrize(
    ("gift", "basis_points", "fixed", "extra"),
    [
        (2500, 290, 30, 106),  # $25 at 2.9% + 30c: the donor pays $26.06
        (1, 290, 30, 31),
        (10_000, 290, 30, 330),
        (2000, 140, 20, 49),  # European cards: 1.4% + 20c
        (5000, 360, 0, 187),  # JPY: 3.6%, no fixed part
    ],
)
def test_covering_the_fee_leaves_exactly_the_gift_after_stripes_fee(
    gift, basis_points, fixed, extra
):
    assert fee_to_cover(gift, basis_points, fixed) == extra
    total = gift + extra
    assert total - stripe_fee(total, basis_points, fixed) == gift


@pytest.mark.parametrize(("basis_points", "fixed"), [(290, 30), (140, 20), (360, 0)])
def test_the_fee_gross_up_is_never_short_and_never_more_than_needed(basis_points, fixed):
    for gift in [*range(1, 3000, 7), 99_999, 1_000_000]:
        total = gift + fee_to_cover(gift, basis_points, fixed)

        def exact_net(charged: int) -> Decimal:
            return charged - Decimal(charged) * basis_points / 10_000 - fixed

        assert exact_net(total) >= gift
        assert exact_net(total - 1) < gift  # the smallest total that covers the fee
        # Stripe rounds its percentage to the minor unit, so the drive may get one unit more.
        assert gift <= total - stripe_fee(total, basis_points, fixed) <= gift + 1


def test_exponents_follow_stripes_currency_list():
    assert [exponent(code) for code in ("usd", "eur", "jpy", "KRW", "kwd")] == [2, 2, 0, 0, 3]
