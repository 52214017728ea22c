"""Small secrets sealed at rest (staff TOTP seeds) under a key derived from the master key."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from config import decode_key

NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value could not be opened: wrong key, wrong purpose or tampered bytes."""


def _key(purpose: str) -> bytes:
    master = decode_key("CASE_MASTER_KEY", current_app.config["CASE_MASTER_KEY"])
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"seal:{purpose}".encode()
    ).derive(master)


def seal(plaintext: str, purpose: str) -> str:
    """Encrypt a short string with AES-256-GCM; the purpose is bound as associated data."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(token: str, purpose: str) -> str:
    """Decrypt what seal() produced for the same purpose."""
    raw = base64.b64decode(token)
    try:
        plain = AESGCM(_key(purpose)).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()
        )
    except InvalidTag as error:
        raise SealError(f"sealed {purpose} value does not open with this key") from error
    return plain.decode()
