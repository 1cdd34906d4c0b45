"""Without Redis (`make run`) the periodic jobs run on a thread of the web process."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from matchmaker.audit.models import OutboxEvent
from matchmaker.extensions import db
from workers.scheduler import InProcessScheduler

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# 08:31 in Asia/Shanghai: the digest's slot is open.
MORNING = datetime(2026, 11, 23, 0, 31, tzinfo=UTC)


def test_each_job_runs_once_per_slot(app):
    scheduler = InProcessScheduler(app)
    assert sorted(scheduler.tick(MORNING)) == ["drain_outbox", "send_digests", "sweep_claims"]
    assert scheduler.tick(MORNING + timedelta(seconds=5)) == []
    later = MORNING + timedelta(seconds=app.config["SWEEP_INTERVAL_SECONDS"])
    assert sorted(scheduler.tick(later)) == ["drain_outbox", "sweep_claims"]  # digest: daily
    next_day = MORNING + timedelta(days=1)
    assert "send_digests" in scheduler.tick(next_day)


def test_the_drain_it_runs_catches_up_on_rows_left_pending(app, make):
    make.enterprise()
    # A row the after-commit drain never handled (the process died in between, say).
    db.session.execute(sa.update(OutboxEvent).values(processed_at=None))
    db.session.commit()
    InProcessScheduler(app).tick(MORNING)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent).where(
        OutboxEvent.processed_at.is_(None))) == 0


def _periodic_thread_started(tmp_path, **env) -> bool:
    """Import wsgi (as `flask run` and gunicorn do) in a fresh interpreter and look for the
    thread."""
    code = ("import threading, wsgi; "
            "print(any(t.name == 'periodic-in-process' for t in threading.enumerate()))")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
        check=True, env={"INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin", **env})
    return result.stdout.strip().splitlines()[-1] == "True"


def test_the_web_process_starts_it_only_when_asked_and_without_redis(tmp_path):
    assert not _periodic_thread_started(tmp_path)
    assert _periodic_thread_started(tmp_path, RUN_PERIODIC_IN_PROCESS="1")
    assert not _periodic_thread_started(tmp_path, RUN_PERIODIC_IN_PROCESS="1",
                                        REDIS_URL="redis://127.0.0.1:1/0")
