"""The audit log's part in backups: its head in each manifest, its chain verified in the copy
`backup verify` restores, and an audit record for each backup taken (registered by
audit/wiring.py on security.backup's hooks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from audit.models import GENESIS_HASH, AuditHead
from audit.services import HEAD_ID, record, verify_chain
from security.backup import Backup, CheckResult

CHECK_NAME = "audit chain"


def audit_head(session: Session) -> dict[str, Any]:
    """The newest record's id and hash, as the database being backed up holds them."""
    head = session.get(AuditHead, HEAD_ID)
    return {
        "audit_head": {
            "record_id": head.last_record_id if head else None,
            "record_hash": head.last_hash if head else GENESIS_HASH,
        }
    }


def check_chain(session: Session, manifest: Mapping[str, Any]) -> CheckResult:
    """verify_chain on the restored copy, whose head must be the one the manifest names."""
    report = verify_chain(session=session)
    if not report.ok:
        return CheckResult(
            CHECK_NAME, False, f"broken at record {report.bad_record_id}: {report.problem}"
        )
    expected = manifest.get("audit_head") or {}
    found = {"record_id": report.head_record_id, "record_hash": report.head_hash}
    if found != {key: expected.get(key) for key in found}:
        return CheckResult(
            CHECK_NAME,
            False,
            f"intact, but its head is record {report.head_record_id} and the manifest says "
            f"record {expected.get('record_id')}: the manifest and the dump do not belong together",
        )
    return CheckResult(
        CHECK_NAME, True, f"intact: {report.checked} records, head {report.head_hash}"
    )


def record_backup(backup: Backup) -> None:
    """A backup is a copy of everything: who took it is the system (a timer), and when."""
    record(None, "backup.created", "backup", backup.path.stem)
