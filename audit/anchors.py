"""Anchors: the chain's head written outside the database, so a rewritten log is caught.

Each anchor is one JSON line {"count", "mac", "record_hash", "record_id", "time"} appended to
AUDIT_ANCHOR_PATH (a file the app may append to but not rewrite, e.g. `chattr +a`) or printed
for a remote syslog. Someone with write access to the database can delete records and re-chain
the rest, but cannot change what an anchor already says: the anchored record must still be
there, with the anchored hash, at the end of an intact chain of the anchored length.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import func, select

from audit.models import AuditRecord
from audit.services import ChainReport
from extensions import db
from security.clock import now

PATH_SETTING = "AUDIT_ANCHOR_PATH"
FIELDS = ("count", "record_hash", "record_id", "time")
BATCH = 500


class AnchorError(Exception):
    """An anchor could not be written, or the anchors do not match the log."""


@dataclass(frozen=True)
class Anchor:
    """One anchor line, its mac checked."""

    line_number: int
    record_id: int | None
    record_hash: str
    count: int
    time: str


def anchor_path() -> str | None:
    """AUDIT_ANCHOR_PATH from the app's config, else the environment; None when unset."""
    if PATH_SETTING in current_app.config:
        value = current_app.config[PATH_SETTING]
    else:
        value = os.environ.get(PATH_SETTING)
    return str(value) if value else None


def _anchor_key() -> bytes:
    # For now derived from SECRET_KEY; this function is the one place to move into the token.
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        raise AnchorError("SECRET_KEY is not set, so anchors cannot be signed or checked")
    material = secret if isinstance(secret, bytes) else str(secret).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"audit-anchor").derive(
        material
    )


def anchor_mac(content: bytes) -> str:
    """HMAC-SHA256 over an anchor's canonical content, hex."""
    return hmac.new(_anchor_key(), content, hashlib.sha256).hexdigest()


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        {name: fields[name] for name in FIELDS}, sort_keys=True, separators=(",", ":")
    ).encode()


def anchor_line(report: ChainReport) -> str:
    """The signed anchor line (no newline) for the head of a chain that verified."""
    fields: dict[str, Any] = {
        "count": report.checked,
        "record_hash": report.head_hash,
        "record_id": report.head_record_id,
        "time": now().isoformat(timespec="seconds"),
    }
    fields["mac"] = anchor_mac(_canonical(fields))
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def append_anchor(path: str, line: str) -> None:
    """Append one line with O_APPEND (never truncating or seeking); AnchorError if impossible."""
    data = (line + "\n").encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as error:
        raise AnchorError(
            f"cannot append to {PATH_SETTING} {path}: {error.strerror or error}"
        ) from error
    try:
        if os.fstat(descriptor).st_size and _last_byte(path) != b"\n":
            data = b"\n" + data  # a torn last line stays visible, but never swallows this one
        if os.write(descriptor, data) != len(data):
            raise AnchorError(f"short write to {PATH_SETTING} {path}")
        os.fsync(descriptor)
    except OSError as error:
        raise AnchorError(
            f"cannot append to {PATH_SETTING} {path}: {error.strerror or error}"
        ) from error
    finally:
        os.close(descriptor)


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def _parse(line_number: int, text: str) -> Anchor:
    where = f"anchor line {line_number}"
    start = text.find("{")  # a syslog copy may carry a timestamp and tag before the JSON
    if start < 0:
        raise AnchorError(f"{where} is not an anchor (no JSON object)")
    try:
        fields = json.loads(text[start:])
    except ValueError as error:
        raise AnchorError(f"{where} is not valid JSON") from error
    if not isinstance(fields, dict) or set(fields) != {*FIELDS, "mac"}:
        raise AnchorError(f"{where} does not have exactly the fields {', '.join(FIELDS)}, mac")
    mac = fields.pop("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, anchor_mac(_canonical(fields))):
        raise AnchorError(f"{where} has a mac that does not match (edited, or another key)")
    record_id, record_hash, count, time = (
        fields["record_id"],
        fields["record_hash"],
        fields["count"],
        fields["time"],
    )
    if not (record_id is None or (isinstance(record_id, int) and record_id > 0)):
        raise AnchorError(f"{where} has a bad record_id")
    if not isinstance(count, int) or count < 0 or (record_id is None) != (count == 0):
        raise AnchorError(f"{where} has a bad count")
    if not isinstance(record_hash, str) or not isinstance(time, str):
        raise AnchorError(f"{where} has a bad record_hash or time")
    return Anchor(line_number, record_id, record_hash, count, time)


def read_anchors(path: str) -> list[Anchor]:
    """Every anchor in the file, oldest first, each mac checked; AnchorError on any bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise AnchorError(
            f"{PATH_SETTING} {path} does not exist (deleted? run audit anchor to start it)"
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise AnchorError(f"cannot read {PATH_SETTING} {path}: {error}") from error
    anchors = [
        _parse(number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    previous: Anchor | None = None
    for anchor in anchors:
        if previous is not None and anchor.count < previous.count:
            raise AnchorError(
                f"anchor line {anchor.line_number} has fewer records ({anchor.count}) than "
                f"line {previous.line_number} ({previous.count}): the log lost records between them"
            )
        previous = anchor
    return anchors


def check_anchors(anchors: list[Anchor]) -> None:
    """Each anchored record must still be in the log with its anchored hash, the newest at its
    anchored position; AnchorError naming the first that is not. Call after verify_chain passed:
    then a matching hash vouches for every record before it."""
    anchored = [(anchor, anchor.record_id) for anchor in anchors if anchor.record_id is not None]
    if not anchored:
        return
    latest, latest_id = anchored[-1]
    found: dict[int, str] = {}
    ids = sorted({record_id for _, record_id in anchored})
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = db.session.execute(
            select(AuditRecord.id, AuditRecord.record_hash).where(AuditRecord.id.in_(chunk))
        )
        found.update((record_id, record_hash) for record_id, record_hash in rows)
    for anchor, record_id in reversed(anchored):  # the newest first: it matters most
        where = f"anchor line {anchor.line_number} ({anchor.time})"
        if record_id not in found:
            raise AnchorError(
                f"record {record_id}, anchored by {where}, is gone: "
                "the log was truncated or rewritten"
            )
        if found[record_id] != anchor.record_hash:
            raise AnchorError(
                f"record {record_id} does not have the hash {where} recorded: "
                "the log was re-chained"
            )
    # With the chain intact, a matching hash already fixes everything before the record; the
    # count of the newest is one more cheap query that names the problem plainly.
    position = db.session.scalar(
        select(func.count(AuditRecord.id)).where(AuditRecord.id <= latest_id)
    )
    if position != latest.count:
        raise AnchorError(
            f"record {latest_id} is record {position} of the log, but anchor line "
            f"{latest.line_number} counted {latest.count}: records before it were removed"
        )
