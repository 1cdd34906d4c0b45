"""`flask worker`: an RQ worker whose jobs run inside the Flask app context."""

from __future__ import annotations

import logging

import click
from flask import current_app
from rq import Queue, Worker

from workers import queues
from workers.connection import redis_connection
from workers.serializer import SERIALIZER

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """Runs each job inside the app context, and leaves the session clean after it."""

    def fork_work_horse(self, *args, **kwargs):
        self.warm()
        return super().fork_work_horse(*args, **kwargs)

    def warm(self) -> None:
        """Load here what every job reads and seldom changes, so that each forked work horse
        inherits it instead of loading it again: the jobs' module, the reference tables and the
        search engine's product documents with their text statistics (the engine checks their
        generation, one query, and reloads them after a product changed). Best effort: a job
        loads whatever is missing itself."""
        import workers.jobs  # noqa: F401
        from matchmaker.extensions import db
        from matchmaker.reference import codes
        from search.service import get_engine

        with self.flask_app.app_context():
            try:
                codes.preload()
                warm = getattr(get_engine(), "warm", None)
                if warm is not None:
                    warm()
            except Exception:
                log.warning("could not warm the worker's caches; each job loads them",
                            exc_info=True)
            finally:
                db.session.remove()

    def main_work_horse(self, *args, **kwargs):
        # In the forked work horse: drop the parent's pooled connections without closing them
        # (they belong to the parent), so the job opens its own.
        from matchmaker.extensions import db

        with self.flask_app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)

    def perform_job(self, *args, **kwargs):
        from matchmaker.extensions import db

        with self.flask_app.app_context():
            try:
                return super().perform_job(*args, **kwargs)
            finally:
                db.session.remove()


def build_worker(app, queue_names: list[str] | None = None) -> AppWorker:
    url = app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("REDIS_URL is not set: without Redis, jobs run in-process")
    connection = redis_connection(url)
    worker_queues = [Queue(name, connection=connection, serializer=SERIALIZER)
                     for name in (queue_names or queues.ALL)]
    worker = AppWorker(worker_queues, connection=connection, serializer=SERIALIZER)
    worker.flask_app = app
    return worker


def run_worker(burst: bool = False, queue_names: list[str] | None = None,
               with_periodic: bool = True) -> None:
    """Work the queues; RQ's scheduler handles retries, ours the periodic jobs (see
    `workers.scheduler`: one leader however many workers run)."""
    from workers.scheduler import PeriodicScheduler

    app = current_app._get_current_object()
    worker = build_worker(app, queue_names)
    periodic = None
    if with_periodic and not burst:
        periodic = PeriodicScheduler(worker.connection, app.config, name=worker.name)
        periodic.start()
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        if periodic is not None:
            periodic.stop()
