"""Periodic jobs: the claims sweep, the outbox drain as a safety net, the managers' daily digest.

Why our own small loop rather than `rq cron` or rq-scheduler: RQ 3's CronScheduler runs one copy
per process that starts it, with no election, so two `flask worker`s would each enqueue every job;
it also reads cron times in the server's local zone, where the digest belongs at 08:30
Asia/Shanghai whatever the server's zone. rq-scheduler is a separate daemon with its own lock
and little upkeep. This loop runs in every `flask worker` but only the one holding a Redis lease
(`SET NX PX`, renewed every tick) schedules; and each run of a periodic job is claimed by its time
slot (`SET NX` on `…:slot:<name>:<slot>`), so even two leaders during a hand-over enqueue a slot
once. Retries and back-off of delivery jobs use RQ's own scheduler (`work(with_scheduler=True)`),
which elects itself per queue.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from redis import Redis

from workers import queues

log = logging.getLogger(__name__)

PREFIX = "greenmatch:scheduler"
LEADER_KEY = f"{PREFIX}:leader"
LEASE_MS = 30_000
TICK_SECONDS = 2.0

# Renew the lease only if it is still ours (a plain EXPIRE could extend someone else's).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    queue: str
    timeout: int
    every: int | None = None  # seconds
    daily_at: time | None = None  # local time in DISPLAY_TIMEZONE
    grace: int = 3 * 3600  # a daily run missed by more than this waits for the next day

    def slot(self, now: datetime, zone: ZoneInfo) -> str | None:
        """The time slot due at `now`, or None when nothing is due."""
        if self.every:
            start = int(now.timestamp()) // self.every * self.every
            return datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
        local = now.astimezone(zone)
        today = datetime.combine(local.date(), self.daily_at, zone)
        if local < today or (local - today).total_seconds() > self.grace:
            return None
        return today.strftime("%Y%m%d")

    def slot_ttl(self) -> int:
        return 2 * (self.every or 24 * 3600)


def schedule(config) -> list[Periodic]:
    hour, minute = (int(part) for part in config["DIGEST_LOCAL_TIME"].split(":"))
    return [
        Periodic("sweep_claims", "workers.jobs.sweep_claims", queues.DEFAULT, timeout=600,
                 every=config["SWEEP_INTERVAL_SECONDS"]),
        Periodic("drain_outbox", "workers.jobs.drain_and_repair", queues.SEARCH, timeout=300,
                 every=config["DRAIN_INTERVAL_SECONDS"]),
        Periodic("send_digests", "workers.jobs.send_digests", queues.NOTIFICATIONS, timeout=600,
                 daily_at=time(hour, minute)),
    ]


class PeriodicScheduler:
    """Enqueues the periodic jobs while it holds the leader lease. `tick()` is one step (the
    tests drive it directly); `start()` runs it on a daemon thread."""

    def __init__(self, connection: Redis, config, name: str | None = None):
        self.connection = connection
        self.jobs = schedule(config)
        self.zone = ZoneInfo(config["DISPLAY_TIMEZONE"])
        self.name = name or f"scheduler-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renew = connection.register_script(_RENEW)

    def is_leader(self) -> bool:
        if self._renew(keys=[LEADER_KEY], args=[self.name, LEASE_MS]):
            return True
        return bool(self.connection.set(LEADER_KEY, self.name, nx=True, px=LEASE_MS))

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue every job whose slot is due and not yet claimed; returns the job ids."""
        if not self.is_leader():
            return []
        now = now or datetime.now(UTC)
        enqueued = []
        for job in self.jobs:
            slot = job.slot(now, self.zone)
            if slot is None:
                continue
            key = f"{PREFIX}:slot:{job.name}:{slot}"
            if not self.connection.set(key, self.name, nx=True, ex=job.slot_ttl()):
                continue
            job_id = f"periodic-{job.name}-{slot}"
            self._enqueue(job, job_id)
            enqueued.append(job_id)
        return enqueued

    def _enqueue(self, job: Periodic, job_id: str) -> None:
        from rq import Queue

        from workers.serializer import SERIALIZER

        Queue(job.queue, connection=self.connection, serializer=SERIALIZER).enqueue_call(
            func=job.func, timeout=job.timeout, job_id=job_id, result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600)
        log.info("scheduled %s", job_id)

    def release(self) -> None:
        if self.connection.get(LEADER_KEY) == self.name.encode():
            self.connection.delete(LEADER_KEY)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # Redis away for a moment: try again next tick
                log.exception("scheduler tick failed")
            self._stop.wait(TICK_SECONDS)
        try:
            self.release()
        except Exception:
            log.exception("could not release the scheduler lease")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="periodic-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def leader(connection: Redis) -> str | None:
    value = connection.get(LEADER_KEY)
    return value.decode() if value else None


def next_runs(config, now: datetime | None = None) -> dict[str, datetime]:
    """When each periodic job runs next (for the admin's queues page)."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(config["DISPLAY_TIMEZONE"])
    runs = {}
    for job in schedule(config):
        if job.every:
            runs[job.name] = datetime.fromtimestamp(
                (int(now.timestamp()) // job.every + 1) * job.every, UTC)
        else:
            local = now.astimezone(zone)
            today = datetime.combine(local.date(), job.daily_at, zone)
            runs[job.name] = (today if today > local else today + timedelta(days=1)).astimezone(UTC)
    return runs


class InProcessScheduler:
    """Without Redis (`make run`): the same periodic jobs on a thread of the web process, so a
    laptop demo still lapses picks, escalates needs and drains the outbox. One process only —
    several gunicorn workers would each run it (harmless, every job is idempotent, but wasted);
    production runs `flask worker` with Redis instead."""

    def __init__(self, app):
        self.app = app
        self.jobs = schedule(app.config)
        self.zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])
        self.done: dict[str, str] = {}
        self._stop = threading.Event()

    def tick(self, now: datetime | None = None) -> list[str]:
        from matchmaker.extensions import db
        from workers.dispatch import resolve

        now = now or datetime.now(UTC)
        ran = []
        for job in self.jobs:
            slot = job.slot(now, self.zone)
            if slot is None or self.done.get(job.name) == slot:
                continue
            self.done[job.name] = slot
            with self.app.app_context():
                try:
                    resolve(job.func)()
                    ran.append(job.name)
                except Exception:
                    log.exception("periodic job %s failed", job.name)
                finally:
                    db.session.remove()
        return ran

    def run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.tick()

    def start(self) -> None:
        threading.Thread(target=self.run, name="periodic-in-process", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
