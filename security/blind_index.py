"""Blind indexes: keyed hashes of normalised names and contacts, so "is this person already a
case?" can be asked without storing either in clear."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from flask import current_app

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
