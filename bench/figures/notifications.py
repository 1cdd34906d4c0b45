"""Post → notification: needs published at a steady rate, one real RQ worker fans them out."""

from __future__ import annotations

import collections
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import sqlalchemy as sa

from bench import Result, Target, figure
from bench.figures.claims import DEFAULT_DATABASE_URL, _safe
from bench.stats import summarize

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


@figure(
    "notification_latency", title="Post → new-lead notifications stored, one RQ worker",
    unit="ms", needs="none",
    targets=[Target("p95_ms", "<=", 2000, "p95 ≤ 2 s at 5 needs/s", "ms"),
             Target("errors", "<=", 0, "every eligible manager notified", "needs")],
    description=(
        "As deployed: PostgreSQL (a database of its own, named after BENCH_DATABASE_URL's with "
        "`_notifications` appended, created and dropped by the harness) seeded with "
        "`flask demo seed --scale <scale>`, `flask search reindex` and `flask claims sweep` (the "
        "demo's dates end before today); Redis at BENCH_REDIS_URL "
        "(default redis://127.0.0.1:6379/8, flushed before and after — never REDIS_URL); "
        "exactly one `flask --app wsgi worker` subprocess (RQ, forks per job, with its periodic "
        "scheduler). The bench posts needs through `matchmaker.needs.services.create_need(user, "
        "data, publish=True)` at 5 per second (60 s; 20 s at city scale), varied from the "
        "seeded needs of many enterprises (amounts ×0.6–1.4, each with at least one eligible "
        "product). Each publish commits an outbox row and queues `workers.jobs.drain_outbox`. "
        "Latency of a need = the newest `created_at` of its `new_lead` notifications − the wall "
        "time right after `create_need` returned in the poster (same machine clock). It counts "
        "only when the need has exactly as many notifications as expected recipients, computed "
        "independently after the run: banks with a product `search.features.is_eligible` for "
        "the need (over `search.loaders.product_docs()`), their active managers whose coverage "
        "(`region_covers`) includes the need's region and who did not turn in-app `new_lead` "
        "off. Needs not fully notified 30 s after the last post are errors. Jobs/s: jobs RQ "
        "finished (FinishedJobRegistry) from the first post to the last job's end, divided by "
        "that time; capacity: the same jobs divided by their summed run time."),
)
def notification_latency(ctx, rate: float = 5.0, duration: float | None = None,
                         straggler_wait: float = 30.0) -> Result:
    if duration is None:
        duration = 20.0 if ctx.scale == "city" else 60.0
    setup = shared_setup(ctx)
    if setup.problem:
        return Result(skipped=setup.problem)
    return _measure(ctx, setup, rate, duration, straggler_wait)


# --- setup and teardown ---------------------------------------------------------------------------

def shared_setup(ctx) -> _Setup:
    """The seeded PostgreSQL, Redis and worker, made once per run for the figures that use it
    (this module's) and torn down when the run ends; `.problem` says why it could not be made,
    or why it is no longer usable."""

    def make():
        setup = _Setup(ctx)
        setup.problem = setup.prepare()
        if setup.problem:
            setup.teardown()
        return setup, setup.teardown

    setup = ctx.shared(("notifications", ctx.scale), make)
    if not setup.problem and setup.worker is not None and setup.worker.poll() is not None:
        setup.problem = (f"the worker exited with {setup.worker.returncode} during an earlier "
                         f"figure: {setup.log_tail()}")
    return setup

class _Setup:
    """PostgreSQL database, Redis db, seeded instance, the poster's app and the worker."""

    def __init__(self, ctx):
        from bench.instance import BENCH_DIR
        from matchmaker.config import database_uri

        self.ctx = ctx
        raw = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
        base = sa.engine.make_url(database_uri(raw, "/nonexistent"))
        self.url = base.set(database=f"{base.database}_notifications") \
            if base.drivername.startswith("postgresql") else base
        self.redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
        self.instance = BENCH_DIR / ".instance-notifications"
        self.admin = None
        self.redis = None
        self.app = None
        self.worker: subprocess.Popen | None = None
        self.worker_log: Path = self.instance / "worker.log"
        self.created_database = False
        self.problem: str | None = None
        self.torn_down = False

    @property
    def database_url(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def prepare(self) -> str | None:
        """Everything up to a running, idle worker; a reason to skip, or None."""
        from bench.serve import empty_redis
        from matchmaker import create_app

        if not self.url.drivername.startswith("postgresql"):
            return f"BENCH_DATABASE_URL must be PostgreSQL, got {_safe(self.url)}"
        self.redis, problem = empty_redis(self.redis_url, "BENCH_REDIS_URL")
        if problem:
            return problem
        self.admin = sa.create_engine(self.url.set(database="postgres"),
                                      isolation_level="AUTOCOMMIT")
        name = self.url.database
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            return (f"PostgreSQL at {_safe(self.url)} is unreachable: "
                    f"{str(exc.orig).strip().splitlines()[0]}")
        self.created_database = True
        shutil.rmtree(self.instance, ignore_errors=True)
        self.instance.mkdir(parents=True)
        started = time.perf_counter()
        # The demo's dates end some days before today: one claims sweep (its outbox rows
        # drained in that process, without Redis) brings the data to today, so the worker's
        # own first sweep finds nothing to catch up on (at province scale, thousands of lapsed
        # picks and escalated needs: minutes of fan-outs) and the run measures the posts.
        for args in (("db", "upgrade"), ("demo", "seed", "--scale", self.ctx.scale),
                     ("search", "reindex"), ("claims", "sweep")):
            problem = self._flask(*args)
            if problem:
                return problem
        self.ctx.log(f"setup: PostgreSQL seeded at {self.ctx.scale} scale, indexed and swept "
                     f"in {time.perf_counter() - started:.1f} s")
        self.app = create_app({
            "INSTANCE_PATH": str(self.instance), "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "REDIS_URL": self.redis_url, "ELASTICSEARCH_URL": None, "MAIL_ENABLED": False,
        })
        return self._start_worker()

    def env(self, **extra) -> dict:
        # Explicit values, empty rather than unset, so a `.env` cannot point anything elsewhere.
        return dict(os.environ) | {
            "INSTANCE_PATH": str(self.instance), "DATABASE_URL": self.database_url,
            "REDIS_URL": "", "ELASTICSEARCH_URL": "", "MAIL_ENABLED": "",
            "MATCHMAKER_ENV": "development", "RUN_PERIODIC_IN_PROCESS": ""} | extra

    def _flask(self, *args: str) -> str | None:
        from matchmaker.config import PROJECT_ROOT

        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603 (our own argv)
            [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=PROJECT_ROOT,
            env=self.env(), capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-3000:])
            return f"setup failed: flask {' '.join(args)} (exit {completed.returncode})"
        self.ctx.log(f"  flask {' '.join(args)}: {time.perf_counter() - started:.1f} s")
        return None

    def _start_worker(self) -> str | None:
        from rq import Worker

        from matchmaker.config import PROJECT_ROOT

        log = self.worker_log.open("w")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=PROJECT_ROOT,
            env=self.env(REDIS_URL=self.redis_url), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                return f"the worker exited with {self.worker.returncode}: {self.log_tail()}"
            if Worker.all(connection=self.redis):
                break
            time.sleep(0.2)
        else:
            return "the worker did not register in Redis within 60 s"
        # The scheduler queues its periodic jobs (claims sweep, outbox drain) on the first tick:
        # let them finish so that the run measures the posts, not the start-up.
        started = time.perf_counter()
        if not _wait_idle(self.redis, timeout=600, settle=3.0):
            return "the worker did not become idle within 600 s after its start-up jobs"
        self.ctx.log(f"worker {Worker.all(connection=self.redis)[0].name} registered; start-up "
                     f"jobs done in {time.perf_counter() - started:.1f} s")
        return None

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.worker_log.read_text().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop_worker(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            return
        self.worker.send_signal(signal.SIGTERM)  # RQ: warm shutdown after the current job
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait(timeout=10)

    def teardown(self) -> None:
        if self.torn_down:
            return
        self.torn_down = True
        try:
            self.stop_worker()
        finally:
            if self.app is not None:
                with self.app.app_context():
                    from matchmaker.extensions import db

                    db.session.remove()
                    db.engine.dispose()
            if self.redis is not None:
                try:
                    if self.worker is not None or self.app is not None:
                        self.redis.flushdb()
                finally:
                    self.redis.close()
            if self.admin is not None:
                if self.created_database:
                    with self.admin.connect() as conn:
                        conn.execute(sa.text(
                            f'DROP DATABASE IF EXISTS "{self.url.database}" WITH (FORCE)'))
                self.admin.dispose()
            shutil.rmtree(self.instance, ignore_errors=True)


def _queues(connection):
    from rq import Queue

    from workers import queues
    from workers.serializer import SERIALIZER

    return [Queue(name, connection=connection, serializer=SERIALIZER) for name in queues.ALL]


def _backlog(connection) -> int:
    return sum(queue.count for queue in _queues(connection))


def _busy(connection) -> bool:
    from rq import Worker

    return _backlog(connection) > 0 or any(
        worker.get_state() == "busy" for worker in Worker.all(connection=connection))


def _wait_idle(connection, timeout: float, settle: float) -> bool:
    """Wait until the queues are empty and the worker idle for `settle` seconds in a row."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if _busy(connection):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return True
        time.sleep(0.2)
    return False


def _finished_ids(connection) -> set[str]:
    from rq.registry import FinishedJobRegistry

    ids: set[str] = set()
    for queue in _queues(connection):
        ids.update(FinishedJobRegistry(queue=queue).get_job_ids())
    return ids


def _failed_count(connection) -> int:
    from rq.registry import FailedJobRegistry

    return sum(FailedJobRegistry(queue=queue).count for queue in _queues(connection))


# --- the needs to post ----------------------------------------------------------------------------

def _plan_after_warm_up(app, redis, count: int, seed: int,
                        idle_timeout: float) -> tuple[list[tuple[int, dict]], str | None]:
    """`count` planned needs (see `_plan`), after one more posted through the normal path and
    not counted — it pays for the poster's cold start (imports, connection pool, caches) and
    the worker's first fan-out — once the queues are empty and the worker idle again; or the
    reason the figure cannot run."""
    from matchmaker.accounts.models import User
    from matchmaker.extensions import db
    from matchmaker.needs.services import create_need

    with app.app_context():
        plan = _plan(count + 1, seed=seed)
        db.session.remove()
    if len(plan) < count + 1:
        return [], (f"only {len(plan)} of {count + 1} template needs have an eligible product "
                    f"in the seeded data")
    user_id, data = plan.pop()
    with app.app_context():
        create_need(db.session.get(User, user_id), data, publish=True)
        db.session.remove()
    if not _wait_idle(redis, timeout=idle_timeout, settle=1.0):
        return [], f"the worker did not finish the warm-up need within {idle_timeout:g} s"
    return plan, None


def _plan(count: int, seed: int = 20260) -> list[tuple[int, dict]]:
    """(enterprise user id, create_need data) for `count` needs: the seeded needs of many
    enterprises as templates, amounts varied, each kept only if some product is eligible."""
    from matchmaker.accounts.models import User
    from matchmaker.enterprises.models import Enterprise
    from matchmaker.extensions import db
    from matchmaker.needs.models import Need
    from search import loaders
    from search.documents import NeedDoc
    from search.features import is_eligible

    products = [p for p in loaders.product_docs(service=False) if p.active]
    users = {}
    for user_id, enterprise_id in db.session.execute(
            sa.select(User.id, User.enterprise_id)
            .where(User.role == "enterprise", User.active.is_(True)).order_by(User.id)):
        users.setdefault(enterprise_id, user_id)
    templates = db.session.execute(
        sa.select(Need, Enterprise.size, Enterprise.env_credit)
        .join(Enterprise, Enterprise.id == Need.enterprise_id)
        .where(Need.status != "draft", Need.enterprise_id.in_(list(users)))
        .order_by(Need.id)).all()
    rng = random.Random(seed)
    rng.shuffle(templates)
    plan: list[tuple[int, dict]] = []
    cent = Decimal("0.01")
    for need, size, env_credit in templates:
        if len(plan) >= count:
            break
        for factor in (Decimal(str(round(rng.uniform(0.6, 1.4), 2))), Decimal(1)):
            amount = max(cent, (need.amount_wan * factor).quantize(cent, ROUND_HALF_UP))
            doc = NeedDoc(id=None, status="open", enterprise_id=need.enterprise_id,
                          title=need.title, amount_wan=amount, term_months=need.term_months,
                          category=need.green_category_code, region=need.region_code, size=size,
                          env_credit=env_credit, collateral=tuple(need.collateral or ()),
                          rate_cap=need.rate_cap, tokens=())
            if any(is_eligible(doc, product) for product in products):
                break
        else:
            continue
        investment = need.project_investment_wan
        if investment is not None and amount > investment * 2:
            investment = None
        plan.append((users[need.enterprise_id], {
            "title": need.title, "description": need.description or "",
            "purpose": need.purpose, "amount_wan": str(amount), "term_months": need.term_months,
            "green_category": need.green_category_code, "collateral": list(need.collateral or []),
            "region_code": need.region_code,
            "rate_cap": None if need.rate_cap is None else str(need.rate_cap),
            "co2_reduction_t": None if need.co2_reduction_t is None else str(need.co2_reduction_t),
            "project_investment_wan": None if investment is None else str(investment),
            "deadline": None}))
    return plan


# --- who should hear of each need (independently of the consumer) --------------------------------

def _expected(need_ids: list[int]) -> dict[int, set[int]]:
    """need id → the user ids that should get a `new_lead` notification."""
    from matchmaker.accounts.models import User, user_regions
    from matchmaker.banks.models import Bank
    from matchmaker.extensions import db
    from matchmaker.needs.models import Need
    from matchmaker.notifications.models import NotificationPreference
    from matchmaker.reference.codes import region_covers
    from search import loaders
    from search.features import is_eligible

    products = loaders.product_docs(service=False)
    managers: dict[int, list[tuple[int, list[str]]]] = collections.defaultdict(list)
    rows = db.session.execute(
        sa.select(User.id, User.bank_id).join(Bank, Bank.id == User.bank_id)
        .where(User.role == "bank_manager", User.active.is_(True), Bank.active.is_(True)))
    coverage: dict[int, list[str]] = collections.defaultdict(list)
    for user_id, code in db.session.execute(sa.select(user_regions.c.user_id,
                                                      user_regions.c.region_code)):
        coverage[user_id].append(code)
    for user_id, bank_id in rows:
        managers[bank_id].append((user_id, coverage.get(user_id, [])))
    muted = set(db.session.scalars(
        sa.select(NotificationPreference.user_id).where(
            NotificationPreference.kind == "new_lead", NotificationPreference.channel == "in_app",
            NotificationPreference.enabled.is_(False))))
    expected = {}
    for need in db.session.scalars(sa.select(Need).where(Need.id.in_(need_ids))):
        doc = loaders.need_doc(need)
        banks = {p.bank_id for p in products if is_eligible(doc, p)}
        expected[need.id] = {
            user_id for bank_id in banks for user_id, codes in managers.get(bank_id, [])
            if user_id not in muted
            and (not codes or any(region_covers(code, need.region_code) for code in codes))}
    return expected


def _engine_recipients(need_ids: list[int]) -> dict[int, set[int]]:
    """The same through the consumer's own functions (search engine + covering_managers)."""
    from matchmaker.extensions import db
    from matchmaker.needs.models import Need
    from matchmaker.notifications.services import covering_managers, eligible_bank_ids

    found = {}
    for need in db.session.scalars(sa.select(Need).where(Need.id.in_(need_ids))):
        found[need.id] = {user.id for users in covering_managers(
            eligible_bank_ids(need), need.region_code).values() for user in users}
    return found


def _stored(need_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """need id → (number of new_lead notifications, the newest created_at)."""
    from matchmaker.extensions import db
    from matchmaker.notifications.models import Notification

    if not need_ids:
        return {}
    rows = db.session.execute(
        sa.select(Notification.need_id, sa.func.count(Notification.id),
                  sa.func.max(Notification.created_at))
        .where(Notification.kind == "new_lead", Notification.need_id.in_(need_ids))
        .group_by(Notification.need_id))
    return {need_id: (count, newest) for need_id, count, newest in rows}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- the run --------------------------------------------------------------------------------------

def _measure(ctx, setup: _Setup, rate: float, duration: float, straggler_wait: float) -> Result:
    from rq import Worker

    from matchmaker.accounts.models import User
    from matchmaker.extensions import db
    from matchmaker.needs.services import create_need

    app, redis = setup.app, setup.redis
    count = max(1, math.ceil(rate * duration))
    plan, problem = _plan_after_warm_up(app, redis, count, seed=20260, idle_timeout=60)
    if problem:
        return Result(skipped=problem)
    enterprises = len({user_id for user_id, _ in plan})

    finished_before = _finished_ids(redis)
    failed_before = _failed_count(redis)
    worker = Worker.all(connection=redis)[0]
    jobs_before, busy_before = worker.successful_job_count, worker.total_working_time

    posted: list[tuple[int, datetime, datetime | None]] = []  # (need id, after return, published)
    post_seconds: list[float] = []
    post_errors: collections.Counter[str] = collections.Counter()
    lags: list[float] = []
    ctx.log(f"posting {count} needs of {enterprises} enterprises at {rate:g}/s for "
            f"{duration:g} s")
    started = time.perf_counter()
    started_wall = datetime.now(UTC)
    for number, (user_id, data) in enumerate(plan):
        due = started + number / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        lags.append(max(0.0, -pause))
        with app.app_context():
            try:
                begun = time.perf_counter()
                need = create_need(db.session.get(User, user_id), data, publish=True)
                returned = datetime.now(UTC)
                post_seconds.append(time.perf_counter() - begun)
                posted.append((need.id, returned, need.published_at))
            except Exception as exc:
                post_errors[f"{type(exc).__name__}: {str(exc)[:200]}"] += 1
            finally:
                db.session.remove()
    posting_seconds = time.perf_counter() - started
    backlog_after_posting = _backlog(redis)
    ctx.log(f"posted {len(posted)} in {posting_seconds:.1f} s; "
            f"queue backlog {backlog_after_posting}")

    need_ids = [need_id for need_id, _, _ in posted]
    with app.app_context():
        expected = _expected(need_ids)
        db.session.remove()
    # Stragglers: wait until every need has its notifications and the worker is idle.
    deadline = time.monotonic() + straggler_wait
    while True:
        with app.app_context():
            stored = _stored(need_ids)
            db.session.remove()
        complete = all(stored.get(n, (0, None))[0] >= len(expected.get(n, ())) for n in need_ids)
        if (complete and not _busy(redis)) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    waited = time.perf_counter() - started - posting_seconds
    backlog_final = _backlog(redis)

    with app.app_context():
        stored = _stored(need_ids)
        engine = _engine_recipients(need_ids)
        actual = {need_id: set(db.session.scalars(
            sa.text("SELECT user_id FROM notifications WHERE kind = 'new_lead' "
                    "AND need_id = :n"), {"n": need_id})) for need_id in need_ids}
        pending_outbox = db.session.scalar(sa.text(
            "SELECT count(*) FROM outbox WHERE processed_at IS NULL"))
        dataset = db.session.execute(sa.text(
            "SELECT (SELECT count(*) FROM products WHERE active), (SELECT count(*) FROM banks), "
            "(SELECT count(*) FROM users WHERE role = 'bank_manager' AND active), "
            "(SELECT count(*) FROM needs)")).one()
        db.session.remove()

    latencies, from_published, incomplete, wrong = [], [], [], []
    for need_id, returned, published_at in posted:
        want = expected.get(need_id, set())
        got = actual.get(need_id, set())
        if got != want:
            (incomplete if got < want else wrong).append(
                f"need {need_id}: {len(got)} of {len(want)} stored"
                + (f", {len(got - want)} unexpected" if got - want else ""))
            continue
        if not want:
            continue
        newest = _aware(stored[need_id][1])
        latencies.append((newest - returned).total_seconds())
        if published_at is not None:
            from_published.append((newest - _aware(published_at)).total_seconds())

    # What the worker did over the run.
    finished = _jobs(redis, _finished_ids(redis) - finished_before)
    run_end = max([job["ended"] for job in finished], default=datetime.now(UTC))
    window = max((run_end - started_wall).total_seconds(), 1e-9)
    worker.refresh()
    jobs_done = worker.successful_job_count - jobs_before
    busy = worker.total_working_time - busy_before
    by_func = collections.Counter(job["func"] for job in finished)
    drains = [job for job in finished if job["func"] == "workers.jobs.drain_outbox"]

    summary = summarize(latencies)
    result = Result(latencies={
        "post → last notification stored (from create_need's return)": summary,
        "published_at → last notification stored": summarize(from_published),
        "create_need call (poster)": summarize(post_seconds),
        "drain job: queued → started": summarize([j["wait"] for j in drains]),
        "drain job: run time (in the forked work horse)": summarize([j["run"] for j in drains]),
    })
    notifications = sum(len(users) for users in actual.values())
    expected_total = sum(len(users) for users in expected.values())
    mismatches = sum(expected.get(n, set()) != engine.get(n, set()) for n in need_ids)
    result.metrics = {
        "p50_ms": summary.get("p50_ms"), "p95_ms": summary.get("p95_ms"),
        "p99_ms": summary.get("p99_ms"), "max_ms": summary.get("max_ms"),
        "errors": len(incomplete) + len(wrong) + sum(post_errors.values()),
        "needs_posted": len(posted), "needs_measured": len(latencies),
        "needs_without_recipients": sum(not expected.get(n) for n in need_ids),
        "notifications_stored": notifications, "notifications_expected": expected_total,
        "recipients_per_need_mean": round(expected_total / max(len(posted), 1), 1),
        "post_rate_per_s": round(len(posted) / posting_seconds, 2),
        "posting_seconds": round(posting_seconds, 1),
        "post_lag_max_ms": round(max(lags, default=0) * 1000, 1),
        "jobs_finished": len(finished), "drain_jobs": len(drains),
        "jobs_per_s": round(len(finished) / window, 2),
        "jobs_per_busy_s": round(jobs_done / busy, 2) if busy > 0 else None,
        "worker_busy_share": round(busy / window, 2),
        "jobs_failed": _failed_count(redis) - failed_before,
        "backlog_after_posting": backlog_after_posting, "backlog_at_end": backlog_final,
        "outbox_pending_at_end": pending_outbox,
        "engine_crosscheck_mismatches": mismatches,
    }
    result.notes.append(
        f"Data: `flask demo seed --scale {ctx.scale}` into PostgreSQL — {dataset[0]:,} active "
        f"products of {dataset[1]:,} banks, {dataset[2]:,} active managers, {dataset[3]:,} "
        f"needs at the end.")
    result.notes.append(
        f"{len(posted)} needs of {enterprises} enterprises posted at {rate:g}/s over "
        f"{posting_seconds:.1f} s on {os.cpu_count()} cores (poster, one worker and PostgreSQL "
        f"share them); {expected_total:,} recipients expected, {notifications:,} notifications "
        f"stored; then waited {waited:.1f} s for stragglers (at most {straggler_wait:g} s).")
    result.notes.append(
        f"Worker: {len(finished)} jobs finished in {window:.1f} s (first post → last job end) "
        f"= {len(finished) / window:.2f} jobs/s; RQ's own counters: {jobs_done} jobs in "
        f"{busy:.1f} s of job run time = {result.metrics['jobs_per_busy_s']} jobs per busy "
        f"second (fork and Redis round trips not included). Jobs by function: "
        + ", ".join(f"{func.rsplit('.', 1)[-1]} {n}" for func, n in by_func.most_common()) + ".")
    periodic = sorted(job["id"] for job in finished if job["id"].startswith("periodic-"))
    if periodic:
        result.notes.append(f"periodic jobs that ran during the window: {', '.join(periodic)}")
    for text, n in post_errors.most_common():
        result.warnings.append(f"{n} × create_need failed: {text}")
    if incomplete:
        result.warnings.append(f"{len(incomplete)} needs not fully notified {straggler_wait:g} s "
                               f"after the last post: {'; '.join(incomplete[:5])}")
    if wrong:
        result.warnings.append(f"{len(wrong)} needs notified someone not expected: "
                               f"{'; '.join(wrong[:5])}")
    if mismatches:
        result.warnings.append(f"{mismatches} needs where the engine's eligible banks and "
                               f"covering managers differ from the independent computation")
    if result.metrics["jobs_failed"]:
        result.warnings.append(f"{result.metrics['jobs_failed']} RQ jobs failed; worker log: "
                               f"{setup.log_tail()}")
    return result


def _jobs(connection, job_ids: set[str]) -> list[dict]:
    from rq.job import Job

    from workers.serializer import SERIALIZER

    jobs = []
    for job in Job.fetch_many(sorted(job_ids), connection=connection, serializer=SERIALIZER):
        if job is None or job.ended_at is None or job.started_at is None:
            continue
        ended, started = _aware(job.ended_at), _aware(job.started_at)
        enqueued = _aware(job.enqueued_at) if job.enqueued_at else started
        jobs.append({"id": job.id, "func": job.func_name, "started": started, "ended": ended,
                     "run": (ended - started).total_seconds(),
                     "wait": (started - enqueued).total_seconds()})
    return jobs


# --- throughput of one worker ---------------------------------------------------------------------

@figure(
    "notification_throughput", title="Notification jobs/s of one RQ worker, and its memory",
    unit="jobs/s", needs="none",
    targets=[Target("errors", "<=", 0, "every eligible manager notified", "needs")],
    headline=("jobs_per_s", "jobs_per_busy_s", "job_run_p50_ms", "fork_and_redis_ms_per_job",
              "rq_worker_peak_rss_mb", "rq_work_horse_peak_rss_mb"),
    description=(
        "The same set-up as `notification_latency` (shared within a run: seeded PostgreSQL, "
        "Redis, exactly one `flask --app wsgi worker`). The worker is suspended (`rq suspend`), "
        "a batch of needs is posted through `create_need(…, publish=True)` (one outbox row "
        "each), the drain jobs the posts queued are replaced by as many "
        "`workers.jobs.drain_outbox(1)` jobs queued through `workers.dispatch.enqueue` — each "
        "fans out exactly one need, as a job does when the worker keeps up — and the worker is "
        "resumed. Jobs/s = those jobs ÷ (last job's end − first job's start, RQ's timestamps); "
        "per busy second = the same jobs ÷ their summed run time (without RQ's fork and Redis "
        "round trips). Memory: VmHWM of the worker process after the batch, and the largest "
        "VmHWM seen in its forked work horses (sampled every 10 ms while they run). Errors: "
        "needs whose `new_lead` notifications differ from the expected recipients (computed "
        "independently, as in `notification_latency`)."),
)
def notification_throughput(ctx, jobs: int | None = None) -> Result:
    if jobs is None:
        jobs = 60 if ctx.scale == "city" else 150
    setup = shared_setup(ctx)
    if setup.problem:
        return Result(skipped=setup.problem)
    return _throughput(ctx, setup, jobs)


def _throughput(ctx, setup: _Setup, count: int) -> Result:
    import threading

    from rq import Queue
    from rq.suspension import resume, suspend

    from bench.serve import children, memory_mb
    from matchmaker.accounts.models import User
    from matchmaker.extensions import db
    from matchmaker.needs.services import create_need
    from workers import queues
    from workers.dispatch import PendingJob, enqueue
    from workers.serializer import SERIALIZER

    app, redis = setup.app, setup.redis
    plan, problem = _plan_after_warm_up(app, redis, count, seed=20261, idle_timeout=120)
    if problem:
        return Result(skipped=problem)

    # Suspend. An idle worker waits in BLPOP and checks the flag only before its next dequeue,
    # so a no-op job (a drain of at most 0 rows) wakes it; it then sleeps until `resume`.
    suspend(redis)
    try:
        enqueue(PendingJob("workers.jobs.drain_outbox", args=(0,), queue=queues.SEARCH),
                setup.redis_url)
        if not _wait_state(redis, "suspended", timeout=30):
            return Result(skipped="the worker did not suspend within 30 s")
        started = time.perf_counter()
        need_ids = []
        with app.app_context():
            for user_id, data in plan:
                need_ids.append(create_need(db.session.get(User, user_id), data,
                                            publish=True).id)
                db.session.remove()
            pending = db.session.scalar(sa.text(
                "SELECT count(*) FROM outbox WHERE processed_at IS NULL"))
            db.session.remove()
        posting = time.perf_counter() - started
        search_queue = Queue(queues.SEARCH, connection=redis, serializer=SERIALIZER)
        replaced = search_queue.count
        search_queue.empty()
        job_ids = [enqueue(PendingJob("workers.jobs.drain_outbox", args=(1,),
                                      queue=queues.SEARCH, timeout=300), setup.redis_url).id
                   for _ in range(pending)]
    finally:
        resume(redis)
    ctx.log(f"posted {len(need_ids)} needs in {posting:.1f} s with the worker suspended; "
            f"{pending} outbox rows pending; replaced {replaced} queued drain jobs by "
            f"{len(job_ids)} × drain_outbox(1)")

    # Memory of the forked work horses while they run (each lives for one job).
    horse_peak = {"mb": 0.0, "seen": 0}
    stop = threading.Event()

    def sample():
        seen: set[int] = set()
        while not stop.is_set():
            for pid in children(setup.worker.pid):
                memory = memory_mb(pid)
                if memory:
                    seen.add(pid)
                    horse_peak["mb"] = max(horse_peak["mb"], memory.get("VmHWM", 0.0))
            horse_peak["seen"] = len(seen)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    worker_before = memory_mb(setup.worker.pid)
    try:
        idle = _wait_idle(redis, timeout=max(120.0, count * 5.0), settle=1.0)
    finally:
        stop.set()
        sampler.join(timeout=5)
    worker_after = memory_mb(setup.worker.pid)

    finished = {job["id"]: job for job in _jobs(redis, set(job_ids))}
    done = [finished[job_id] for job_id in job_ids if job_id in finished]
    result = Result()
    if done:
        first_start = min(job["started"] for job in done)
        last_end = max(job["ended"] for job in done)
        window = max((last_end - first_start).total_seconds(), 1e-9)
        busy = sum(job["run"] for job in done)
    else:
        window = busy = 0.0
    with app.app_context():
        expected = _expected(need_ids)
        stored = {need_id: set(db.session.scalars(
            sa.text("SELECT user_id FROM notifications WHERE kind = 'new_lead' "
                    "AND need_id = :n"), {"n": need_id})) for need_id in need_ids}
        left = db.session.scalar(sa.text(
            "SELECT count(*) FROM outbox WHERE processed_at IS NULL"))
        db.session.remove()
    wrong = [need_id for need_id in need_ids if stored[need_id] != expected.get(need_id, set())]
    notifications = sum(len(users) for users in stored.values())
    run_times = summarize([job["run"] for job in done])
    result.latencies = {"drain_outbox(1) run time (in the work horse)": run_times,
                        "drain_outbox(1) queued → started": summarize(
                            [job["wait"] for job in done])}
    result.metrics = {
        "jobs_per_s": round(len(done) / window, 2) if window else None,
        "jobs_per_busy_s": round(len(done) / busy, 2) if busy else None,
        "errors": len(wrong) + (len(job_ids) - len(done)),
        "jobs": len(job_ids), "jobs_finished": len(done), "needs": len(need_ids),
        "notifications_stored": notifications,
        "notifications_per_s": round(notifications / window, 1) if window else None,
        "seconds": round(window, 2), "job_run_p50_ms": run_times.get("p50_ms"),
        "fork_and_redis_ms_per_job": (round((window - busy) / len(done) * 1000, 1)
                                      if done else None),
        "outbox_pending_at_end": left,
        "rq_worker_peak_rss_mb": worker_after["VmHWM"] if worker_after else None,
        "rq_worker_rss_mb_before_batch": worker_before["VmRSS"] if worker_before else None,
        "rq_work_horse_peak_rss_mb": horse_peak["mb"] or None,
        "work_horses_sampled": horse_peak["seen"],
    }
    result.notes.append(
        f"{len(done)} of {len(job_ids)} drain_outbox(1) jobs finished in {window:.1f} s "
        f"(first start → last end) = {result.metrics['jobs_per_s']} jobs/s; "
        f"{notifications:,} new_lead notifications stored "
        f"({notifications / max(len(need_ids), 1):.1f} per need); one worker on "
        f"{os.cpu_count()} cores with PostgreSQL and Redis on the same machine.")
    result.notes.append(
        f"RQ forks a work horse per job: its resident set starts as the worker's pages (shared "
        f"copy-on-write), so its VmHWM counts them; worker VmRSS before the batch "
        f"{result.metrics['rq_worker_rss_mb_before_batch']} MiB, VmHWM after "
        f"{result.metrics['rq_worker_peak_rss_mb']} MiB; {horse_peak['seen']} work horses "
        f"sampled.")
    if not idle:
        result.warnings.append("the worker was still busy when the wait ended")
    if wrong:
        result.warnings.append(f"{len(wrong)} needs with other recipients than expected, e.g. "
                               f"need {wrong[0]}: {len(stored[wrong[0]])} stored, "
                               f"{len(expected.get(wrong[0], ()))} expected")
    if len(done) < len(job_ids):
        result.warnings.append(f"{len(job_ids) - len(done)} jobs did not finish; worker log: "
                               f"{setup.log_tail()}")
    return result


def _wait_state(connection, state: str, timeout: float) -> bool:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(worker.get_state() == state for worker in Worker.all(connection=connection)):
            return True
        time.sleep(0.1)
    return False
