"""A demo drive with a handful of gifts, for `flask --app app demo` (development only)."""

from __future__ import annotations

from datetime import timedelta

from fundraising import drives, services
from fundraising.models import DonationStatus, Drive
from security.clock import now

DEMO_SLUG = "emergency-relocation"
DEMO_STORY = """\
In the last week, people in our partner network have been detained at checkpoints and
their names shared in online groups that hunt people **for who they are**.

Your gift pays for what gets a person out within days: a flight or a bus ticket, a visa
or travel document, and the first weeks of safe housing in the country that receives them.

Every gift to this drive is spent only on this drive's purpose. We publish where the money
went, in totals, once people are safe. [How we protect the people we help](https://example.org/privacy).
"""
DEMO_GIFTS = (
    (5000, "Sam Rivera", "Stay safe. You are not alone."),
    (2500, "", ""),
    (10000, "Noor", "From Amsterdam with love"),
    (2000, "Alex Kim", ""),
    (25000, "", "For the flights."),
    (150000, "", "From our congregation."),
    (75000, "Maya Lindqvist", "Solidarity from Stockholm"),
)


def seed_demo_drive() -> Drive:
    """A live drive ending in 72 hours, with gifts already in."""
    moment = now()
    drive = drives.create_drive(
        slug=DEMO_SLUG,
        title="Emergency relocation: get five people to safety this week",
        goal_minor=6_000_000,
        currency="usd",
        starts_at=moment - timedelta(hours=2),
        ends_at=moment + timedelta(hours=72),
        story=DEMO_STORY,
    )
    for amount_minor, name, message in DEMO_GIFTS:
        donation = services.start_donation(
            drive,
            services.GiftRequest(
                amount_minor=amount_minor, name=name, is_anonymous=not name, message=message
            ),
        )
        services.set_payment_status(donation, DonationStatus.SUCCEEDED)
    return drive
