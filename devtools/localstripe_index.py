"""Indexes for localstripe's store, so its cost per call stays flat as it fills.

localstripe keeps every object in one dict and answers each list by scanning all of it: every
charge it exports lists its refunds that way, so confirming a PaymentIntent cost more with each
gift already held (8.5 ms per gift over the first 500, 65 ms between 2,500 and 3,000). Past a
few thousand gifts a load test measured localstripe, not the app. Here the store also keeps
its objects per type, and refunds per charge; lists read those. `INDEX.touched` counts the
objects lists have read, so a test can check the cost without timing anything.

Development and tests only, like the rest of our localstripe wrapper.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from localstripe import resources
from localstripe.errors import UserError


class Index:
    """The store's objects per type (keyed as the store keys them) and refunds per charge."""

    def __init__(self) -> None:
        self.by_type: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        self.refunds_by_charge: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        self.touched = 0

    def clear(self) -> None:
        self.by_type.clear()
        self.refunds_by_charge.clear()

    def read(self, objects: dict[str, Any]) -> list[Any]:
        self.touched += len(objects)
        return list(objects.values())


INDEX = Index()


def _object_type(key: str) -> str:
    return key.split(":", 1)[0]


def _set(store: dict[str, Any], key: str, value: Any) -> None:
    # No dump to disk either (localstripe pickles the whole store on every change).
    dict.__setitem__(store, key, value)
    INDEX.by_type[_object_type(key)][key] = value


def _delete(store: dict[str, Any], key: str) -> None:
    value = store[key]
    dict.__delitem__(store, key)
    INDEX.by_type[_object_type(key)].pop(key, None)
    if isinstance(value, resources.Refund):
        INDEX.refunds_by_charge[value.charge].pop(value.id, None)


def _clear(store: dict[str, Any]) -> None:
    dict.clear(store)
    INDEX.clear()


def _list_all(
    cls: type[Any], /, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any
) -> Any:
    """`StripeObject._api_list_all`, reading the type's index instead of the whole store."""
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs))
    listing = resources.List(url, limit=limit, starting_after=starting_after)
    listing._list = INDEX.read(INDEX.by_type.get(cls.object, {}))
    return listing


def _refund_init(original: Any) -> Any:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        INDEX.refunds_by_charge[self.charge][self.id] = self

    return init


def _refunds_of(original: Any) -> Any:
    def list_refunds(
        cls: Any,
        url: str,
        charge: Any = None,
        payment_intent: Any = None,
        limit: Any = None,
        starting_after: Any = None,
    ) -> Any:
        if payment_intent is not None or not (isinstance(charge, str) and charge.startswith("ch_")):
            return original(
                cls,
                url,
                charge=charge,
                payment_intent=payment_intent,
                limit=limit,
                starting_after=starting_after,
            )
        resources.Charge._api_retrieve(charge)  # 404 for an unknown charge, as before
        listing = resources.List(url, limit=limit, starting_after=starting_after)
        refunds = INDEX.read(INDEX.refunds_by_charge.get(charge, {}))
        listing._list = sorted(refunds, key=lambda refund: refund.date, reverse=True)
        return listing

    return list_refunds


def install() -> None:
    """Index the store from now on (and what it already holds), once, before serving."""
    if getattr(resources.Store, "_indexed", False):
        return
    resources.Store._indexed = True
    store_class = resources.Store
    store_class.__setitem__ = _set
    store_class.__delitem__ = _delete
    store_class.clear = _clear
    store_class.dump_to_disk = lambda _self: None
    store_class.try_load_from_disk = lambda _self: None
    INDEX.clear()
    for key, value in resources.store.items():
        INDEX.by_type[_object_type(key)][key] = value
        if isinstance(value, resources.Refund):
            INDEX.refunds_by_charge[value.charge][value.id] = value
    resources.StripeObject._api_list_all = classmethod(_list_all)
    resources.Refund.__init__ = _refund_init(resources.Refund.__init__)
    resources.Refund._api_list_all = classmethod(
        _refunds_of(resources.Refund._api_list_all.__func__)
    )
