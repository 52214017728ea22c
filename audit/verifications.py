"""What the last `audit verify` found, kept in the database for /metrics (audit_chain_ok).

In the database rather than a file beside the app: `audit verify` runs on one host (its
timer), and every app host behind the load balancer reports the same answer."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import select

from audit.models import AuditVerification
from extensions import db
from security.clock import now


def record_verification(*, is_intact: bool, records_checked: int) -> AuditVerification:
    """Keep one run's outcome; the caller commits."""
    verification = AuditVerification(
        verified_at=now(), is_intact=is_intact, records_checked=records_checked
    )
    db.session.add(verification)
    return verification


def latest_verification() -> AuditVerification | None:
    """The newest run of `audit verify`, if any."""
    return db.session.scalars(
        select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
    ).first()


def chain_metrics() -> Iterator[Metric]:
    """audit_chain_ok (1 intact, 0 broken; absent before the first run) and when it ran."""
    verification = latest_verification()
    db.session.rollback()  # a scrape ends its read at once; it never holds a transaction
    chain_ok = GaugeMetricFamily(
        "audit_chain_ok", "1 when the last `audit verify` found the chain intact, 0 when broken"
    )
    verified = GaugeMetricFamily(
        "audit_chain_verified_timestamp_seconds", "When the last `audit verify` ran (Unix time)"
    )
    if verification is not None:
        chain_ok.add_metric([], 1 if verification.is_intact else 0)
        verified.add_metric([], verification.verified_at.timestamp())
    yield chain_ok
    yield verified
