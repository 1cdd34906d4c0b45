"""What the background jobs are doing, read from Redis, and the two things an admin may do to a
failed job: queue it again (重试) or delete it (删除). Both are audited.

Without REDIS_URL there are no queues: jobs run in the web process right after each commit (and
the periodic ones on its thread with RUN_PERIODIC_IN_PROCESS), so the page says just that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.exceptions import RedisError

from matchmaker.audit.services import record
from matchmaker.errors import Conflict, NotFound
from workers import queues

QUEUE_LABELS = {
    queues.NOTIFICATIONS: "通知投递（邮件、Webhook）",
    queues.SEARCH: "检索索引与发件箱",
    queues.DEFAULT: "默认（线索巡检等）",
    queues.REPORTS: "报表",
}
JOB_LABELS = {
    "workers.jobs.deliver": "发送邮件或 Webhook",
    "workers.jobs.drain_outbox": "处理发件箱",
    "workers.jobs.sweep_claims": "线索巡检",
    "workers.jobs.send_digests": "每日线索摘要",
}
PERIODIC_LABELS = {
    "sweep_claims": "线索巡检（选定失效、上报金融办、需求过期、截止提醒）",
    "drain_outbox": "发件箱补漏（未处理的事件、未发出的邮件与 Webhook）",
    "send_digests": "客户经理每日线索摘要邮件",
}
WORKER_STATES = {"idle": "空闲", "busy": "执行中", "started": "启动中", "suspended": "已暂停",
                 "dequeue": "等待任务"}
FAILED_LIMIT = 50


@dataclass(frozen=True)
class QueueStats:
    name: str
    label: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    state_label: str
    current_job: str | None
    last_heartbeat: datetime | None
    queues: list[str]


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    label: str
    args: str
    summary: str
    ended_at: datetime | None


@dataclass(frozen=True)
class PeriodicRun:
    name: str
    label: str
    next_run: datetime


@dataclass
class Overview:
    redis: bool  # REDIS_URL is set
    error: str | None = None  # Redis is set but unreachable
    queues: list[QueueStats] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)
    leader: str | None = None
    periodic: list[PeriodicRun] = field(default_factory=list)
    failed: list[FailedJob] = field(default_factory=list)
    failed_total: int = 0


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _connection(config):
    from workers.connection import redis_connection

    url = config.get("REDIS_URL")
    if not url:
        raise Conflict("未配置 Redis（REDIS_URL）：后台任务在网页进程内执行，没有队列")
    return redis_connection(url)


def _queue(name: str, connection):
    from rq import Queue

    from workers.serializer import SERIALIZER

    return Queue(name, connection=connection, serializer=SERIALIZER)


def exception_summary(exc_string: str | None) -> str:
    """The last line of a traceback ("DeliveryFailed: HTTP 500"), at most 300 characters."""
    lines = [line.strip() for line in (exc_string or "").strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "（无错误信息）")[:300]


def _failed_job(job, queue_name: str) -> FailedJob:
    func = job.func_name or ""
    try:
        args = ", ".join(repr(arg) for arg in job.args)
    except Exception:  # arguments this platform's serializer cannot read
        args = "?"
    result = job.latest_result()
    return FailedJob(id=job.id, queue=queue_name, func=func, label=JOB_LABELS.get(func, func),
                     args=args[:200],
                     summary=exception_summary(result.exc_string if result else None),
                     ended_at=_aware(job.ended_at))


def overview(config, now: datetime | None = None, failed_limit: int = FAILED_LIMIT) -> Overview:
    """Queues with their counts, workers, the scheduler's leader and next runs, failed jobs."""
    from rq import Worker
    from rq.job import Job

    from workers.scheduler import leader, next_runs
    from workers.serializer import SERIALIZER

    periodic = [PeriodicRun(name, PERIODIC_LABELS.get(name, name), run)
                for name, run in next_runs(config, now).items()]
    if not config.get("REDIS_URL"):
        return Overview(redis=False, periodic=periodic)
    connection = _connection(config)
    result = Overview(redis=True, periodic=periodic)
    try:
        failed: list[FailedJob] = []
        for name in queues.ALL:
            queue = _queue(name, connection)
            failed_registry = queue.failed_job_registry
            result.queues.append(QueueStats(
                name=name, label=QUEUE_LABELS.get(name, name), queued=queue.count,
                started=queue.started_job_registry.count,
                scheduled=queue.scheduled_job_registry.count, failed=failed_registry.count))
            ids = failed_registry.get_job_ids(0, failed_limit - 1, desc=True)
            for job in Job.fetch_many(ids, connection=connection, serializer=SERIALIZER):
                if job is not None:
                    failed.append(_failed_job(job, name))
        result.failed_total = sum(q.failed for q in result.queues)
        result.failed = sorted(
            failed, key=lambda job: job.ended_at or datetime.min.replace(tzinfo=UTC),
            reverse=True)[:failed_limit]
        for worker in sorted(Worker.all(connection=connection, serializer=SERIALIZER),
                             key=lambda w: w.name):
            state = str(getattr(worker.get_state(), "value", worker.get_state()) or "")
            result.workers.append(WorkerInfo(
                name=worker.name, state=state, state_label=WORKER_STATES.get(state, state),
                current_job=worker.get_current_job_id(),
                last_heartbeat=_aware(worker.last_heartbeat), queues=worker.queue_names()))
        result.leader = leader(connection)
    except RedisError as exc:
        return Overview(redis=True, error=f"{type(exc).__name__}: {exc}"[:300],
                        periodic=periodic)
    return result


def _find_failed(config, job_id: str):
    """(registry, job) of a failed job of one of the platform's queues, or NotFound."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from workers.serializer import SERIALIZER

    connection = _connection(config)
    for name in queues.ALL:
        registry = _queue(name, connection).failed_job_registry
        if job_id in registry:
            try:
                job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
            except NoSuchJobError:
                registry.remove(job_id)  # an entry whose job has expired
                break
            return registry, job
    raise NotFound("该任务不在失败列表中（可能已被重试或删除）")


def _audit(action: str, job, queue_name: str, actor, after_status: str) -> None:
    from workers.dispatch import commit

    record(action, "rq_job", job.id,
           before={"status": "failed", "queue": queue_name, "func": job.func_name},
           after={"status": after_status, "job_id": job.id}, actor=actor)
    commit()


def retry_failed(config, job_id: str, actor) -> FailedJob:
    """Queue a failed job again (it runs with the same arguments: every job is idempotent)."""
    from rq.exceptions import InvalidJobOperation

    registry, job = _find_failed(config, job_id)
    summary = _failed_job(job, registry.name)
    try:
        registry.requeue(job)
    except InvalidJobOperation as exc:  # another admin was quicker
        raise NotFound("该任务不在失败列表中（可能已被重试或删除）") from exc
    _audit("ops.job_retried", job, registry.name, actor, "queued")
    return summary


def delete_failed(config, job_id: str, actor) -> FailedJob:
    """Delete a failed job and its record from Redis."""
    registry, job = _find_failed(config, job_id)
    summary = _failed_job(job, registry.name)
    registry.remove(job, delete_job=True)
    _audit("ops.job_deleted", job, registry.name, actor, "deleted")
    return summary
