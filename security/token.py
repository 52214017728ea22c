"""The PKCS#11 token: keys that never leave it (SoftHSM2 in development and tests; a YubiHSM 2,
Nitrokey HSM or cloud HSM in production, through its PKCS#11 library).

A PKCS#11 login belongs to the whole process, not to one session, so each process keeps one
logged-in session per token, opened on first use and reopened after a fork (gunicorn's workers
inherit nothing usable from the parent). Calls are serialised by a lock: one token operation
takes microseconds, and PKCS#11 sessions are not for concurrent use."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error
from pkcs11.mechanisms import GCMParams


class TokenError(RuntimeError):
    """The token could not be reached or refused an operation; the message names which."""


@dataclass
class _Open:
    pid: int
    session: Any
    keys: dict[str, Any] = field(default_factory=dict)


_OPEN: dict[tuple[str, str], _Open] = {}
_LOCK = threading.RLock()


class Token:
    """One token, named by its PKCS#11 library, label and user PIN."""

    def __init__(self, module: str, label: str, pin: str) -> None:
        self.module, self.label, self._pin = module, label, pin

    def _open(self) -> _Open:
        """This process's logged-in session (call with _LOCK held)."""
        opened = _OPEN.get((self.module, self.label))
        if opened is not None and opened.pid == os.getpid():
            return opened
        try:
            library = pkcs11.lib(self.module)
            if opened is not None:  # forked: the parent's session is not ours to use
                library.reinitialize()
            token = library.get_token(token_label=self.label)
            session = token.open(rw=True, user_pin=self._pin)
        except PKCS11Error as error:
            raise TokenError(
                f"cannot open the PKCS#11 token {self.label!r} with {self.module} "
                f"({type(error).__name__}): check PKCS11_MODULE, PKCS11_TOKEN_LABEL and the PIN"
            ) from error
        opened = _Open(os.getpid(), session)
        _OPEN[(self.module, self.label)] = opened
        return opened

    def reset(self) -> None:
        """Forget this process's session and key handles (the tests' tokens are re-created)."""
        with _LOCK:
            opened = _OPEN.pop((self.module, self.label), None)
            if opened is not None and opened.pid == os.getpid():
                with contextlib.suppress(PKCS11Error):
                    opened.session.close()

    def _key(self, opened: _Open, label: str) -> Any:
        key = opened.keys.get(label)
        if key is None:
            try:
                key = opened.session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
            except NoSuchKey as error:
                raise KeyMissing(label) from error
            opened.keys[label] = key
        return key

    def create_aes_key(self, label: str) -> None:
        """A new AES-256 key stored in the token, usable only to encrypt and decrypt there."""
        self._create(label, KeyType.AES, MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT)

    def create_hmac_key(self, label: str, key_id: bytes | None = None) -> None:
        """A new 256-bit HMAC key stored in the token, usable only to sign and verify there.
        `key_id` (its CKA_ID, fixed at creation) may record a fact the database cannot alter."""
        self._create(
            label, KeyType.GENERIC_SECRET, MechanismFlag.SIGN | MechanismFlag.VERIFY, key_id
        )

    def key_id_of(self, label: str) -> bytes | None:
        """The CKA_ID the key was created with; None when the token holds no such key."""
        with _LOCK:
            try:
                key = self._key(self._open(), label)
            except KeyMissing:
                return None
            return bytes(key[Attribute.ID])

    def _create(
        self,
        label: str,
        key_type: KeyType,
        capabilities: MechanismFlag,
        key_id: bytes | None = None,
    ) -> None:
        with _LOCK:
            opened = self._open()
            try:
                opened.session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
                return  # created by an earlier attempt whose database write rolled back
            except NoSuchKey:
                pass
            template = {
                Attribute.EXTRACTABLE: False,
                Attribute.SENSITIVE: True,
                Attribute.PRIVATE: True,
                Attribute.MODIFIABLE: False,
            }
            try:
                opened.keys[label] = opened.session.generate_key(
                    key_type,
                    256,
                    label=label,
                    id=key_id if key_id is not None else label.encode(),
                    store=True,
                    capabilities=capabilities,
                    template=template,
                )
            except PKCS11Error as error:
                raise TokenError(f"the token refused to create key {label}: {error!r}") from error

    def has_key(self, label: str) -> bool:
        with _LOCK:
            opened = self._open()
            try:
                self._key(opened, label)
            except KeyMissing:
                return False
            return True

    def labels(self) -> set[str]:
        """The labels of every secret key in the token."""
        with _LOCK:
            opened = self._open()
            found = opened.session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
            return {str(key[Attribute.LABEL]) for key in found}

    def destroy(self, label: str) -> bool:
        """Destroy the key in the token; False when it was not there."""
        with _LOCK:
            opened = self._open()
            try:
                key = self._key(opened, label)
            except KeyMissing:
                return False
            opened.keys.pop(label, None)
            key.destroy()
            return True

    def encrypt(self, label: str, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM inside the token: ciphertext with its 16-byte tag."""
        with _LOCK:
            key = self._key(self._open(), label)
            result: bytes = key.encrypt(
                plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad)
            )
            return result

    def decrypt(self, label: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Open what encrypt() sealed; TokenError when it does not authenticate."""
        with _LOCK:
            key = self._key(self._open(), label)
            try:
                result: bytes = key.decrypt(
                    ciphertext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad)
                )
            except PKCS11Error as error:
                raise TokenError(f"key {label} did not open this value") from error
            return result

    def hmac(self, label: str, message: bytes) -> bytes:
        """HMAC-SHA256 inside the token."""
        with _LOCK:
            key = self._key(self._open(), label)
            result: bytes = key.sign(message, mechanism=Mechanism.SHA256_HMAC)
            return result


class KeyMissing(TokenError):
    """The token holds no key with this label (destroyed, or another token)."""

    def __init__(self, label: str) -> None:
        super().__init__(f"the token holds no key {label}")
        self.key_label = label
