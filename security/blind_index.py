"""Blind indexes: keyed hashes of normalised names and contacts, so "is this person already a
case?" can be asked without storing either in clear.

Security knows no domain: each package that keeps a blind index adds a `Reindexer` for it in
its init_app, and `flask --app app keys rotate-blind-index` asks each one to recompute its
entries under the current BLIND_INDEX_KEY."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from config import decode_key


def normalise_name(value: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: "José  Pérez" -> "jose perez"."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().split())


def normalise_contact(value: str) -> str:
    """Phone numbers to their digits (with a leading +), other handles case-folded."""
    text = value.strip()
    digits = re.sub(r"[\s().\-]", "", text)
    if re.fullmatch(r"\+?\d{6,}", digits):
        return digits
    return normalise_name(text).replace(" ", "")


def blind_index(kind: str, normalised: str) -> str:
    """HMAC-SHA256 under BLIND_INDEX_KEY of a normalised value, tagged with its kind."""
    key = decode_key("BLIND_INDEX_KEY", current_app.config["BLIND_INDEX_KEY"])
    return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


REINDEXERS_KEY = "blind_index_reindexers"


@dataclass(frozen=True)
class Reindexer:
    """One package's blind index, "the {label} of N {unit}(s)".

    `reindex(batch_size)` recomputes every entry under the current key, committing a batch at
    a time (its own audit record included), and returns how many units it recomputed; run
    again, it does the same work and changes nothing more."""

    label: str
    unit: str
    reindex: Callable[[int], int]


def add_reindexer(app: Flask, reindexer: Reindexer) -> None:
    """Register a package's blind index for `keys rotate-blind-index`."""
    registered: list[Reindexer] = app.extensions.setdefault(REINDEXERS_KEY, [])
    if reindexer not in registered:
        registered.append(reindexer)


def reindexers() -> list[Reindexer]:
    """This app's blind indexes, in the order they were wired."""
    return list(current_app.extensions.get(REINDEXERS_KEY, []))
