"""Stripe delivers events late, twice and out of order: the totals must not care.

Hypothesis writes a history of events for a few gifts (successes, failures, refunds with a
growing cumulative amount, disputes opened and closed, redeliveries). The history is delivered
in order to one drive and in a shuffled order to another; both must end at the totals the
history implies, and the maintained aggregate must equal a full recount after every event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import db
from fundraising import services, webhooks
from fundraising.models import DriveTotals
from tests.factories import make_drive
from tests.fundraising.support import Gift, make_gift

AMOUNTS = (2500, 5000, 10_000, 700)
KINDS = ("succeeded", "failed", "refunded", "dispute_created", "dispute_closed", "duplicate")


@dataclass
class History:
    """What happened to each gift, in the order Stripe sent it."""

    # (event number, kind, gift, amount); a redelivery repeats an earlier step as it was
    steps: list[tuple[int, str, int, int]] = field(default_factory=list)
    outcomes: tuple[str, ...] = ()  # each gift's dispute ends "won" or "lost"

    def expected(self) -> tuple[int, int]:
        """The raised total and donor count this history should leave."""
        raised = donors = 0
        for index, amount in enumerate(AMOUNTS):
            kinds = {kind for _, kind, gift, _ in self.steps if gift == index}
            if not kinds & {"succeeded", "refunded", "dispute_created", "dispute_closed"}:
                continue  # never paid: pending or failed
            refunded = max(
                (
                    value
                    for _, kind, gift, value in self.steps
                    if kind == "refunded" and gift == index
                ),
                default=0,
            )
            lost = (
                disputed(index)
                if "dispute_closed" in kinds and self.outcomes[index] == "lost"
                else 0
            )
            counted = max(amount - refunded - lost, 0)
            raised += counted
            donors += 1 if counted else 0
        return raised, donors


def disputed(index: int) -> int:
    """Some disputes are for the whole gift, some for part of it."""
    return AMOUNTS[index] if index % 2 == 0 else AMOUNTS[index] // 2


@st.composite
def histories(draw: Any) -> History:
    outcomes = tuple(draw(st.lists(st.sampled_from(["won", "lost"]), min_size=4, max_size=4)))
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(KINDS),
                st.integers(0, len(AMOUNTS) - 1),
                st.integers(1, 3000),
            ),
            min_size=1,
            max_size=200,
        )
    )
    history = History(outcomes=outcomes)
    refunded = [0] * len(AMOUNTS)
    for kind, gift, number in raw:
        if kind == "duplicate":
            if history.steps:
                history.steps.append(history.steps[number % len(history.steps)])
            continue
        value = 0
        if kind == "refunded":
            # Stripe's amount_refunded is the running total, so it only grows.
            refunded[gift] = min(AMOUNTS[gift], refunded[gift] + number)
            value = refunded[gift]
        history.steps.append((len(history.steps), kind, gift, value))
    return history


def stripe_event(gift: Gift, kind: str, value: int, outcome: str, event_id: str) -> dict[str, Any]:
    if kind == "succeeded":
        return gift.succeeded(event_id)
    if kind == "failed":
        return gift.failed(event_id)
    if kind == "refunded":
        return gift.refunded(value, event_id)
    status = outcome if kind == "dispute_closed" else "needs_response"
    return gift.dispute(status, amount=disputed(AMOUNTS.index(gift.amount)), event_id=event_id)


def deliver_all(app, drive_id, gifts, history, order) -> tuple[int, int]:
    """Deliver the history's events in `order` straight to the intake; check totals each time."""
    tag = uuid.uuid4().hex[:12]
    with app.app_context():
        for position in order:
            number, kind, gift, value = history.steps[position]
            event_id = f"evt_{tag}_{number}"
            event = stripe_event(gifts[gift], kind, value, history.outcomes[gift], event_id)
            webhooks.receive_event(event)
            db.session.commit()
            maintained = db.session.get(DriveTotals, drive_id)
            assert (maintained.raised_minor, maintained.donors) == services.recount(drive_id)
            db.session.expire_all()
        final = db.session.get(DriveTotals, drive_id)
        return final.raised_minor, final.donors


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(), data=st.data())
def test_any_order_of_events_converges_to_the_same_totals(app, history, data):
    order = list(range(len(history.steps)))
    shuffled = data.draw(st.permutations(order), label="delivery order")
    results = []
    for delivery in (order, shuffled):
        drive_id = make_drive(app, slug="drive-" + uuid.uuid4().hex[:10])
        gifts = [make_gift(app, drive_id, amount) for amount in AMOUNTS]
        results.append(deliver_all(app, drive_id, gifts, history, delivery))
    in_order, out_of_order = results
    assert in_order == out_of_order
    assert in_order == history.expected()
