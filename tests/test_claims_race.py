"""Race tests for 抢单: many bank managers grab one need at the same instant; exactly CLAIM_CAP win.

Every grabber is a real `claims.services.grab` call with a session (and so a connection) of its
own, all released together by a barrier:

* threads — 50 threads of this process, each in an application context of its own;
* processes — a pool of 10 processes × 5 threads (50 grabbers), started once per test, each
  process with an app of its own (`create_app`) on the same database, all 50 released by one
  `multiprocessing.Barrier`;
* one bank at a time — the same manager (or several managers of one bank) grabbing in 10
  threads seats the bank once;
* HTTP — 50 clients racing through POST /api/v1/needs/{id}/claims on a live threaded server.

Each round is a new open need (created beforehand through the real service). A round passes when
exactly CLAIM_CAP grabs return a claim, all others get `Conflict` (409) with the cap's message,
nothing else is raised or logged as an error, and the database holds exactly CLAIM_CAP claims in
slots 1…CAP of distinct banks, the need `claimed`. Every round runs even after a failing one, so
a failure reports which rounds failed and how.
"""

from __future__ import annotations

import http.client
import json
import logging
import multiprocessing
import queue
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from matchmaker.accounts.models import User
from matchmaker.claims import services
from matchmaker.claims.models import Claim
from matchmaker.errors import Conflict
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from tests.factories import api_token

GRABBERS = 50
PROCESSES = 10
THREADS_PER_PROCESS = GRABBERS // PROCESSES
# 100 repetitions on PostgreSQL, as the issue demands. SQLite serialises all writers on one file
# lock (each grab waits its turn through busy_timeout), so a round proves less there and costs
# more; 10 rounds of the same 50 grabbers keep the file quick without losing the check.
ROUNDS = {"postgresql": 100, "sqlite": 10}
HTTP_ROUNDS = {"postgresql": 5, "sqlite": 3}
# Generous: a round takes well under a second; these only stop a hung run from hanging CI.
BARRIER_TIMEOUT = 60
ROUND_TIMEOUT = 180
MAX_REPORTED = 5


def full_message(cap: int) -> str:
    return f"该需求已有{cap}家银行抢单"


@pytest.fixture
def app_config(app_config):
    """Each of the 50 threads of one process holds a connection of its own while it grabs (the
    default pool of 5 + 10 would make most of them queue for a connection instead of racing),
    and each manager grabs every need of the test, far beyond the daily limit."""
    return app_config | {
        "MANAGER_DAILY_GRAB_LIMIT": 1_000_000,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": GRABBERS,
                                      "max_overflow": 10, "pool_timeout": ROUND_TIMEOUT},
    }


@dataclass
class Bankers:
    """The banks racing: one manager each, each bank with one product eligible for the needs."""

    manager_ids: list[int]
    bank_ids: list[int]
    accounts: list  # factories.Account of each manager, for API tokens
    owner: object  # the enterprise's account that posts the needs


@pytest.fixture
def bankers(app, make) -> Bankers:
    """50 banks through the real services (about 3 s in all)."""
    _enterprise, owner = make.enterprise()
    office = make.office().user
    manager_ids, bank_ids, accounts = [], [], []
    for _ in range(GRABBERS):
        bank = make.bank(region_codes=["330500"], actor=office)
        admin = make.bank_user(bank, role="bank_admin", actor=office)
        make.product(bank, admin)
        manager = make.bank_user(bank, actor=office)
        manager_ids.append(manager.user.id)
        bank_ids.append(bank.id)
        accounts.append(manager)
    db.session.commit()
    return Bankers(manager_ids, bank_ids, accounts, owner)


def open_needs(make, owner, count: int) -> list[int]:
    ids = [make.need(owner).id for _ in range(count)]
    db.session.commit()
    return ids


# --- one grabber -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one grab call gave: a claim ("won"), a Conflict, or anything else ("error")."""

    manager_id: int
    kind: str
    detail: str = ""  # the Conflict's message, or the traceback
    slot: int | None = None
    bank_id: int | None = None
    claim_id: int | None = None


def grab_when_released(barrier, need_id: int, manager_id: int) -> Outcome:
    """In an application context of the caller's thread: load the manager, wait for the start
    and grab. Never raises: whatever happened is the outcome."""
    try:
        user = db.session.get(User, manager_id)
        _ = user.bank.active, user.region_codes  # loaded before the start: the race is the grab
        barrier.wait(timeout=BARRIER_TIMEOUT)
        try:
            claim = services.grab(need_id, user)
        except Conflict as exc:
            return Outcome(manager_id, "conflict", exc.message)
        return Outcome(manager_id, "won", slot=claim.slot, bank_id=claim.bank_id,
                       claim_id=claim.id)
    except BaseException:  # reported by the round's check, never lost
        return Outcome(manager_id, "error", traceback.format_exc())
    finally:
        db.session.remove()


class ErrorLog(logging.Handler):
    """Collects ERROR records (a failed in-process job after a grab's commit is only logged)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(self.format(record))


@contextmanager
def errors_logged():
    handler = ErrorLog()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


def race_in_threads(app, need_id: int, manager_ids: list[int], barrier=None) -> list[Outcome]:
    """One grabber a thread, each in an application context of its own, released together."""
    barrier = barrier or threading.Barrier(len(manager_ids))
    outcomes: list[Outcome | None] = [None] * len(manager_ids)

    def run(index: int, manager_id: int) -> None:
        with app.app_context():
            outcomes[index] = grab_when_released(barrier, need_id, manager_id)

    threads = [threading.Thread(target=run, args=(i, m), daemon=True)
               for i, m in enumerate(manager_ids)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + ROUND_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [outcome if outcome is not None
            else Outcome(manager_ids[i], "error", f"no answer within {ROUND_TIMEOUT}s (hung)")
            for i, outcome in enumerate(outcomes)]


# --- checking a round ------------------------------------------------------------------------


def check_round(label: str, need_id: int, outcomes: list[Outcome], logged: list[str],
                cap: int, grabbers: int = GRABBERS) -> list[str]:
    """The round's problems (empty when it went right): from the callers' side and the DB's."""
    problems = []
    won = [o for o in outcomes if o.kind == "won"]
    lost = [o for o in outcomes if o.kind == "conflict"]
    errors = [o for o in outcomes if o.kind == "error"]
    if len(outcomes) != grabbers:
        problems.append(f"{len(outcomes)} answers from {grabbers} grabbers")
    if len(won) != cap or len(lost) != grabbers - cap or errors:
        problems.append(f"{len(won)} won, {len(lost)} Conflict, {len(errors)} other errors "
                        f"(want {cap}, {grabbers - cap}, 0)")
    for outcome in errors[:2]:
        problems.append(f"manager {outcome.manager_id} raised:\n{outcome.detail}")
    odd = {o.detail for o in lost} - {full_message(cap)}
    if odd:
        problems.append(f"unexpected Conflict messages: {sorted(odd)}")
    if sorted(o.slot for o in won) != list(range(1, len(won) + 1)):
        problems.append(f"winners' slots {sorted(o.slot for o in won)}")
    if logged:
        problems.append("errors logged:\n" + "\n".join(logged[:3]))

    db.session.rollback()  # a fresh look at what the grabbers committed
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)).all()
    slots = sorted(c.slot for c in claims)
    banks = [c.bank_id for c in claims]
    if slots != list(range(1, cap + 1)) or len(set(banks)) != len(banks):
        problems.append(f"in the database: slots {slots}, banks {banks}")
    if {c.id for c in claims} != {o.claim_id for o in won}:
        problems.append(f"claims in the database {sorted(c.id for c in claims)} are not the "
                        f"winners' {sorted(o.claim_id for o in won)}")
    status = db.session.scalar(sa.select(Need.status).where(Need.id == need_id))
    if status != "claimed":
        problems.append(f"need status {status!r}")
    db.session.rollback()
    return [f"{label}: {problem}" for problem in problems]


def assert_all_rounds_passed(label: str, rounds: int, failures: dict[int, list[str]]) -> None:
    if failures:
        first = [line for n in sorted(failures)[:MAX_REPORTED] for line in failures[n]]
        pytest.fail(f"{label}: {len(failures)} of {rounds} rounds failed "
                    f"(rounds {sorted(failures)[:20]}):\n" + "\n".join(first), pytrace=False)


# --- threads ---------------------------------------------------------------------------------


def test_50_threads_race_for_3_slots(app, make, bankers, db_backend):
    rounds = ROUNDS[db_backend]
    cap = app.config["CLAIM_CAP"]
    need_ids = open_needs(make, bankers.owner, rounds)
    failures: dict[int, list[str]] = {}
    for n, need_id in enumerate(need_ids, 1):
        label = f"{db_backend} threads round {n}/{rounds} (need {need_id})"
        with errors_logged() as logged:
            outcomes = race_in_threads(app, need_id, bankers.manager_ids)
        problems = check_round(label, need_id, outcomes, logged, cap)
        if problems:
            failures[n] = problems
            if any("hung" in o.detail or "BrokenBarrier" in o.detail for o in outcomes):
                break  # a hung round: the next ones would only repeat it
    assert_all_rounds_passed(f"{db_backend} threads", rounds, failures)


# --- processes -------------------------------------------------------------------------------


def process_main(config: dict, manager_ids: list[int], barrier, commands, answers) -> None:
    """A pool member: its own app on the same database; per command (round, need_id) its
    THREADS_PER_PROCESS managers race (with the other processes' threads, on the one barrier);
    the answer is (round, outcomes, errors logged)."""
    app = create_app(config)
    while True:
        command = commands.get()
        if command is None:
            break
        round_no, need_id = command
        with errors_logged() as logged:
            outcomes = race_in_threads(app, need_id, manager_ids, barrier)
        answers.put((round_no, outcomes, list(logged)))
    with app.app_context():
        db.engine.dispose()


class GrabberPool:
    """PROCESSES processes × THREADS_PER_PROCESS threads, started once, raced round by round."""

    def __init__(self, config: dict, manager_ids: list[int]):
        # forkserver: each member is forked from a clean server process that preloaded the app's
        # modules — quick to start, and no member inherits this process's threads or DB sockets.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        self.barrier = ctx.Barrier(len(manager_ids), timeout=BARRIER_TIMEOUT)
        self.answers = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(PROCESSES)]
        self.processes = []
        per = len(manager_ids) // PROCESSES
        for i, commands in enumerate(self.commands):
            process = ctx.Process(
                target=process_main, daemon=True, name=f"grabber-{i}",
                args=(config, manager_ids[i * per:(i + 1) * per], self.barrier, commands,
                      self.answers))
            process.start()
            self.processes.append(process)

    def race(self, label: str, round_no: int, need_id: int) -> tuple[list[Outcome], list[str]]:
        for commands in self.commands:
            commands.put((round_no, need_id))
        outcomes: list[Outcome] = []
        logged: list[str] = []
        deadline = time.monotonic() + ROUND_TIMEOUT
        for _ in self.processes:
            while True:
                try:
                    answer_round, answer, errors = self.answers.get(timeout=1)
                    break
                except queue.Empty:
                    dead = [f"{p.name} (exit {p.exitcode})" for p in self.processes
                            if not p.is_alive()]
                    if dead or time.monotonic() > deadline:
                        self.barrier.abort()  # release the members still waiting
                        raise AssertionError(
                            f"{label}: a grabber process died or hung "
                            f"(dead: {dead or 'none'}; timeout {ROUND_TIMEOUT}s)") from None
            assert answer_round == round_no, f"{label}: an answer for round {answer_round}"
            outcomes.extend(answer)
            logged.extend(errors)
        return outcomes, logged

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=30)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
        for process in self.processes:
            process.close()


def test_50_grabbers_in_10_processes_race_for_3_slots(app, make, bankers, app_config,
                                                     db_backend):
    rounds = ROUNDS[db_backend]
    cap = app.config["CLAIM_CAP"]
    need_ids = open_needs(make, bankers.owner, rounds)
    db.session.remove()
    child_config = app_config | {
        "MANAGER_DAILY_GRAB_LIMIT": app.config["MANAGER_DAILY_GRAB_LIMIT"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": THREADS_PER_PROCESS,
                                      "max_overflow": 2, "pool_timeout": ROUND_TIMEOUT},
    }
    pool = GrabberPool(child_config, bankers.manager_ids)
    failures: dict[int, list[str]] = {}
    try:
        for n, need_id in enumerate(need_ids, 1):
            label = f"{db_backend} processes round {n}/{rounds} (need {need_id})"
            outcomes, logged = pool.race(label, n, need_id)
            problems = check_round(label, need_id, outcomes, logged, cap)
            if problems:
                failures[n] = problems
                if pool.barrier.broken:
                    break  # every later round would fail at the barrier
    finally:
        pool.close()
    assert_all_rounds_passed(f"{db_backend} processes", rounds, failures)


# --- one bank, many tries --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["same_manager", "same_bank"])
def test_one_bank_grabbing_in_10_threads_is_seated_once(app, make, who):
    """10 simultaneous grabs for one bank (one manager 10 times, or 10 managers of the bank)
    seat it once; the rest hear the bank already grabbed — and 2 other banks still fit."""
    _enterprise, owner = make.enterprise()
    office = make.office().user
    bank = make.bank(region_codes=["330500"], actor=office)
    make.product(bank, make.bank_user(bank, role="bank_admin", actor=office))
    if who == "same_manager":
        manager_ids = [make.bank_user(bank, actor=office).user.id] * 10
    else:
        manager_ids = [make.bank_user(bank, actor=office).user.id for _ in range(10)]
    need_id = make.need(owner).id
    db.session.commit()
    with errors_logged() as logged:
        outcomes = race_in_threads(app, need_id, manager_ids)
    won = [o for o in outcomes if o.kind == "won"]
    assert len(won) == 1, outcomes
    assert {(o.kind, o.detail) for o in outcomes if o.kind != "won"} == {
        ("conflict", "贵行已抢过该需求，不能重复抢单")}, outcomes
    assert not logged
    db.session.rollback()
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)).all()
    assert [(c.bank_id, c.slot, c.id) for c in claims] == [(bank.id, 1, won[0].claim_id)]


# --- HTTP ------------------------------------------------------------------------------------


def test_50_clients_race_through_the_api(app, client, make, bankers, live_server, db_backend):
    """The same race through the real endpoint on a threaded server: 201 ×3, 409 ×47, no 5xx."""
    rounds = HTTP_ROUNDS[db_backend]
    cap = app.config["CLAIM_CAP"]
    headers = [api_token(client, account) for account in bankers.accounts]
    need_ids = open_needs(make, bankers.owner, rounds)
    failures: dict[int, list[str]] = {}

    server = urlsplit(live_server)

    def post(need_id: int, auth: dict, barrier) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(server.hostname, server.port,
                                                timeout=ROUND_TIMEOUT)
        try:
            connection.connect()  # connected before the start: the race is the request
            barrier.wait(timeout=BARRIER_TIMEOUT)
            connection.request("POST", f"/api/v1/needs/{need_id}/claims", body=b"{}",
                               headers={"Content-Type": "application/json", **auth})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, {"body": body.decode(errors="replace")[:2000]}

    with ThreadPoolExecutor(GRABBERS) as executor:
        for n, need_id in enumerate(need_ids, 1):
            barrier = threading.Barrier(GRABBERS)
            with errors_logged() as logged:
                futures = [executor.submit(post, need_id, auth, barrier) for auth in headers]
                answers = [f.result(timeout=ROUND_TIMEOUT) for f in futures]
            outcomes = []
            for manager_id, (status, body) in zip(bankers.manager_ids, answers, strict=True):
                if status == 201:
                    outcomes.append(Outcome(manager_id, "won", slot=body["slot"],
                                            bank_id=body["bank_id"], claim_id=body["id"]))
                elif status == 409:
                    outcomes.append(Outcome(manager_id, "conflict", body["error"]))
                else:
                    outcomes.append(Outcome(manager_id, "error", f"HTTP {status}: {body}"))
            label = f"{db_backend} HTTP round {n}/{rounds} (need {need_id})"
            problems = check_round(label, need_id, outcomes, logged, cap)
            if problems:
                failures[n] = problems
    assert_all_rounds_passed(f"{db_backend} HTTP", rounds, failures)


# --- a change queued behind another on the need's lock ------------------------------------------


@contextmanager
def need_row_locked(need_id: int):
    """A transaction of another connection holding the need's row lock (as a grab or a
    withdrawal holds it until its commit): yields the connection, commits on leaving."""
    with db.engine.connect() as conn:
        conn.execute(sa.select(Need.id).where(Need.id == need_id).with_for_update())
        yield conn
        conn.commit()


def wait_until_queued_for_a_lock(timeout: float = 30) -> None:
    """Returns once some other backend of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"))
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail(f"nothing queued for the need's lock within {timeout} s")


def in_thread(app, call):
    """Runs `call()` in an application context of a new thread; returns (thread, result list)."""
    result: list = []

    def run():
        with app.app_context():
            try:
                result.append(call())
            except BaseException as exc:  # reported by the test
                result.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def one_bank_and_a_need(make):
    """(the enterprise's account, a bank, its manager's account, its product's id, a need id)"""
    _enterprise, owner = make.enterprise()
    office = make.office().user
    bank = make.bank(region_codes=["330500"], actor=office)
    product = make.product(bank, make.bank_user(bank, role="bank_admin", actor=office))
    manager = make.bank_user(bank, actor=office)
    need_id = make.need(owner).id
    db.session.commit()
    return owner, bank, manager, product.id, need_id


@pytest.mark.postgresql_only  # row locks: SQLite serialises writers on the file
def test_a_grab_queued_for_the_lock_sees_the_need_as_the_holder_left_it(app, make):
    """The enterprise withdraws its need while a bank's grab waits for the need's lock: the grab
    decides on the need as it is once it holds the lock, not as it read it before (the lock's
    re-read was never consumed, and a withdrawn need got a claim)."""
    _owner, _bank, manager, _product_id, need_id = one_bank_and_a_need(make)

    def grab():
        return services.grab(need_id, db.session.get(User, manager.user.id))

    with need_row_locked(need_id) as holder:
        thread, result = in_thread(app, grab)
        wait_until_queued_for_a_lock()
        holder.execute(sa.update(Need).where(Need.id == need_id).values(status="withdrawn"))
    thread.join(ROUND_TIMEOUT)
    assert len(result) == 1 and isinstance(result[0], Conflict), result
    assert result[0].message == "该需求当前为「已撤回」，不能抢单"
    db.session.rollback()
    assert db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)).all() == []


def grab_as_the_holder(holder, need_id: int, bank, manager, product_id: int) -> None:
    """What a grab writes before its commit, in the lock holder's transaction."""
    from matchmaker.database import utcnow

    holder.execute(sa.insert(Claim.__table__).values(
        need_id=need_id, bank_id=bank.id, manager_id=manager.user.id, product_id=product_id,
        slot=1, status="claimed", assigned_by_office=False, claimed_at=utcnow()))
    holder.execute(sa.update(Need).where(Need.id == need_id).values(status="claimed"))


@pytest.mark.postgresql_only
def test_an_edit_queued_behind_a_grab_is_refused(app, make):
    """A bank grabs while the enterprise's edit of the open need waits for the need's lock: the
    edit is refused (it checked the status before, and the grabbed need's terms changed)."""
    from matchmaker.needs.services import update_need

    owner, bank, manager, product_id, need_id = one_bank_and_a_need(make)
    title = db.session.get(Need, need_id).title

    def edit():
        user = db.session.get(User, owner.user.id)
        return update_need(db.session.get(Need, need_id), {"title": "改过的标题"}, user).title

    with need_row_locked(need_id) as holder:
        thread, result = in_thread(app, edit)
        wait_until_queued_for_a_lock()
        grab_as_the_holder(holder, need_id, bank, manager, product_id)
    thread.join(ROUND_TIMEOUT)
    assert len(result) == 1 and isinstance(result[0], Conflict), result
    assert result[0].message == "已有银行抢单或需求已结束，不能再修改"
    db.session.rollback()
    assert db.session.get(Need, need_id).title == title


@pytest.mark.postgresql_only
def test_a_withdrawal_queued_behind_a_grab_cancels_the_claim_it_made(app, make):
    """A bank's grab commits while the enterprise's withdrawal waits for the need's lock: the
    withdrawal cancels that claim too, never leaving it live on a withdrawn need."""
    from matchmaker.needs.services import withdraw_need

    owner, bank, manager, product_id, need_id = one_bank_and_a_need(make)

    def withdraw():
        user = db.session.get(User, owner.user.id)
        return withdraw_need(db.session.get(Need, need_id), "项目取消", user).status

    with need_row_locked(need_id) as holder:
        thread, result = in_thread(app, withdraw)
        wait_until_queued_for_a_lock()
        grab_as_the_holder(holder, need_id, bank, manager, product_id)
    thread.join(ROUND_TIMEOUT)
    assert result == ["withdrawn"], result
    db.session.rollback()
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)).all()
    assert [(c.bank_id, c.status) for c in claims] == [(bank.id, "cancelled")]
