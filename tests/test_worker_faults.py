"""Faults with real RQ workers on a real Redis: a worker SIGKILLed mid-send or mid-drain, Redis
down while an enterprise posts, and RQ's own Retry bringing a failed webhook back.

What RQ 3.0 does with a job whose worker was SIGKILLed: the job stays `started` in the queue's
StartedJobRegistry until its execution entry expires — the heartbeat TTL, min(job timeout, 30 s)
+ 60 s — and a worker's maintenance (at its start, then every 10 minutes) finds it, calls it
abandoned (AbandonedJobError) and retries it if it has retries left, else moves it to the failed
registry. The dead worker's RQ-scheduler locks also stay ~60 s, so RQ-scheduled retries pause for
that long. So RQ alone recovers in minutes, and may run the job twice. We do not rely on it:

* a delivery is sent under a lease (`Delivery.lease_until`, DELIVERY_LEASE_SECONDS) taken with
  one conditional UPDATE, and the periodic `workers.jobs.drain_outbox` re-queues every pending
  delivery whose lease ran out — a fresh worker sends it, and a late rerun of the abandoned RQ
  job finds it sent and does nothing;
* an outbox row is handled and marked done in one transaction: a worker killed inside it leaves
  nothing behind (the database rolls it back) and the next drain handles the row again;
  every notification and delivery row has a unique dedupe key as a second guard.

Workers run in their own processes, against the test's database and Redis; a kill is SIGKILL to
the worker and all its descendants — its RQ-scheduler process and its work horse (which RQ puts
in a process group of its own, so killing the worker's group alone would leave it sending).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry, StartedJobRegistry

from matchmaker.audit.models import OutboxEvent
from matchmaker.database import utcnow
from matchmaker.extensions import db
from matchmaker.notifications.models import Delivery, DeliveryAttempt, Notification
from tests import factories
from tests.conftest import free_port
from tests.test_webhooks import make_webhook
from workers import queues
from workers.connection import redis_connection
from workers.serializer import SERIALIZER
from workers.worker import build_worker

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FLASK = Path(sys.executable).with_name("flask")

# A worker process built like `flask worker` (AppWorker, every queue, RQ's scheduler for
# retries) but from the test's app settings — some (DELIVERY_RETRY_INTERVALS) are not read from
# the environment. `linger` (seconds) adds a slow consumer of need.published *after* the
# notification fan-out, inside the row's transaction: a window to kill the worker in.
WORKER_SCRIPT = """
import json, sys, time
from matchmaker import create_app
from matchmaker.audit import services as audit
from workers.worker import build_worker

settings = json.loads(sys.argv[1])
linger = settings.pop("_linger", None)
burst = settings.pop("_burst", False)
app = create_app(settings)
if linger:
    def linger_after_fan_out(row):
        time.sleep(linger)
    audit.OUTBOX_HANDLERS.setdefault("need.published", []).append(linger_after_fan_out)
with app.app_context():
    build_worker(app).work(burst=burst, with_scheduler=True)
"""

# The settings a worker process takes over from the test's app.
SHARED_SETTINGS = (
    "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "REDIS_URL", "ELASTICSEARCH_URL", "PUBLIC_URL",
    "MAIL_ENABLED", "MAIL_SERVER", "MAIL_PORT", "DELIVERY_TIMEOUT_SECONDS",
    "DELIVERY_LEASE_SECONDS", "DELIVERY_RETRY_INTERVALS", "DELIVERY_REQUEUE_AFTER_SECONDS",
    "SWEEP_INTERVAL_SECONDS", "DRAIN_INTERVAL_SECONDS", "DIGEST_LOCAL_TIME",
)


def worker_environment(app, **extra) -> dict[str, str]:
    """A clean environment for `flask worker`: the test's database, Redis and instance."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", app.instance_path),
        "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"] or "", "INSTANCE_PATH": app.instance_path,
        "SECRET_KEY": app.config["SECRET_KEY"],
        # The test's webhook receivers listen on 127.0.0.1 (see tests/test_egress.py).
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1" if app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"]
                                          else "",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def descendants(pid: int) -> list[int]:
    """Every living descendant of `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class Processes:
    """Worker processes of one test, each in a session of its own; all killed at teardown."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def _spawn(self, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.directory / f"worker-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append((proc, log))
        return proc

    def flask_worker(self, app, *args: str, **env) -> subprocess.Popen:
        return self._spawn([str(FLASK), "--app", "wsgi", "worker", *args],
                           worker_environment(app, **env))

    def app_worker(self, app, burst: bool = False, linger: float | None = None
                   ) -> subprocess.Popen:
        settings = {key: app.config.get(key) for key in SHARED_SETTINGS}
        settings.update(INSTANCE_PATH=app.instance_path, _burst=burst, _linger=linger)
        env = worker_environment(app)
        return self._spawn([sys.executable, "-c", WORKER_SCRIPT, json.dumps(settings)], env)

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """The worker and every process it started: its RQ-scheduler process (in its process
        group) and its work horse (RQ puts the horse in a process group of its own)."""
        family = [proc.pid, *descendants(proc.pid)]
        for pid in family:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, sig)
        proc.wait(15)

    def wait(self, proc: subprocess.Popen, timeout: float = 60) -> int:
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill(proc)
            raise AssertionError(
                f"worker still running after {timeout} s:\n{self.output(proc)}") from exc

    def output(self, proc: subprocess.Popen) -> str:
        for started, log in self.started:
            if started is proc:
                return log.read_text(errors="replace")[-6000:]
        return ""

    def close(self) -> None:
        for proc, _ in self.started:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def procs(tmp_path):
    processes = Processes(tmp_path)
    yield processes
    processes.close()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "",
               log: str | Callable[[], str] = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}\n"
                         f"{log() if callable(log) else log}")


@pytest.fixture
def market(make, app):
    """Banks A and B sell 福林贷 (eligible for the default need); a1 and b1 are their managers,
    bank A's admin sets up the webhook; an enterprise owns the needs. Built without Redis."""
    app.config.update(DELIVERY_REQUEUE_AFTER_SECONDS=0, DELIVERY_RETRY_INTERVALS=[1, 1, 1])
    bank_a, bank_b = make.bank(), make.bank()
    people = {"bank_a": bank_a, "bank_b": bank_b,
              "admin_a": make.bank_user(bank_a, role="bank_admin"),
              "a1": make.bank_user(bank_a), "b1": make.bank_user(bank_b)}
    make.product(bank_a, admin=people["admin_a"])
    make.product(bank_b)
    _, people["owner"] = make.enterprise()
    return people


def webhook_deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(Delivery).where(Delivery.channel == "webhook").order_by(Delivery.id)))


def attempts(delivery_id: int) -> list[DeliveryAttempt]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id)))


def lead_notifications() -> list[tuple[int, int]]:
    """(user id, need id) of every new-lead notification."""
    db.session.expire_all()
    return list(db.session.execute(
        sa.select(Notification.user_id, Notification.need_id)
        .where(Notification.kind == "new_lead").order_by(Notification.id)).all())


def pending_topics() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEvent.topic).where(
        OutboxEvent.processed_at.is_(None)).order_by(OutboxEvent.id)))


def enqueue_drain(redis_url: str) -> Job:
    """What the periodic scheduler enqueues every DRAIN_INTERVAL_SECONDS."""
    queue = Queue(queues.SEARCH, connection=redis_connection(redis_url), serializer=SERIALIZER)
    return queue.enqueue_call(func="workers.jobs.drain_outbox", timeout=300)


def test_a_worker_killed_mid_send_is_recovered_and_the_webhook_sent_once(
        app, make, market, redis_url, procs, receiver):
    """The worker is SIGKILLed while the bank's endpoint holds its request. The abandoned RQ job
    stays `started`; the delivery's lease runs out (2 s), the drain queues it again and a fresh
    worker sends it: one successful attempt, one completed call per delivery id, and the
    managers' in-app notifications exactly once."""
    app.config.update(DELIVERY_LEASE_SECONDS=2, DELIVERY_TIMEOUT_SECONDS=30)
    hook = receiver(["block"])  # holds the first call until released, then drops it
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    app.config["REDIS_URL"] = redis_url
    connection = redis_connection(redis_url)

    first = procs.app_worker(app)
    need = make.need(market["owner"])
    assert hook.wait_for(1, timeout=40), procs.output(first)
    [delivery] = webhook_deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.lease_until > utcnow()  # leased by the worker that is sending it
    started = StartedJobRegistry(queues.NOTIFICATIONS, connection=connection,
                                 serializer=SERIALIZER)
    [abandoned] = started.get_job_ids()

    procs.kill(first)
    hook.release.set()  # the endpoint's handler ends without answering anybody
    # RQ: the killed job is still "started"; its execution entry outlives the test.
    job = Job.fetch(abandoned, connection=connection, serializer=SERIALIZER)
    assert job.get_status() == "started" and job.args == [delivery.id]
    assert attempts(delivery.id) == []  # the attempt died before it could be logged

    # Our recovery: the lease runs out, the periodic drain re-queues, a fresh worker sends.
    wait_until(lambda: db.session.get(Delivery, delivery.id).lease_until <= utcnow(),
               what="the lease to run out")
    enqueue_drain(redis_url)
    second = procs.app_worker(app, burst=True)
    assert procs.wait(second) == 0, procs.output(second)

    [delivery] = webhook_deliveries()
    assert delivery.status == "sent" and delivery.attempts == 2
    assert [(a.ok, a.status_code) for a in attempts(delivery.id)] == [(True, 200)]
    assert hook.delivery_ids() == [str(delivery.id)] * 2  # the same id: dedupable
    assert hook.completed == [str(delivery.id)]  # one completed call
    assert hook.handled == {str(delivery.id): 1}
    assert sorted(lead_notifications()) == sorted(
        [(market["a1"].user.id, need.id), (market["b1"].user.id, need.id)])

    # Should RQ later rerun the abandoned job (its maintenance, minutes on), it sends nothing.
    with app.app_context():
        from workers.jobs import deliver

        assert deliver(delivery.id) == "sent"
    assert len(hook.requests) == 2 and len(attempts(delivery.id)) == 1


def test_a_worker_killed_mid_drain_loses_and_duplicates_no_notification(
        app, make, market, redis_url, procs, db_backend):
    """Six outbox rows wait (Redis was down when they were written); a worker drains them with
    a slow consumer after the fan-out and is SIGKILLed inside a row's transaction. The rows it
    committed have their notifications, the row it was in has none (rolled back; PostgreSQL —
    SQLite, see below), and a fresh
    worker's drain brings every (manager, need) pair to exactly one notification."""
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    needs = [make.need(market["owner"], title=f"林下经济基地扩建 {n}") for n in range(6)]
    assert pending_topics() == ["need.published"] * 6
    assert lead_notifications() == []

    app.config["REDIS_URL"] = redis_url
    enqueue_drain(redis_url)
    first = procs.app_worker(app, linger=0.6)

    def rows_done() -> int:
        return 6 - len(pending_topics())

    wait_until(lambda: rows_done() >= 2, timeout=40, interval=0.02, what="two rows drained",
               log=lambda: procs.output(first))
    procs.kill(first)
    done = rows_done()
    assert 2 <= done < 6
    if db_backend == "postgresql":
        # Exactly the committed rows' notifications: the row being handled left nothing.
        assert len(lead_notifications()) == 2 * done
    else:
        # SQLite through pysqlite: the handler's savepoint is the first statement that opens a
        # transaction, so its RELEASE commits the fan-out before the row is marked done (see
        # the report: the engine needs SQLAlchemy's pysqlite savepoint recipe). The dedupe keys
        # still keep the rerun from notifying anybody twice, which is what is asserted below.
        assert 2 * done <= len(lead_notifications()) <= 2 * (done + 1)

    enqueue_drain(redis_url)
    second = procs.app_worker(app, burst=True)
    assert procs.wait(second) == 0, procs.output(second)
    assert pending_topics() == []
    expected = sorted((market[name].user.id, need.id) for name in ("a1", "b1") for need in needs)
    assert sorted(lead_notifications()) == expected


def test_redis_down_while_an_enterprise_posts_then_a_worker_catches_up(
        app, make, market, redis_url, receiver, client):
    """The post succeeds with Redis unreachable (the request, and the service); the outbox rows
    wait. With Redis back, the drain job through a real worker delivers everything."""
    hook = receiver()
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    headers = factories.api_token(client, market["owner"])
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"

    response = client.post("/api/v1/needs", json=factories.NEED | {"title": "屋顶光伏改造"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    by_api = response.get_json()["id"]
    by_service = make.need(market["owner"]).id
    assert pending_topics().count("need.published") == 2
    assert lead_notifications() == [] and webhook_deliveries() == []

    app.config["REDIS_URL"] = redis_url
    enqueue_drain(redis_url)
    worker = build_worker(app)
    worker.work(burst=True, with_scheduler=False)

    assert pending_topics() == []
    assert sorted(lead_notifications()) == sorted(
        (market[name].user.id, need_id) for name in ("a1", "b1")
        for need_id in (by_api, by_service))
    sent = webhook_deliveries()
    assert sorted(d.need_id for d in sent) == sorted([by_api, by_service])
    assert {d.status for d in sent} == {"sent"}
    assert sorted(hook.delivery_ids()) == sorted(str(d.id) for d in sent)


def test_rq_retry_brings_a_failed_webhook_back_through_the_worker(
        app, make, market, redis_url, procs, receiver):
    """500 then 200 through a running worker: the deliver job raises, RQ's Retry (interval 1 s,
    from DELIVERY_RETRY_INTERVALS) puts it in the scheduled registry, the worker's RQ scheduler
    enqueues it again and the worker sends it. The drain cannot be what retried it
    (DELIVERY_REQUEUE_AFTER_SECONDS is an hour): the same RQ job ran twice."""
    app.config.update(DELIVERY_REQUEUE_AFTER_SECONDS=3600, DELIVERY_RETRY_INTERVALS=[1, 1, 1])
    hook = receiver([500, 200])
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    app.config["REDIS_URL"] = redis_url
    connection = redis_connection(redis_url)

    worker = procs.app_worker(app)
    make.need(market["owner"])
    wait_until(lambda: [d for d in webhook_deliveries() if d.status == "sent"], timeout=40,
               what="the delivery to be sent", log=lambda: procs.output(worker))

    [delivery] = webhook_deliveries()
    log = attempts(delivery.id)
    assert [(a.ok, a.status_code) for a in log] == [(False, 500), (True, 200)]
    # RQ's scheduler works in whole seconds: the retry comes 0–2 s after the failure (it may be
    # up to a second early; `deliver` then waits out the rest of the back-off instead of giving up).
    assert 0 < (log[1].at - log[0].at).total_seconds() < 5
    assert hook.delivery_ids() == [str(delivery.id)] * 2

    finished = FinishedJobRegistry(queues.NOTIFICATIONS, connection=connection,
                                   serializer=SERIALIZER)
    deliver_jobs = [job for job in Job.fetch_many(finished.get_job_ids(), connection=connection,
                                                  serializer=SERIALIZER)
                    if job is not None and job.func_name == "workers.jobs.deliver"]
    assert len(deliver_jobs) == 1
    [job] = deliver_jobs
    assert job.args == [delivery.id] and job.retries_left == 2  # retried once by RQ
    assert job.return_value() == "sent"
