"""Moving every secret from one master key to the next (`flask --app app keys rotate-master`).

Security knows no domain: each package that keeps something under the master key adds a
`Resealer` for it in its init_app (accounts: staff TOTP seeds; fundraising: donors' details;
cases: each case's data key), with the purposes it seals under defined once, where it seals.
Rotation asks every resealer to check first (nothing changes if any value is under a third
key), then to move its own values. Each resealer commits as it goes and skips what is already
under the new key, so an interrupted rotation resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from flask import Flask, current_app

from security import fields, sealing

RESEALERS_KEY = "master_key_resealers"


class RotationRefused(ValueError):
    """A value is under neither the old key given nor the new one: check the old key."""


@dataclass(frozen=True)
class Resealer:
    """One package's values under the master key.

    `check(old, new)` raises RotationRefused when any value is under another key; `move(old,
    new, batch_size)` moves what is still under `old` and returns how many it moved."""

    label: str
    kind: Literal["wrapped", "sealed"]
    check: Callable[[bytes, bytes], None]
    move: Callable[[bytes, bytes, int], int]


def add_resealer(app: Flask, resealer: Resealer) -> None:
    """Register a package's values for rotation."""
    resealers: list[Resealer] = app.extensions.setdefault(RESEALERS_KEY, [])
    if resealer not in resealers:
        resealers.append(resealer)


def rotate_master(old: bytes, new: bytes, batch_size: int = 200) -> dict[str, int]:
    """Check every package, then move each one's values; the count moved per label."""
    if old == new:
        raise RotationRefused("The old and new master keys are the same.")
    for resealer in resealers():
        resealer.check(old, new)
    return {resealer.label: resealer.move(old, new, batch_size) for resealer in resealers()}


def resealers() -> list[Resealer]:
    """What this app's packages keep under the master key, in the order they were wired."""
    return list(current_app.extensions.get(RESEALERS_KEY, []))


def check_keys(key_ids: Iterable[str], what: str, old: bytes, new: bytes) -> None:
    """Refuse when any of these master-key ids is neither the old key's nor the new one's."""
    if set(key_ids) - {fields.key_id(old), fields.key_id(new)}:
        raise RotationRefused(
            f"Some {what} are under neither the old key given nor CASE_MASTER_KEY: "
            "check the old key. Nothing was changed."
        )


def check_sealed(tokens: Iterable[str | None], what: str, old: bytes, new: bytes) -> None:
    """Refuse when any of these sealed values is under a third key."""
    check_keys((sealing.sealed_with(token) for token in tokens if token), what, old, new)


def resealed(token: str | None, purpose: str, old: bytes, new: bytes) -> str | None:
    """The value sealed under `new`, or None when it needs no change (empty, or moved)."""
    if not token or sealing.sealed_with(token) == fields.key_id(new):
        return None
    return sealing.seal(sealing.unseal(token, purpose, master=old), purpose, master=new)
