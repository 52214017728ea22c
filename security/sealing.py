"""Small secrets sealed at rest (staff TOTP seeds, donor name and email) under a key derived
from the master key. Each token names the master key it was sealed under, so a key rotation can
re-seal what is left and skip what is done."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from security.fields import key_id, master_key

NONCE_BYTES = 12
PREFIX = "s1"


class SealError(ValueError):
    """A sealed value could not be opened: wrong key, wrong purpose or tampered bytes."""


def _key(purpose: str, master: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"seal:{purpose}".encode()
    ).derive(master)


def seal(plaintext: str, purpose: str, master: bytes | None = None) -> str:
    """Encrypt a short string with AES-256-GCM; the purpose is bound as associated data."""
    master = master or master_key()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(purpose, master)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{PREFIX}:{key_id(master)}:{base64.b64encode(nonce + sealed).decode()}"


def sealed_with(token: str) -> str:
    """The id of the master key a token was sealed under."""
    return token.split(":")[1]


def unseal(token: str, purpose: str, master: bytes | None = None) -> str:
    """Decrypt what seal() produced for the same purpose."""
    master = master or master_key()
    prefix, token_key_id, payload = token.split(":", 2)
    if prefix != PREFIX or token_key_id != key_id(master):
        raise SealError(f"sealed {purpose} value is under master key {token_key_id}")
    raw = base64.b64decode(payload)
    try:
        plain = AESGCM(_key(purpose, master)).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()
        )
    except InvalidTag as error:
        raise SealError(f"sealed {purpose} value does not open with this key") from error
    return plain.decode()
