"""Our localstripe wrapper's indexes: the cost of a gift at the stand-in stays flat as it fills.

Nothing here is timed. The test counts the objects the stand-in reads per call (its index
counts them, and any scan of the whole store is caught), at a few objects and at thousands.
"""

from __future__ import annotations

import asyncio
import importlib
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from localstripe import resources

from devtools import localstripe_index
from devtools.localstripe_index import INDEX

CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2034", "cvc": "123"}


@pytest.fixture
def stand_in(monkeypatch) -> Iterator[dict[str, int]]:
    """localstripe's resources as the wrapper serves them, with whole-store scans counted."""
    with warnings.catch_warnings():  # localstripe's own routes are old-style aiohttp handlers
        warnings.simplefilter("ignore", DeprecationWarning)
        localstripe_server = importlib.import_module("devtools.localstripe_server")
    localstripe_index.install()
    localstripe_server._patch_payment_intents()
    localstripe_server._patch_intent_listing()
    resources.store.clear()
    scans = {"count": 0}
    real_items = resources.store.items

    def counted_items() -> Any:
        scans["count"] += 1
        return real_items()

    monkeypatch.setattr(resources.store, "items", counted_items, raising=False)
    yield scans
    resources.store.clear()


def gift() -> Any:
    """A PaymentMethod and a confirmed PaymentIntent, exported as the API answers them."""
    method = resources.PaymentMethod._api_create(type="card", card=dict(CARD))
    intent = resources.PaymentIntent._api_create(
        amount=2500,
        currency="usd",
        payment_method=method.id,
        confirm=True,
        metadata={"donation_id": "d"},
    )
    intent._export()
    return intent


def in_event_loop(work: Any) -> Any:
    """Run a coroutine function in a fresh event loop on its own thread (localstripe schedules
    its webhooks on the running loop; the browser tests may leave one running on this thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def reads_of(work: Any) -> int:
    before = INDEX.touched
    work()
    return INDEX.touched - before


def test_a_gift_reads_as_much_at_three_thousand_gifts_as_at_the_first(stand_in):
    async def run() -> tuple[int, int, int]:
        first = reads_of(gift)
        while len(INDEX.by_type["payment_intent"]) < 3_000:
            gift()
        later = reads_of(gift)
        charge = resources.Charge._api_retrieve(gift().latest_charge.id)
        return first, later, reads_of(charge._export)

    first, later, charge_export = in_event_loop(run)
    assert len(resources.store) > 10_000
    assert first == later
    assert charge_export == 0  # its refunds list reads its own refunds: none
    assert stand_in["count"] == 0  # nothing scanned the whole store


def test_lists_read_only_their_own_type_and_refunds_only_their_charge(stand_in):
    async def run() -> None:
        intents = [gift() for _ in range(20)]
        refunded = resources.Charge._api_retrieve(intents[0].latest_charge.id)
        resources.Refund(charge=refunded.id, amount=500)
        resources.Refund(charge=refunded.id, amount=700)

        assert reads_of(lambda: resources.Refund._api_list_all(None, charge=refunded.id)) == 2
        assert refunded.amount_refunded == 1200
        other = resources.Charge._api_retrieve(intents[1].latest_charge.id)
        assert other.amount_refunded == 0
        listing = resources.PaymentIntent._api_list_all(None, limit=100)
        assert len(listing.data) == 20
        assert listing.data[0]["id"] == intents[-1].id  # newest first, as Stripe lists

    in_event_loop(run)
    assert stand_in["count"] == 0


def test_clearing_the_stand_in_clears_its_indexes(stand_in):
    async def run() -> None:
        gift()

    in_event_loop(run)
    assert INDEX.by_type["payment_intent"]
    resources.store.clear()
    assert not INDEX.by_type["payment_intent"]
    assert resources.PaymentIntent._api_list_all(None).data == []
