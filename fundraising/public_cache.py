"""A few seconds of memory for public answers that are the same for every visitor.

During a viral spike every open drive page polls progress.json and new visitors keep opening the
drive page. Both are identical for every anonymous visitor for a few seconds (browsers keep
progress.json for five anyway), so each worker process keeps its own copy for
`PUBLIC_CACHE_SECONDS` (0 turns this off): a burst costs one database read and one render per
worker per period, not one per request. Only public answers go in; the views decide what is
public (never a page for a signed-in staff member, never one carrying a flashed message).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from flask import current_app

T = TypeVar("T")
MAX_ENTRIES = 512  # drives are few; the bound only stops a flood of keys from growing memory


class PublicCache:
    """Values by key, each kept for PUBLIC_CACHE_SECONDS after it was built."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def get_or_build(
        self, key: Hashable, build: Callable[[], T], *, seconds: float | None = None
    ) -> T:
        """The fresh value kept for `key`, or `build()`'s (kept when caching is on).

        `seconds` overrides PUBLIC_CACHE_SECONDS for this key (the share card is kept for
        minutes). An exception from `build` (a 404, say) propagates and nothing is kept."""
        if seconds is None:
            seconds = float(current_app.config["PUBLIC_CACHE_SECONDS"])
        if seconds <= 0:
            return build()
        moment = self._monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > moment:
            return cast(T, entry[1])
        value = build()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > moment}
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (moment + seconds, value)
        return value

    def clear(self) -> None:
        """Forget everything (an admin changed a drive: show it at once in this worker)."""
        with self._lock:
            self._entries.clear()


def public_cache() -> PublicCache:
    """This app's cache (one per app, so tests with several apps do not share)."""
    cache: PublicCache = current_app.extensions.setdefault("public_cache", PublicCache())
    return cache
