"""The keys of backups: the age recipients the server encrypts to (BACKUP_AGE_RECIPIENT, public
keys only), and the identities a restore is given (from an offline medium, never the server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyrage
from flask import current_app

from config import ConfigError, backup_age_recipients
from security.backup_engines import BackupError

NOTHING_RESTORED = "nothing was restored"


def recipients() -> list[pyrage.x25519.Recipient]:
    """BACKUP_AGE_RECIPIENT as age recipients; BackupError when it is unset or malformed."""
    try:
        keys = backup_age_recipients(current_app.config.get("BACKUP_AGE_RECIPIENT"))
    except ConfigError as error:
        raise BackupError(f"{error}; nothing was written") from None
    if not keys:
        raise BackupError(
            "BACKUP_AGE_RECIPIENT is not set: set it to the organisation's age public key "
            "(age1..., printed by `age-keygen` on the offline machine that keeps the identity); "
            "nothing was written"
        )
    return [pyrage.x25519.Recipient.from_str(key) for key in keys]


def parse_identities(content: str, source: str = "the identity file") -> list[Any]:
    """The age identities in an identity file's text (age-keygen's format: `#` comments and
    AGE-SECRET-KEY-1... lines). The key itself never appears in a message."""
    identities = []
    for number, line in enumerate(content.splitlines(), start=1):
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        try:
            identities.append(pyrage.x25519.Identity.from_str(item))
        except pyrage.IdentityError:
            hint = " (that is a public key: restoring needs the private identity)"
            raise BackupError(
                f"line {number} of {source} is not an age identity (AGE-SECRET-KEY-1...)"
                + (hint if item.startswith("age1") else "")
                + f"; {NOTHING_RESTORED}"
            ) from None
    if not identities:
        raise BackupError(f"{source} holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


def read_identities(path: Path) -> list[Any]:
    """The age identities in an identity file."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a text file"
        raise BackupError(f"the identity file {path} cannot be read ({reason})") from None
    return parse_identities(content, f"the identity file {path.name}")
