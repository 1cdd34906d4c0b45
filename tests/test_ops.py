"""队列管理 (/ops/queues): the platform admin's page of queues, workers, the periodic scheduler
and failed jobs, with 重试 / 删除 acting on real failed RQ jobs in Redis."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from rq import Queue, Worker
from rq.job import Job

from matchmaker.audit.models import AuditLog
from matchmaker.extensions import db
from tests.conftest import free_port
from tests.factories import login
from workers import queues
from workers.connection import redis_connection
from workers.scheduler import PeriodicScheduler
from workers.serializer import SERIALIZER
from workers.worker import build_worker

URL = "/ops/queues"


@pytest.fixture
def people(make):
    bank = make.bank()
    _, owner = make.enterprise()
    return {"admin": make.platform_admin(), "office": make.office(),
            "manager": make.bank_user(bank), "bank_admin": make.bank_user(bank, role="bank_admin"),
            "owner": owner}


def csrf(client) -> str:
    page = client.get(URL).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def failed_job(app, redis_url):
    """A drain job given an argument it cannot use, run by a real worker: it fails."""
    app.config["REDIS_URL"] = redis_url
    connection = redis_connection(redis_url)
    queue = Queue(queues.SEARCH, connection=connection, serializer=SERIALIZER)
    job = queue.enqueue_call(func="workers.jobs.drain_outbox", args=("all of them",),
                             failure_ttl=3600)
    build_worker(app, [queues.SEARCH]).work(burst=True)
    assert job.id in queue.failed_job_registry
    return job


def test_only_the_platform_admin_sees_the_page(client, people):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for name in ("office", "manager", "bank_admin", "owner"):
        other = client.application.test_client()
        login(other, people[name])
        assert other.get(URL).status_code == 403, name
        assert "队列管理" not in text(other.get("/"))  # no link in their navigation
    login(client, people["admin"])
    page = client.get(URL)
    assert page.status_code == 200
    assert 'href="/ops/queues"' in text(page) and "队列管理" in text(page)


def test_without_redis_the_page_says_jobs_run_in_process(client, people, app):
    app.config["REDIS_URL"] = None
    login(client, people["admin"])
    page = text(client.get(URL))
    assert "未配置 Redis" in page and "网页进程内" in page
    assert "data-gm-queues" not in page and "<h2 class=\"h5\">失败的任务" not in page
    for name in ("sweep_claims", "drain_outbox", "send_digests"):
        assert f'data-gm-periodic="{name}"' in page  # the schedule is still shown
    assert "每日线索摘要" in page


def test_an_unreachable_redis_is_said_plainly(client, people, app):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    login(client, people["admin"])
    response = client.get(URL)
    assert response.status_code == 200
    assert "无法连接 Redis" in text(response)


def test_with_redis_queues_workers_leader_and_failed_jobs_are_listed(
        client, people, app, redis_url, failed_job):
    connection = redis_connection(redis_url)
    Queue(queues.DEFAULT, connection=connection, serializer=SERIALIZER).enqueue_call(
        func="workers.jobs.sweep_claims")
    worker = Worker([queues.NOTIFICATIONS, queues.SEARCH], connection=connection,
                    name="gm-worker-1", serializer=SERIALIZER)
    worker.register_birth()
    worker.heartbeat()
    PeriodicScheduler(connection, app.config, name="gm-worker-1").tick(
        datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    try:
        login(client, people["admin"])
        page = text(client.get(URL))
    finally:
        worker.register_death()

    for name in queues.ALL:
        assert f'data-gm-queue="{name}"' in page

    def count(queue: str, kind: str) -> int:
        row = page.split(f'data-gm-queue="{queue}"', 1)[1].split("</tr>", 1)[0]
        return int(re.search(rf'data-gm-count="{kind}">(\d+)<', row).group(1))

    assert count(queues.SEARCH, "failed") == 1
    assert count(queues.DEFAULT, "queued") == 2  # ours and the periodic sweep
    assert count(queues.SEARCH, "queued") == 1  # the periodic drain
    assert count(queues.NOTIFICATIONS, "queued") == 1  # the digest (08:30 Beijing)
    assert 'data-gm-worker="gm-worker-1"' in page and "调度主节点" in page
    assert '<code data-gm-leader>gm-worker-1</code>' in page
    row = page.split(f'data-gm-failed-job="{failed_job.id}"', 1)[1].split("</tr>", 1)[0]
    assert "处理发件箱" in row and "TypeError" in row  # the exception's summary
    assert "重试" in row and "删除" in row and 'name="csrf_token"' in row


def test_retry_queues_the_failed_job_again(client, people, app, redis_url, failed_job):
    connection = redis_connection(redis_url)
    queue = Queue(queues.SEARCH, connection=connection, serializer=SERIALIZER)
    login(client, people["admin"])
    response = client.post(f"{URL}/failed/{failed_job.id}/retry",
                           data={"csrf_token": csrf(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith(URL)
    assert failed_job.id not in queue.failed_job_registry
    assert queue.job_ids == [failed_job.id]
    assert "已重新排队" in text(client.get(URL))
    log = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "ops.job_retried")).one()
    assert log.actor_id == people["admin"].user.id and log.after["job_id"] == failed_job.id

    # Retried again by a worker, it fails again (same arguments) and is listed again.
    build_worker(app, [queues.SEARCH]).work(burst=True)
    assert failed_job.id in queue.failed_job_registry
    # Retrying a job that is no longer failed says so.
    client.post(f"{URL}/failed/{failed_job.id}/retry", data={"csrf_token": csrf(client)})
    response = client.post(f"{URL}/failed/no-such-job/retry", data={"csrf_token": csrf(client)},
                           follow_redirects=True)
    assert "不在失败列表中" in text(response)


def test_delete_removes_the_failed_job(client, people, redis_url, failed_job):
    connection = redis_connection(redis_url)
    queue = Queue(queues.SEARCH, connection=connection, serializer=SERIALIZER)
    login(client, people["admin"])
    response = client.post(f"{URL}/failed/{failed_job.id}/delete",
                           data={"csrf_token": csrf(client)}, follow_redirects=True)
    assert response.status_code == 200 and "已删除失败任务" in text(response)
    assert failed_job.id not in queue.failed_job_registry
    assert not Job.exists(failed_job.id, connection=connection)
    assert queue.job_ids == []
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "ops.job_deleted")) == 1


def test_the_actions_need_the_admin_and_a_csrf_token(client, people, redis_url, failed_job):
    connection = redis_connection(redis_url)
    registry = Queue(queues.SEARCH, connection=connection,
                     serializer=SERIALIZER).failed_job_registry
    office = client.application.test_client()
    login(office, people["office"])
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      text(office.get("/office/"))).group(1)
    for action in ("retry", "delete"):
        assert office.post(f"{URL}/failed/{failed_job.id}/{action}",
                           data={"csrf_token": token}).status_code == 403
    login(client, people["admin"])
    assert client.post(f"{URL}/failed/{failed_job.id}/delete").status_code == 400  # no token
    assert client.get(f"{URL}/failed/{failed_job.id}/delete").status_code == 405
    assert failed_job.id in registry
