"""gunicorn's settings for Safe Passage (read by `gunicorn 'app:create_app()'` from this folder).

Sizing: a gift holds one thread for as long as Stripe takes to answer (~300 ms, up to
STRIPE_TIMEOUT_SECONDS when Stripe is slow), and the app's own work per gift is a few ms of
CPU. So threads, not processes, carry a spike: threads needed = gifts per second at the peak x
Stripe's answer time x 2 (headroom for slow answers), spread over the workers. The default,
2 workers per core x 16 threads, has threads for 100 gifts/s with Stripe at 300 ms; what caps a
box today is CPU (about 22 ms of app CPU per gift: some 38 gifts/s per core, measured in
benchmarks/README.md, "the whole gift path"). Raise GUNICORN_THREADS for a larger peak, and
WEB_CONCURRENCY (workers) with more cores. Each thread may hold a database connection:
keep workers x threads within what the database allows (DATABASE_POOL_SIZE sets each worker's
pool).

Every setting can be overridden from the environment (below) or on the command line.
"""

from __future__ import annotations

import multiprocessing
import os


def _number(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a whole number above zero, not {value!r}")
    return int(value)


wsgi_app = "app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _number("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count())
threads = _number("GUNICORN_THREADS", 16)
# A thread waiting on Stripe is not a hung worker (gthread's heartbeat runs beside it), but a
# worker that stops answering for this long is restarted. Above Stripe's own timeout, twice
# (one retry), so a slow Stripe never gets a worker killed mid-payment.
timeout = _number("GUNICORN_TIMEOUT", 60)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30)  # in-flight gifts finish on restart
keepalive = 5  # seconds; the proxy in front reuses connections
backlog = 2048  # a spike queues in the kernel rather than being refused
# No access log: an address next to a drive's URL ties a person to a gift. Errors only, to
# stderr; the app's own log lines carry no personal data.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The proxy sets X-Forwarded-For; the app reads it (TRUSTED_PROXIES), gunicorn need not.
forwarded_allow_ips = "127.0.0.1,::1"

# Metrics (security/metrics.py): each worker counts on its own, so with
# PROMETHEUS_MULTIPROC_DIR set (a directory only the app user writes, e.g. /run/safe-passage/
# metrics, set in the environment before gunicorn starts) the counters go to files there and
# /metrics adds up every worker's. It is emptied when gunicorn starts (a previous run's files
# would be counted again) and a worker's live gauges are dropped when it exits.
METRICS_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def on_starting(_server: object) -> None:
    if METRICS_DIRECTORY:
        os.makedirs(METRICS_DIRECTORY, mode=0o700, exist_ok=True)
        for name in os.listdir(METRICS_DIRECTORY):
            if name.endswith(".db"):
                os.remove(os.path.join(METRICS_DIRECTORY, name))


def child_exit(_server: object, worker: object) -> None:
    if METRICS_DIRECTORY:
        from prometheus_client import multiprocess  # noqa: PLC0415 (only in multiprocess mode)

        multiprocess.mark_process_dead(getattr(worker, "pid", 0))
