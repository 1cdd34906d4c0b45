"""Jobs are handed over only after the commit that made them necessary.

Services call `after_commit(...)` while they work and `commit()` once at the end. With `REDIS_URL`
the jobs go to RQ; without it they run in this process right after the commit, through the same
functions. A job that fails in-process, or a Redis that is down, never fails the user's request:
the outbox row is already committed and the periodic drain picks it up.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from matchmaker.extensions import db
from workers import queues

log = logging.getLogger(__name__)

PENDING_KEY = "pending_jobs"


@dataclass(frozen=True)
class PendingJob:
    func: str  # dotted path, e.g. "workers.jobs.drain_outbox"; RQ serialises it as a string
    args: tuple = ()
    queue: str = queues.DEFAULT
    timeout: int = 60
    job_id: str | None = None
    meta: dict = field(default_factory=dict)
    retry: tuple[int, ...] = ()  # back-off in seconds between RQ's further tries


def after_commit(func: str, *args, queue: str = queues.DEFAULT, timeout: int = 60,
                 job_id: str | None = None, retry: tuple[int, ...] = ()) -> None:
    """Queue `func(*args)` to run once the current transaction commits. Args must be JSON."""
    pending = db.session.info.setdefault(PENDING_KEY, [])
    job = PendingJob(func=func, args=tuple(args), queue=queue, timeout=timeout, job_id=job_id,
                     retry=tuple(retry))
    if job not in pending:
        pending.append(job)


def commit() -> None:
    """Commit the session, then hand over the jobs the transaction queued."""
    db.session.commit()
    jobs = db.session.info.pop(PENDING_KEY, [])
    for job in jobs:
        dispatch(job)


def dispatch(job: PendingJob) -> None:
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            enqueue(job, redis_url)
        except Exception:
            log.exception("could not enqueue %s; the periodic drain will catch up", job.func)
        return
    run_in_process(job)


def enqueue(job: PendingJob, redis_url: str):
    from rq import Queue, Retry

    from workers.connection import redis_connection
    from workers.serializer import SERIALIZER

    queue = Queue(job.queue, connection=redis_connection(redis_url), serializer=SERIALIZER)
    return queue.enqueue_call(
        func=job.func, args=job.args, timeout=job.timeout, job_id=job.job_id,
        result_ttl=3600, failure_ttl=7 * 24 * 3600,
        retry=Retry(max=len(job.retry), interval=list(job.retry)) if job.retry else None,
    )


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_in_process(job: PendingJob) -> None:
    try:
        resolve(job.func)(*job.args)
    except Exception:
        db.session.rollback()
        log.exception("in-process job %s failed; the periodic drain will retry", job.func)


@event.listens_for(Session, "after_soft_rollback")
def _forget_jobs_on_rollback(session: Session, previous_transaction) -> None:
    # Work rolled back never happened: its jobs must not run.
    session.info.pop(PENDING_KEY, None)
