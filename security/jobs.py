"""Background jobs: work that must not run inside a request (sending mail, for one).

A package registers its tasks by name (`add_task`, from its init_app) and asks for one with
`enqueue(name, *args)` inside its transaction: the job starts once that transaction commits, and
never when it rolls back. Arguments are ids, never personal data: Redis keeps them and RQ logs
them. Each try runs in an app context of its own and commits its own work.

With JOBS_REDIS_URL (by default the rate limiter's RATELIMIT_STORAGE_URI when that is redis://)
a job goes to an RQ queue on Redis, run by `flask --app app jobs worker`, and a failed try is
retried after RETRY_INTERVALS. Without Redis (development and tests) it runs in this process
right after the commit, with the same number of tries but no wait between them.

A failure is logged with the task's name and the error's type alone, and that is all RQ
records of it: an SMTP server's answer can quote the recipient's address."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, SimpleWorker, get_current_job
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session

from extensions import db

log = logging.getLogger(__name__)
TASKS_KEY = "job_tasks"
PENDING_KEY = "jobs_pending"
QUEUE_NAME = "safe-passage"
# Seconds before each retry: six tries over about 80 minutes ride out an SMTP relay that is
# restarting, greylisting or refusing for a while.
RETRY_INTERVALS = (10, 60, 300, 900, 3600)
JOB_TIMEOUT_SECONDS = 120
FAILED_KEPT_SECONDS = 7 * 24 * 3600  # how long RQ keeps a failed job (name, ids, error type)

Argument = str | int
Task = Callable[..., None]


class JobFailed(RuntimeError):
    """A try of a job failed: names the task and the error's type, nothing the error said."""


class JobsNotConfigured(RuntimeError):
    """The worker was started without a Redis to take jobs from."""


def add_task(app: Flask, name: str, task: Task) -> None:
    """A package's task, run by name (`enqueue(name, *ids)`) in a job."""
    tasks: dict[str, Task] = app.extensions.setdefault(TASKS_KEY, {})
    tasks[name] = task


def _tasks() -> dict[str, Task]:
    tasks: dict[str, Task] = current_app.extensions.get(TASKS_KEY, {})
    return tasks


def enqueue(name: str, *args: Argument) -> None:
    """Run task `name` with `args` once the current transaction commits (never if it rolls
    back). The caller commits, as it would anyway."""
    if name not in _tasks():
        raise KeyError(f"no task named {name!r} is registered")
    pending: list[tuple[str, tuple[Argument, ...]]] = db.session.info.setdefault(PENDING_KEY, [])
    pending.append((name, args))


def _start_after_commit(session: Session) -> None:
    pending: list[tuple[str, tuple[Argument, ...]]] = session.info.pop(PENDING_KEY, [])
    if not pending or not has_app_context():
        return
    for name, args in pending:
        try:
            _start(name, args)
        except Exception as error:  # the committed work stands; the job is what is lost
            log.error("job %s not queued (%s)", name, type(error).__name__)


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(PENDING_KEY, None)


def _start(name: str, args: tuple[Argument, ...]) -> None:
    if current_app.config.get("JOBS_REDIS_URL"):
        queue().enqueue(
            perform,
            name,
            *args,
            retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            job_timeout=JOB_TIMEOUT_SECONDS,
            failure_ttl=FAILED_KEPT_SECONDS,
            result_ttl=0,
            description=name,  # what RQ logs for the job: not its arguments
        )
    else:
        run_now(name, *args)


def queue() -> Queue:
    """The app's RQ queue on JOBS_REDIS_URL."""
    url = current_app.config.get("JOBS_REDIS_URL")
    if not url:
        raise JobsNotConfigured("JOBS_REDIS_URL is not set (nor RATELIMIT_STORAGE_URI to redis://)")
    return Queue(QUEUE_NAME, connection=Redis.from_url(url), serializer=JSONSerializer)


def _run(name: str, args: tuple[Argument, ...]) -> None:
    """One try, in an app context (and so a database session) of its own."""
    with current_app.app_context():
        try:
            _tasks()[name](*args)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            raise JobFailed(f"{name} failed ({type(error).__name__})") from None


def run_now(name: str, *args: Argument) -> bool:
    """Run a job in this process, trying as often as the queue would (without waiting);
    return whether it succeeded."""
    tries = 1 + len(RETRY_INTERVALS)
    for attempt in range(1, tries + 1):
        try:
            _run(name, args)
        except JobFailed as failure:
            if attempt == tries:
                log.error("%s; failed for good after %d tries", failure, tries)
                return False
            log.warning("%s; try %d of %d, trying again", failure, attempt, tries)
        else:
            return True
    raise AssertionError("unreachable")  # pragma: no cover


def perform(name: str, *args: Argument) -> None:
    """What every queued job runs (RQ calls it in the worker, inside its app context)."""
    try:
        _run(name, args)
    except JobFailed as failure:
        job = get_current_job()
        tried = 1 + len(RETRY_INTERVALS) - (job.retries_left or 0) if job else 1
        if job is None or not job.retries_left:
            log.error("%s; failed for good after %d tries", failure, tried)
        else:
            log.warning("%s; try %d, retried later", failure, tried)
        raise


def work(*, burst: bool = False) -> bool:
    """Take jobs from the queue and run them (with RQ's scheduler, which starts retries when
    they are due) until stopped, or until the queue is empty with `burst`."""
    jobs = queue()
    worker = SimpleWorker([jobs], connection=jobs.connection, serializer=JSONSerializer)
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level="INFO"))


def init_app(_app: Flask) -> None:
    """Start the jobs asked for in a transaction when it commits; drop them on a rollback."""
    scoped = db.session
    if not event.contains(scoped, "after_commit", _start_after_commit):
        event.listen(scoped, "after_commit", _start_after_commit)
        event.listen(scoped, "after_rollback", _forget)
