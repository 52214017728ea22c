"""Field encryption for personal data: AES-256-GCM under per-record data keys, wrapped by the
master key (envelope encryption), so destroying one wrapped key shreds one record for good.

Each ciphertext is bound to its record id and field name (associated data): moved to another row
or column, it no longer decrypts.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from config import decode_key

NONCE_BYTES = 12
KEY_BYTES = 32
VERSION = b"\x01"


class DecryptionError(ValueError):
    """A ciphertext did not decrypt: wrong key, or moved to another record or field."""


def master_key() -> bytes:
    """The current master key from the configuration."""
    return decode_key("CASE_MASTER_KEY", current_app.config["CASE_MASTER_KEY"])


def key_id(key: bytes) -> str:
    """A short, non-secret name for a master key (stored beside each wrapped key)."""
    return hashlib.sha256(b"key-id:" + key).hexdigest()[:16]


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under a master key, and which master key that was."""

    master_key_id: str
    wrapped: bytes


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def wrap(data_key: bytes, record_id: str, master: bytes | None = None) -> WrappedKey:
    """Encrypt a data key under the master key, bound to its record."""
    master = master or master_key()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(master).encrypt(nonce, data_key, f"data-key:{record_id}".encode())
    return WrappedKey(key_id(master), VERSION + nonce + sealed)


def unwrap(wrapped: WrappedKey, record_id: str, master: bytes | None = None) -> bytes:
    """Decrypt a wrapped data key; a key id that does not match the master key is refused."""
    master = master or master_key()
    if wrapped.master_key_id != key_id(master):
        raise DecryptionError(
            f"record {record_id}: its key is wrapped by master key {wrapped.master_key_id}, "
            f"not the configured one ({key_id(master)})"
        )
    blob = wrapped.wrapped
    try:
        return AESGCM(master).decrypt(
            blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], f"data-key:{record_id}".encode()
        )
    except InvalidTag as error:
        raise DecryptionError(f"record {record_id}: its data key does not unwrap") from error


def encrypt(data_key: bytes, plaintext: str, record_id: str, field: str) -> bytes:
    """Encrypt one field of one record."""
    return encrypt_bytes(data_key, plaintext.encode(), record_id, field)


def decrypt(data_key: bytes, blob: bytes, record_id: str, field: str) -> str:
    """Decrypt one field; a ciphertext from another record or field fails loudly."""
    return decrypt_bytes(data_key, blob, record_id, field).decode()


def encrypt_bytes(data_key: bytes, plaintext: bytes, record_id: str, field: str) -> bytes:
    """Encrypt bytes (a key, a file's chunk) of one record, bound to the record and field."""
    nonce = os.urandom(NONCE_BYTES)
    associated = f"{record_id}:{field}".encode()
    return VERSION + nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated)


def decrypt_bytes(data_key: bytes, blob: bytes, record_id: str, field: str) -> bytes:
    """Decrypt bytes; a ciphertext from another record or field fails loudly."""
    associated = f"{record_id}:{field}".encode()
    try:
        return AESGCM(data_key).decrypt(
            blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], associated
        )
    except InvalidTag as error:
        raise DecryptionError(
            f"field {field} of record {record_id} does not decrypt: "
            "it was changed, or moved from another record or field"
        ) from error
