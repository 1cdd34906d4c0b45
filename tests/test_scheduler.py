"""The periodic scheduler on a real Redis: one leader among the workers, each time slot enqueued
once (also across a hand-over), the digest at 08:30 Asia/Shanghai once a day within its grace
window, and a real `flask worker` process that schedules and runs the sweep and the drain."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry

from matchmaker.audit.models import OutboxEvent
from matchmaker.extensions import db
from tests.test_worker_faults import FLASK, PROJECT_ROOT, Processes
from workers import queues, scheduler
from workers.connection import redis_connection
from workers.scheduler import PeriodicScheduler, leader, next_runs
from workers.serializer import SERIALIZER

# 08:30 in Asia/Shanghai, on a slot boundary of the sweep (600 s) and the drain (60 s).
MORNING = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
SWEEP = "periodic-sweep_claims-20261123T003000"
DRAIN = "periodic-drain_outbox-20261123T003000"
DIGEST = "periodic-send_digests-20261123"

# Redis and the clock matter here, not the database; the worker process runs on both.
clock_only = pytest.mark.sqlite_only


def enqueued(connection) -> dict[str, list[str]]:
    return {name: Queue(name, connection=connection, serializer=SERIALIZER).job_ids
            for name in queues.ALL}


@pytest.fixture
def connection(redis_url):
    return redis_connection(redis_url)


@pytest.fixture
def two(app, connection):
    """Two workers' schedulers on one Redis."""
    return (PeriodicScheduler(connection, app.config, name="worker-1"),
            PeriodicScheduler(connection, app.config, name="worker-2"))


@clock_only
def test_one_leader_enqueues_each_slot_once(two, connection):
    first, second = two
    assert sorted(first.tick(MORNING)) == sorted([DIGEST, DRAIN, SWEEP])
    assert second.tick(MORNING) == []  # not the leader
    assert leader(connection) == "worker-1"
    assert enqueued(connection) == {queues.NOTIFICATIONS: [DIGEST], queues.SEARCH: [DRAIN],
                                    queues.DEFAULT: [SWEEP], queues.REPORTS: []}
    jobs = {job.id: job for job in Job.fetch_many([DIGEST, DRAIN, SWEEP], connection=connection,
                                                   serializer=SERIALIZER)}
    assert jobs[SWEEP].func_name == "workers.jobs.sweep_claims"
    assert jobs[DRAIN].func_name == "workers.jobs.drain_and_repair"
    assert jobs[DIGEST].func_name == "workers.jobs.send_digests"

    assert first.tick(MORNING + timedelta(seconds=5)) == []  # the same slots: nothing new
    assert second.tick(MORNING + timedelta(seconds=60)) == []  # still not the leader
    # The next minute: a new drain slot; the sweep's slot lasts 10 minutes, the digest's a day.
    assert first.tick(MORNING + timedelta(seconds=60)) == ["periodic-drain_outbox-20261123T003100"]
    assert first.tick(MORNING + timedelta(seconds=600)) == [
        "periodic-sweep_claims-20261123T004000", "periodic-drain_outbox-20261123T004000"]
    assert len(enqueued(connection)[queues.SEARCH]) == 3


@clock_only
def test_the_other_takes_over_on_release_without_enqueuing_a_slot_again(two, connection):
    first, second = two
    assert len(first.tick(MORNING)) == 3
    first.release()
    assert leader(connection) is None
    assert second.tick(MORNING) == []  # now the leader, but these slots are taken
    assert leader(connection) == "worker-2"
    assert second.tick(MORNING + timedelta(seconds=60)) == [
        "periodic-drain_outbox-20261123T003100"]
    assert first.tick(MORNING + timedelta(seconds=120)) == []  # the old leader stays out
    first.release()  # releasing a lease it no longer holds leaves the new leader's alone
    assert leader(connection) == "worker-2"
    assert {name: len(ids) for name, ids in enqueued(connection).items()} == {
        queues.NOTIFICATIONS: 1, queues.SEARCH: 2, queues.DEFAULT: 1, queues.REPORTS: 0}


@clock_only
def test_the_other_takes_over_when_the_leader_stops_renewing(two, connection, monkeypatch):
    monkeypatch.setattr(scheduler, "LEASE_MS", 300)
    first, second = two
    assert len(first.tick(MORNING)) == 3  # then this worker hangs (or dies): no more ticks
    assert second.tick(MORNING) == []
    deadline = time.monotonic() + 5
    while leader(connection) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leader(connection) is None  # the lease ran out
    assert second.tick(MORNING) == []  # the leader now; the slot was enqueued already
    assert leader(connection) == "worker-2"
    assert second.tick(MORNING + timedelta(seconds=60)) == [
        "periodic-drain_outbox-20261123T003100"]
    # The old leader wakes up: the lease is the other's (renewed by its ticks), so it does
    # nothing — and even a second leader during a hand-over could not enqueue a taken slot.
    assert first.tick(MORNING + timedelta(seconds=60)) == []
    assert len(enqueued(connection)[queues.SEARCH]) == 2


@clock_only
def test_the_digest_fires_at_0830_shanghai_once_a_day_within_its_grace(app, connection):
    periodic = PeriodicScheduler(connection, app.config, name="worker-1")

    def digests(now):
        return [job for job in periodic.tick(now) if "send_digests" in job]

    assert digests(MORNING - timedelta(seconds=1)) == []  # 08:29:59
    assert digests(MORNING) == [DIGEST]  # 08:30:00 (00:30 UTC)
    assert digests(MORNING + timedelta(minutes=30)) == []  # once a day
    assert digests(MORNING + timedelta(days=1, seconds=-60)) == []  # 08:29 the next day
    # The worker was down at 08:30 the next day; at 11:30 it is still within the grace window.
    assert digests(MORNING + timedelta(days=1, hours=3)) == ["periodic-send_digests-20261124"]
    # Down all morning the day after: past 11:30 the day's digest is skipped.
    assert digests(MORNING + timedelta(days=2, hours=3, seconds=1)) == []
    assert digests(MORNING + timedelta(days=2, hours=10)) == []
    assert digests(MORNING + timedelta(days=3)) == ["periodic-send_digests-20261126"]


@clock_only
def test_the_digest_time_and_zone_come_from_the_settings(app, connection):
    app.config.update(DIGEST_LOCAL_TIME="09:15")
    periodic = PeriodicScheduler(connection, app.config, name="worker-1")
    nine = datetime(2026, 11, 23, 1, 15, tzinfo=UTC)  # 09:15 in Asia/Shanghai
    assert not any("send_digests" in job for job in periodic.tick(nine - timedelta(minutes=1)))
    assert "periodic-send_digests-20261123" in periodic.tick(nine)


@clock_only
def test_next_runs(app):
    runs = next_runs(app.config, now=MORNING + timedelta(seconds=1))
    assert runs == {
        "sweep_claims": MORNING + timedelta(minutes=10),
        "drain_outbox": MORNING + timedelta(minutes=1),
        "send_digests": MORNING + timedelta(days=1),
    }
    assert next_runs(app.config, now=MORNING - timedelta(minutes=1))["send_digests"] == MORNING


@clock_only
def test_flask_worker_help(tmp_path):
    result = subprocess.run([str(FLASK), "--app", "wsgi", "worker", "--help"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "--burst" in result.stdout and "--queues" in result.stdout


def test_a_running_flask_worker_schedules_and_runs_the_sweep_and_the_drain(
        app, make, redis_url, connection, tmp_path):
    make.enterprise()
    # A row the after-commit drain never handled (the process died in between, say).
    db.session.execute(sa.update(OutboxEvent).values(processed_at=None))
    db.session.commit()
    app.config["REDIS_URL"] = redis_url
    processes = Processes(tmp_path)
    try:
        worker = processes.flask_worker(app, DRAIN_INTERVAL_SECONDS=60,
                                        SWEEP_INTERVAL_SECONDS=600)

        def finished(prefix: str) -> Job | None:
            for name in queues.ALL:
                registry = FinishedJobRegistry(name, connection=connection,
                                               serializer=SERIALIZER)
                for job_id in registry.get_job_ids():
                    if job_id.startswith(prefix):
                        return Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
            return None

        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not (
                finished("periodic-sweep_claims-") and finished("periodic-drain_outbox-")):
            assert worker.poll() is None, processes.output(worker)
            time.sleep(0.1)
        sweep, drain = finished("periodic-sweep_claims-"), finished("periodic-drain_outbox-")
        assert sweep is not None and drain is not None, processes.output(worker)
        assert isinstance(sweep.return_value(), dict)
        assert all(isinstance(count, int) for count in sweep.return_value().values())
        assert drain.return_value() == 1  # the row left pending
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count(OutboxEvent.id)).where(
            OutboxEvent.processed_at.is_(None))) == 0
        # The worker's own name holds the lease while it runs...
        assert leader(connection) is not None

        # ...and gives it up on a warm shutdown, so another worker need not wait it out.
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, processes.output(worker)
        assert leader(connection) is None
    finally:
        processes.close()
