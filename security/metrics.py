"""Prometheus metrics at /metrics, for the addresses in METRICS_ALLOW only.

What the operator needs to see a drive's spike and the app's health, and nothing that could
identify a donor, a case or a staff member: every label is one of a fixed set of words
(an outcome, an event type the app handles, an error kind), never an id, email, name, slug or
address. Packages count with the metric objects below (fundraising imports them; security
knows no domain) and add values read at scrape time with `add_collector` (the audit log adds
its last verification).

Under gunicorn each worker counts on its own: with PROMETHEUS_MULTIPROC_DIR set (an empty
directory, before the workers start; gunicorn.conf.py clears it and tells the library when a
worker exits) the counters live in files there and every scrape adds up all workers.
Without it (development, tests, a single process) they live in this process.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator

from flask import Blueprint, Flask, Response, abort, current_app, has_app_context, request
from flask.typing import ResponseReturnValue
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from extensions import limiter
from security import jobs

log = logging.getLogger(__name__)
COLLECTORS_KEY = "metrics_collectors"
MULTIPROCESS_SETTING = "PROMETHEUS_MULTIPROC_DIR"

# The label values each metric may carry: anything else is counted as "other".
GIFT_OUTCOMES = ("succeeded", "failed", "requires_action", "processing", "error")
WEBHOOK_OUTCOMES = (
    "applied",
    "ignored",
    "unmatched",
    "duplicate",
    "invalid_signature",
    "not_an_event",
    "error",
)
STRIPE_ERROR_KINDS = (
    "card_declined",
    "invalid_request",
    "authentication",
    "rate_limited",
    "server_error",
    "timeout",
    "unreachable",
)
STRIPE_RESOURCES = ("payment_intents", "payouts", "balance_transactions", "charges", "refunds")
OTHER = "other"

REGISTRY = CollectorRegistry()
GIFTS = Counter(
    "gifts",
    "Gifts answered on the donation form, by outcome",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "webhook_events",
    "Stripe webhook deliveries, by event type (the types the app handles; else other) and outcome",
    ["type", "outcome"],
    registry=REGISTRY,
)
STRIPE_ERRORS = Counter(
    "stripe_errors",
    "Stripe API calls that failed, by kind (a decline is card_declined)",
    ["kind"],
    registry=REGISTRY,
)
STRIPE_REQUEST_SECONDS = Histogram(
    "stripe_request_seconds",
    "Time each Stripe API call took (each try), by resource",
    ["resource"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 20, 30),
    registry=REGISTRY,
)

Collect = Callable[[], Iterable[Metric]]


def known(value: str, allowed: Collection[str]) -> str:
    """`value` when it is one of the allowed label values, else "other": a label never
    carries what a request or Stripe sent."""
    return value if value in allowed else OTHER


def count_gift(outcome: str) -> None:
    """One gift answered with this outcome (one of GIFT_OUTCOMES)."""
    GIFTS.labels(outcome=known(outcome, GIFT_OUTCOMES)).inc()


def count_webhook(event_type: str, outcome: str, handled_types: Collection[str]) -> None:
    """One webhook delivery: its type when the app handles that type, and its outcome."""
    WEBHOOK_EVENTS.labels(
        type=known(event_type, handled_types), outcome=known(outcome, WEBHOOK_OUTCOMES)
    ).inc()


def count_stripe_error(kind: str) -> None:
    """One Stripe call that failed, by kind (one of STRIPE_ERROR_KINDS)."""
    STRIPE_ERRORS.labels(kind=known(kind, STRIPE_ERROR_KINDS)).inc()


def observe_stripe_request(resource: str, seconds: float) -> None:
    """How long one Stripe call took."""
    STRIPE_REQUEST_SECONDS.labels(resource=known(resource, STRIPE_RESOURCES)).observe(seconds)


def add_collector(app: Flask, collect: Collect) -> None:
    """A package's values read at each scrape (gauges from its tables), in an app context."""
    collectors: list[Collect] = app.extensions.setdefault(COLLECTORS_KEY, [])
    collectors.append(collect)


def queue_depth() -> Iterator[Metric]:
    """The jobs waiting in the RQ queue (0 without Redis: jobs then run in the request)."""
    depth = GaugeMetricFamily("jobs_queue_depth", "Jobs waiting in the queue")
    reachable = GaugeMetricFamily("jobs_queue_up", "1 when the job queue's Redis answered")
    if not current_app.config.get("JOBS_REDIS_URL"):
        depth.add_metric([], 0)
        reachable.add_metric([], 1)
    else:
        try:
            depth.add_metric([], len(jobs.queue()))
            reachable.add_metric([], 1)
        except Exception as error:  # a scrape reports the outage; it does not fail with it
            log.warning("job queue length not read (%s)", type(error).__name__)
            reachable.add_metric([], 0)
    yield depth
    yield reachable


class ScrapeTimeValues(Collector):
    """The values read when Prometheus scrapes: the queue, and what packages added."""

    def collect(self) -> Iterator[Metric]:
        if not has_app_context():  # read outside a request (a test, a shell): counters only
            return
        yield from queue_depth()
        for collect in current_app.extensions.get(COLLECTORS_KEY, []):
            yield from collect()


def _scrape_registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROCESS_SETTING):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # every worker's counters, added up
        registry.register(ScrapeTimeValues())
        return registry
    return REGISTRY


def is_allowed(address: str | None) -> bool:
    """Whether the client address is in METRICS_ALLOW (never, when it is empty)."""
    networks = current_app.config.get("METRICS_ALLOW") or ()
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@limiter.exempt
def metrics() -> ResponseReturnValue:
    """Prometheus's scrape; 404, as for any unknown page, outside METRICS_ALLOW."""
    if not is_allowed(request.remote_addr):
        abort(404)
    response = Response(generate_latest(_scrape_registry()), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


# Beside the counters (registered as they are made): read only at a scrape, in its request.
REGISTRY.register(ScrapeTimeValues())


def init_app(app: Flask) -> None:
    """Serve /metrics."""
    app.register_blueprint(bp)
