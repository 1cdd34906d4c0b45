"""Jobs run after the commit: in-process without Redis, through a real RQ worker with it."""

import sqlalchemy as sa
from rq import Queue

from matchmaker.audit import services as audit
from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.extensions import db
from workers import queues
from workers.connection import redis_connection
from workers.dispatch import after_commit, commit
from workers.serializer import SERIALIZER
from workers.worker import build_worker


def pending_outbox() -> list[OutboxEvent]:
    db.session.expire_all()
    pending = sa.select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
    return list(db.session.scalars(pending))


def test_change_writes_audit_and_outbox_in_one_transaction_and_drains_in_process(app, make):
    enterprise, account = make.enterprise()
    log = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "enterprise.registered")
    ).one()
    assert log.object_id == str(enterprise.id) and log.actor_id == account.user.id
    assert log.after["uscc"] == enterprise.uscc
    events = list(db.session.scalars(sa.select(OutboxEvent)))
    assert [e.topic for e in events if e.object_type == "enterprise"] == ["enterprise.registered"]
    assert pending_outbox() == []  # drained in-process right after the commit


def test_handlers_receive_rows_and_a_failing_handler_never_fails_the_request(app, make):
    seen = []

    def good(row):
        seen.append((row.topic, row.object_id))

    def bad(row):
        raise RuntimeError("search engine down")

    audit.OUTBOX_HANDLERS["enterprise.registered"] = [good]
    audit.OUTBOX_HANDLERS["bank.*"] = [bad]
    try:
        enterprise, _ = make.enterprise()
        assert seen == [("enterprise.registered", str(enterprise.id))]
        bank = make.bank()  # the handler fails, the bank is still created
        assert bank.id
        stuck = [row for row in pending_outbox() if row.topic == "bank.created"]
        assert len(stuck) == 1 and stuck[0].attempts >= 1
        assert "search engine down" in stuck[0].last_error
        audit.OUTBOX_HANDLERS["bank.*"] = []
        audit.drain_outbox()
        assert [row for row in pending_outbox() if row.topic == "bank.created"] == []
    finally:
        audit.OUTBOX_HANDLERS.pop("enterprise.registered", None)
        audit.OUTBOX_HANDLERS.pop("bank.*", None)


def test_rolled_back_work_queues_no_job(app):
    db.session.execute(sa.text("SELECT 1"))  # inside a transaction, as a service would be
    after_commit("workers.jobs.drain_outbox")
    db.session.rollback()
    assert "pending_jobs" not in db.session.info


def test_jobs_go_to_rq_after_commit_and_a_real_worker_runs_them(app, make, redis_url):
    app.config["REDIS_URL"] = redis_url
    make.enterprise()
    queue = Queue(queues.SEARCH, connection=redis_connection(redis_url), serializer=SERIALIZER)
    assert queue.count >= 1
    assert [row.topic for row in pending_outbox()] == ["enterprise.registered"]

    worker = build_worker(app, [queues.SEARCH])
    worker.work(burst=True)

    assert pending_outbox() == []
    assert queue.count == 0
    assert queue.failed_job_registry.count == 0  # the job ran and did not fail


def test_redis_down_the_change_still_commits_and_the_drain_catches_up(app, make):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    enterprise, _ = make.enterprise()
    assert enterprise.id
    assert [row.topic for row in pending_outbox()] == ["enterprise.registered"]
    app.config["REDIS_URL"] = None
    assert audit.drain_outbox() == 1
    assert pending_outbox() == []


def test_commit_dispatches_each_queued_job_once(app, monkeypatch):
    calls = []
    monkeypatch.setattr("workers.dispatch.run_in_process", lambda job: calls.append(job.func))
    after_commit("workers.jobs.drain_outbox")
    after_commit("workers.jobs.drain_outbox")
    commit()
    assert calls == ["workers.jobs.drain_outbox"]
