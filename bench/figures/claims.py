"""抢单 under contention: 50 managers of 50 banks grab one new need at the same instant."""

from __future__ import annotations

import collections
import os
import shutil
import threading
import time
from contextlib import contextmanager, suppress

import sqlalchemy as sa

from bench import Result, Target, figure
from bench.stats import summarize

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/greenmatch_bench"
DEFAULT_JOBS_REDIS_URL = "redis://127.0.0.1:6379/7"


def _safe(url: sa.engine.URL) -> str:
    return url.render_as_string(hide_password=True)


@figure(
    "claim_contention", title="抢单 contention on PostgreSQL, over HTTP", unit="ms", needs="none",
    targets=[Target("p99_ms", "<=", 200, "p99 ≤ 200 ms", "ms"),
             Target("errors", "<=", 0, "0 errors", "errors"),
             Target("bad_rounds", "<=", 0, "exactly CLAIM_CAP (3) winners every round", "rounds")],
    description=(
        "As a deployment serves them: gunicorn with 2 × cores + 1 sync workers on a separate "
        "PostgreSQL database (BENCH_DATABASE_URL, default "
        "postgresql://postgres@127.0.0.1:5432/greenmatch_bench, created and dropped by the "
        "harness), 50 banks each with a manager and an eligible product. Each round publishes "
        "a new need; a client on loopback opens 50 connections, then writes the 50 "
        "`POST /api/v1/needs/{id}/claims` requests (each with its manager's token) at once from "
        "one event loop. Latency is from that instant to each response; an error is any answer "
        "other than 201 or 409. As deployed, the jobs a grab queues after its commit (search "
        "sync, notifications, the office's statistics) go to Redis (BENCH_CLAIMS_REDIS_URL, "
        "default redis://127.0.0.1:6379/7, flushed before and after) for RQ workers; none runs "
        "during the bursts (a fleet's workers run elsewhere), so the latency is the web "
        "request's alone. 20 rounds are counted after 10 warm-up rounds, so that every worker "
        "has served a winning grab once, as a worker in service has (a worker's first win "
        "compiles its statements: ≈ 13 ms more under the need's lock); the warm-up rounds' "
        "latencies are reported apart. Skipped when PostgreSQL or that Redis is unreachable."),
)
def claim_contention(ctx, banks: int = 50, rounds: int = 20, warmup_rounds: int = 10) -> Result:
    return _with_database(ctx, banks, lambda app, url, people: _contend_http(
        ctx, app, url, people, banks, rounds, warmup_rounds))


@figure(
    "claim_contention_in_process", title="抢单 contention on PostgreSQL, one process",
    unit="ms", needs="none",
    targets=[Target("errors", "<=", 0, "0 errors", "errors"),
             Target("bad_rounds", "<=", 0, "exactly CLAIM_CAP (3) winners every round", "rounds")],
    description=(
        "The service alone, without HTTP: 50 threads of ONE process (each its own app context "
        "and connection, released together by a barrier) call "
        "`matchmaker.claims.services.grab(need_id, manager)` on the same database setup. Python "
        "runs one thread at a time, so the latency here is mostly the 50 calls' CPU queued "
        "behind each other: a diagnostic of the service's cost, not a deployment's latency. "
        "The jobs a grab queues go to Redis, as in `claim_contention`."),
)
def claim_contention_in_process(ctx, banks: int = 50, rounds: int = 20) -> Result:
    return _with_database(ctx, banks, lambda app, url, people: _contend(
        ctx, app, people, banks, rounds))


def _with_database(ctx, banks: int, measure) -> Result:
    from flask_migrate import upgrade

    from bench.instance import BENCH_DIR
    from bench.serve import empty_redis
    from matchmaker import create_app
    from matchmaker.config import database_uri

    raw = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    url = sa.engine.make_url(database_uri(raw, "/nonexistent"))
    if not url.drivername.startswith("postgresql"):
        return Result(skipped=f"BENCH_DATABASE_URL must be PostgreSQL, got {_safe(url)}")
    # As deployed, a grab's after-commit jobs (search sync, notifications, the office's facts)
    # go to Redis for the RQ workers; without Redis they would run inside the request.
    jobs_url = os.environ.get("BENCH_CLAIMS_REDIS_URL") or DEFAULT_JOBS_REDIS_URL
    redis, problem = empty_redis(jobs_url, "BENCH_CLAIMS_REDIS_URL")
    if problem:
        return Result(skipped=problem)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        redis.close()
        return Result(skipped=f"PostgreSQL at {_safe(url)} is unreachable: "
                              f"{str(exc.orig).strip().splitlines()[0]}")
    instance = BENCH_DIR / ".instance-claims"
    shutil.rmtree(instance, ignore_errors=True)
    app = create_app({
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": banks + 5,
                                      "max_overflow": 5, "pool_timeout": 60},
        "REDIS_URL": jobs_url, "ELASTICSEARCH_URL": None,
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # setup creates ~100 users
        "MANAGER_DAILY_GRAB_LIMIT": 1_000_000,
    })
    try:
        with app.app_context():
            upgrade()
        return measure(app, url.render_as_string(hide_password=False), _people(ctx, app, banks))
    finally:
        with app.app_context():
            from matchmaker.extensions import db

            db.session.remove()
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)
        redis.flushdb()
        redis.close()


def _people(ctx, app, banks: int) -> dict:
    """`banks` banks, each with an admin, an eligible product and a manager; an enterprise."""
    from matchmaker.extensions import db
    from tests.factories import Factory

    started = time.perf_counter()
    with app.app_context():
        make = Factory(app)
        office = make.office().user
        managers = []
        for _ in range(banks):
            bank = make.bank(actor=office)
            admin = make.bank_user(bank, role="bank_admin", actor=office)
            make.product(bank, admin)
            managers.append(make.bank_user(bank, role="bank_manager", actor=office).user.id)
        _, enterprise = make.enterprise()
        db.session.remove()
    ctx.log(f"setup: {banks} banks, managers and products in {time.perf_counter() - started:.1f} s")
    return {"make": make, "managers": managers, "enterprise": enterprise}


def _contend(ctx, app, people: dict, banks: int, rounds: int) -> Result:
    from matchmaker.accounts.models import User
    from matchmaker.claims.models import Claim
    from matchmaker.claims.services import grab
    from matchmaker.errors import Conflict
    from matchmaker.extensions import db

    make, managers, enterprise = people["make"], people["managers"], people["enterprise"]
    cap = app.config["CLAIM_CAP"]

    # Diagnostics without touching the service: count `_take_slot` attempts (no claim: a lost race
    # for a slot) and time `eligible_products`, by wrapping the module attributes `grab` calls.
    from matchmaker.claims import services as claim_services

    probe = _Probe(claim_services)
    lock = threading.Lock()

    # Uncontended: one manager at a time grabs a fresh need (3 winners, then one refused call).
    solo: list[float] = []
    solo_refused: list[float] = []
    with probe.installed():
        for _ in range(5):
            with app.app_context():
                need_id = make.need(enterprise).id
                db.session.remove()
            for index, manager_id in enumerate(managers[: cap + 1]):
                with app.app_context():
                    user = db.session.get(User, manager_id)
                    begun = time.perf_counter()
                    with suppress(Conflict):
                        grab(need_id, user)
                    (solo if index < cap else solo_refused).append(time.perf_counter() - begun)
                    db.session.remove()
    solo_eligible = probe.eligible_seconds / max(probe.eligible_calls, 1)
    probe.reset()

    problem = _hold_connections(app, banks)
    if problem:
        return Result(skipped=f"could not hold {banks} PostgreSQL connections at once ({problem}); "
                              f"max_connections is shared with other clients of the server")

    latencies: list[float] = []
    won_latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    setup_errors: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    bad_rounds: list[str] = []
    round_walls: list[float] = []

    def failure(exc: BaseException) -> None:
        key = type(exc).__name__
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        with lock:
            errors[key] += 1
            examples.setdefault(key, text)

    for number in range(rounds):
        with app.app_context():
            need_id = make.need(enterprise).id
            db.session.remove()
        barrier = threading.Barrier(banks + 1)
        outcomes: list[str] = []

        def contender(manager_id: int, need_id=need_id, barrier=barrier, outcomes=outcomes):
            with app.app_context():
                try:
                    try:
                        user = db.session.get(User, manager_id)  # as Flask-Login loads it
                        barrier.wait(timeout=120)
                    except Exception as exc:  # not the service's fault: the round is void
                        barrier.abort()
                        key = type(exc).__name__
                        with lock:
                            setup_errors[key] += 1
                            examples.setdefault(key, str(exc).strip().splitlines()[0][:300]
                                                if str(exc).strip() else "")
                            outcomes.append("aborted")
                        return
                    begun = time.perf_counter()
                    outcome = "error"
                    try:
                        grab(need_id, user)
                        outcome = "won"
                    except Conflict:
                        outcome = "conflict"
                    except Exception as exc:
                        failure(exc)
                    elapsed = time.perf_counter() - begun
                    with lock:
                        latencies.append(elapsed)
                        if outcome == "won":
                            won_latencies.append(elapsed)
                        outcomes.append(outcome)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=contender, args=(m,), daemon=True) for m in managers]
        with probe.installed():
            for thread in threads:
                thread.start()
            with suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=120)
            released = time.perf_counter()
            for thread in threads:
                thread.join(timeout=120)
        round_walls.append(time.perf_counter() - released)
        stuck = sum(thread.is_alive() for thread in threads)
        with app.app_context():
            rows = db.session.execute(sa.select(Claim.slot, Claim.bank_id)
                                      .where(Claim.need_id == need_id)).all()
            db.session.remove()
        winners = outcomes.count("won")
        if "aborted" in outcomes:
            bad_rounds.append(f"round {number + 1}: void, a contender could not get ready "
                              f"(connection) before the release")
            ctx.log(f"round {number + 1}/{rounds}: void (connection failure before release)")
            continue
        slots = sorted(slot for slot, _ in rows)
        if stuck or winners != cap or len(rows) != cap or slots != list(range(1, cap + 1)) \
                or len({bank for _, bank in rows}) != len(rows):
            bad_rounds.append(f"round {number + 1}: {winners} winners, {len(rows)} claim rows "
                              f"(slots {slots}), {outcomes.count('conflict')} conflicts, "
                              f"{outcomes.count('error')} errors, {stuck} threads stuck")
        ctx.log(f"round {number + 1}/{rounds}: {winners} won, "
                f"{outcomes.count('conflict')} conflict, {outcomes.count('error')} error, "
                f"wall {round_walls[-1] * 1000:.0f} ms")

    summary = summarize(latencies)
    result = Result(latencies={"all grab calls": summary,
                               "winning grabs": summarize(won_latencies),
                               "round (release → last call done)": summarize(round_walls),
                               "uncontended winning grab (one at a time)": summarize(solo),
                               "uncontended refused grab (need full)": summarize(solo_refused)})
    result.metrics = {"p50_ms": summary.get("p50_ms"), "p95_ms": summary.get("p95_ms"),
                      "p99_ms": summary.get("p99_ms"), "max_ms": summary.get("max_ms"),
                      "errors": sum(errors.values()), "bad_rounds": len(bad_rounds),
                      "rounds": rounds, "contenders": banks, "calls": len(latencies),
                      "solo_grab_p50_ms": summarize(solo).get("p50_ms"),
                      "take_slot_attempts": probe.attempts, "lost_slot_races": probe.lost_races,
                      "attempts_per_call": round(probe.attempts / max(len(latencies), 1), 2),
                      "eligible_products_calls": probe.eligible_calls,
                      "eligible_products_mean_ms_contended": round(
                          probe.eligible_seconds / max(probe.eligible_calls, 1) * 1000, 2),
                      "eligible_products_mean_ms_solo": round(solo_eligible * 1000, 2)}
    for key, count in errors.most_common():
        result.warnings.append(f"{count} × {key} from grab(): {examples.get(key, '')}")
    for key, count in setup_errors.most_common():
        result.warnings.append(f"{count} × {key} before the release (not grab's fault, the "
                               f"round is void): {examples.get(key, '')}")
    result.warnings += bad_rounds
    result.notes.append(f"{rounds} rounds × {banks} concurrent grabs on {os.cpu_count()} cores; "
                        f"CLAIM_CAP = {cap}, MANAGER_DAILY_GRAB_LIMIT raised for the run.")
    return result


def _hold_connections(app, count: int, tries: int = 6) -> str | None:
    """Open `count` connections at once so the pool keeps them for the rounds (a connection
    refused mid-round would void it). Returns the last problem, or None."""
    from matchmaker.extensions import db

    problem = None
    for attempt in range(tries):
        barrier = threading.Barrier(count)
        failures: list[str] = []

        def hold(barrier=barrier, failures=failures):
            with app.app_context():
                try:
                    db.session.execute(sa.text("SELECT 1"))
                    barrier.wait(timeout=30)
                except Exception as exc:
                    barrier.abort()
                    text = str(exc).strip()
                    failures.append(text.splitlines()[0][:200] if text else type(exc).__name__)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=hold, daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        real = [f for f in failures if f != "BrokenBarrierError"] or failures
        if not real:
            return None
        problem = real[0]
        time.sleep(5 * (attempt + 1))
    return problem


class _Probe:
    """Counts `_take_slot` attempts and times `eligible_products` while installed."""

    def __init__(self, module):
        self.module = module
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.attempts = self.lost_races = self.eligible_calls = 0
        self.eligible_seconds = 0.0

    @contextmanager
    def installed(self):
        take_slot, eligible = self.module._take_slot, self.module.eligible_products

        def counted_take_slot(*args, **kwargs):
            outcome = take_slot(*args, **kwargs)  # (claim or None after a lost race, product)
            with self.lock:
                self.attempts += 1
                self.lost_races += outcome[0] is None
            return outcome

        def timed_eligible(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return eligible(*args, **kwargs)
            finally:
                with self.lock:
                    self.eligible_calls += 1
                    self.eligible_seconds += time.perf_counter() - begun

        self.module._take_slot, self.module.eligible_products = counted_take_slot, timed_eligible
        try:
            yield self
        finally:
            self.module._take_slot, self.module.eligible_products = take_slot, eligible


def _contend_http(ctx, app, url: str, people: dict, banks: int, rounds: int,
                  warmup_rounds: int) -> Result:
    import asyncio

    from bench.serve import ServerDidNotStart, default_workers, gunicorn
    from matchmaker.accounts.models import User
    from matchmaker.accounts.services import issue_token
    from matchmaker.claims.models import Claim
    from matchmaker.extensions import db

    make, enterprise = people["make"], people["enterprise"]
    cap = app.config["CLAIM_CAP"]
    with app.app_context():
        tokens = [issue_token(db.session.get(User, manager_id))[0]
                  for manager_id in people["managers"]]
        db.session.remove()

    workers = default_workers()
    env = os.environ | {
        "DATABASE_URL": url, "INSTANCE_PATH": app.instance_path,
        "REDIS_URL": app.config["REDIS_URL"],
        "ELASTICSEARCH_URL": "", "SECRET_KEY": app.config["SECRET_KEY"],
        "MANAGER_DAILY_GRAB_LIMIT": "1000000",
    }
    try:
        with gunicorn(env, workers) as server:
            port = server.port
            latencies: list[float] = []
            won_latencies: list[float] = []
            warmup_latencies: list[float] = []
            statuses: collections.Counter[int] = collections.Counter()
            bad_rounds: list[str] = []
            round_walls: list[float] = []

            async def burst(path: str) -> tuple[list[float], list[int]]:
                """All connections open first; then every request is written at once and each
                answer timed from that instant (one event loop: no client threads to wake)."""
                body = b"{}"
                streams = [await asyncio.open_connection("127.0.0.1", port) for _ in tokens]
                requests = [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                             ).encode() + body for token in tokens]

                async def answer(reader, writer) -> tuple[float, int]:
                    try:
                        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
                        await asyncio.wait_for(reader.read(), timeout=60)
                        status = int(status_line.split()[1]) if status_line else -1
                    except (TimeoutError, OSError, ValueError, IndexError):
                        status = -1
                    finally:
                        writer.close()
                    return time.perf_counter() - released, status

                released = time.perf_counter()
                for (_reader, writer), request in zip(streams, requests, strict=True):
                    writer.write(request)
                outcomes = await asyncio.gather(*(answer(r, w) for r, w in streams))
                return [t for t, _ in outcomes], [status for _, status in outcomes]

            # Warm-up rounds, not counted: enough for every worker to have served a winning
            # grab once (3 of 5 workers win a round), as a worker in service has. A worker's
            # first win pays its statements' compilation, ≈ 13 ms more CPU under the lock.
            for number in range(1 - warmup_rounds, rounds + 1):
                with app.app_context():
                    need_id = make.need(enterprise).id
                    db.session.remove()
                path = f"/api/v1/needs/{need_id}/claims"
                before = dict(statuses), len(latencies)
                times, codes = asyncio.run(burst(path))
                latencies.extend(times)
                statuses.update(codes)
                round_walls.append(max(times))
                with app.app_context():
                    rows = db.session.execute(sa.select(Claim.slot, Claim.bank_id)
                                              .where(Claim.need_id == need_id)).all()
                    db.session.remove()
                won = statuses[201] - before[0].get(201, 0)
                if number <= 0:
                    warmup_latencies += latencies[before[1]:]
                    del latencies[before[1]:]
                    statuses = collections.Counter(before[0])
                    round_walls.pop()
                    continue
                won_latencies += [t for t, code in zip(times, codes, strict=True) if code == 201]
                slots = sorted(slot for slot, _ in rows)
                if won != cap or slots != list(range(1, cap + 1)):
                    bad_rounds.append(f"round {number}: {won} answered 201, claim slots {slots}")
                ctx.log(f"round {number}/{rounds}: {won} × 201, "
                        f"wall {round_walls[-1] * 1000:.0f} ms")
    except ServerDidNotStart as exc:
        return Result(skipped=str(exc))

    summary = summarize(latencies)
    errors = sum(count for status, count in statuses.items() if status not in (201, 409))
    result = Result(latencies={"all grab requests": summary,
                               "winning requests (201)": summarize(won_latencies),
                               "round (release → last answer)": summarize(round_walls),
                               "warm-up rounds (not counted)": summarize(warmup_latencies)})
    result.metrics = {"p50_ms": summary.get("p50_ms"), "p95_ms": summary.get("p95_ms"),
                      "p99_ms": summary.get("p99_ms"), "max_ms": summary.get("max_ms"),
                      "errors": errors, "bad_rounds": len(bad_rounds), "rounds": rounds,
                      "contenders": banks, "requests": len(latencies), "gunicorn_workers": workers}
    result.warnings += bad_rounds
    if errors:
        result.warnings.append(f"answers other than 201/409: "
                               f"{ {s: c for s, c in statuses.items() if s not in (201, 409)} }")
    result.notes.append(f"{rounds} rounds × {banks} concurrent requests (after {warmup_rounds} "
                        f"warm-up rounds) to gunicorn with {workers} sync workers on "
                        f"{os.cpu_count()} cores; CLAIM_CAP = {cap}.")
    return result
