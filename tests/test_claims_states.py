"""The one state machine of needs and claims.

First the transition tables themselves (pure: closed states have no exits, every state is
reachable, the side exits exist, a claim's moves always have the matching need move). Then a
stateful test that drives the real services on one need with four banks — grab, pick, cancel the
pick, record progress (valid and invalid), 派单, withdraw, the sweep — and after every step checks
the invariants of DESIGN section 3, that a refused action changed nothing and that every change
left an audit row.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

import matchmaker.models  # noqa: F401  (every mapper, for models built without an app)
from matchmaker.audit.models import AuditLog
from matchmaker.claims import services, states
from matchmaker.claims.models import Claim
from matchmaker.database import utcnow
from matchmaker.enums import DECLINE_REASONS, NEED_CLOSED
from matchmaker.errors import Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import WITHDRAWABLE_STATUSES, local_today, withdraw_need

FINAL_CLAIM = frozenset(s for s, nxt in states.CLAIM_TRANSITIONS.items() if not nxt)


def reachable(table: dict[str, frozenset[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --- the tables ----------------------------------------------------------------------------------


def test_closed_and_final_states_have_no_exits():
    assert set(NEED_CLOSED) == states.CLOSED_NEED
    assert {"disbursed", "declined", "lapsed", "cancelled"} == FINAL_CLAIM
    assert set(states.CLAIM_TRANSITIONS) - FINAL_CLAIM == states.LIVE_CLAIM
    for table in (states.CLAIM_TRANSITIONS, states.NEED_TRANSITIONS):
        for status, exits in table.items():
            assert status not in exits, f"{status} moves to itself"
            assert exits <= set(table), f"{status} moves to an unknown status"


def test_every_state_is_reachable_and_every_live_state_can_end():
    assert reachable(states.NEED_TRANSITIONS, "draft") == set(states.NEED_TRANSITIONS)
    assert reachable(states.CLAIM_TRANSITIONS, "claimed") == set(states.CLAIM_TRANSITIONS)
    for status in set(states.NEED_TRANSITIONS) - states.CLOSED_NEED:
        assert reachable(states.NEED_TRANSITIONS, status) & states.CLOSED_NEED, status
        # A need that is still live can always reach a loan.
        assert "disbursed" in reachable(states.NEED_TRANSITIONS, status), status
    for status in states.LIVE_CLAIM:
        assert reachable(states.CLAIM_TRANSITIONS, status) & FINAL_CLAIM, status


def test_side_exits():
    needs, claims = states.NEED_TRANSITIONS, states.CLAIM_TRANSITIONS
    # Withdrawn before credit is approved, never after.
    for status in ("draft", "open", "claimed", "escalated", "assigned", "selected", "contacted"):
        assert "withdrawn" in needs[status], status
    assert "withdrawn" not in needs["credit_approved"]
    assert set(WITHDRAWABLE_STATUSES) == {s for s in needs if "withdrawn" in needs[s]}
    # A picked bank that drops out (lapse, cancelled pick, decline) reopens the choice.
    for status in states.PICKED_CLAIM:
        assert {"claimed", "escalated", "declined"} <= needs[status], status
    # Escalation, 派单, then the enterprise picks the assigned bank.
    assert "escalated" in needs["open"] and "assigned" in needs["escalated"]
    assert "selected" in needs["assigned"]
    # Needs waiting for a bank expire; needs being worked on do not.
    for status in ("open", "claimed", "escalated", "assigned"):
        assert "expired" in needs[status]
    for status in states.PICKED_CLAIM:
        assert "expired" not in needs[status]
    assert set(services.EXPIRING) == {s for s in needs if "expired" in needs[s]}
    # Only a pick lapses; a not-picked claim is back in the running when the pick ends.
    assert {s for s in claims if "lapsed" in claims[s]} == {"selected"}
    assert "claimed" in claims["not_selected"]


def test_the_named_sets_agree_with_the_tables():
    needs, claims = states.NEED_TRANSITIONS, states.CLAIM_TRANSITIONS
    assert states.PICKED_CLAIM <= states.LIVE_CLAIM and states.PICKABLE_CLAIM <= states.LIVE_CLAIM
    assert not states.PICKED_CLAIM & states.PICKABLE_CLAIM
    for status in states.PICKABLE_CLAIM:
        assert "selected" in claims[status] or "claimed" in claims[status]
    assert not (states.GRABBABLE_NEED | states.PICKING_NEED | states.ASSIGNABLE_NEED) \
        & states.CLOSED_NEED
    for status in states.GRABBABLE_NEED:
        assert status == "claimed" or "claimed" in needs[status]
    for status in states.ASSIGNABLE_NEED:
        assert "assigned" in needs[status]
    for status in states.PICKING_NEED:
        assert "selected" in needs[status]


def test_claim_moves_have_matching_need_moves():
    """Recording progress moves the picked claim and the need to the same status; a need that
    ends takes its claims along (cancelled), except after credit where it cannot end so."""
    needs, claims = states.NEED_TRANSITIONS, states.CLAIM_TRANSITIONS
    for status in states.PICKED_CLAIM:
        assert status in needs
        for event in set(states.EVENT_TYPES) & claims[status]:
            assert event in needs[status], (status, event)
    for event in states.EVENT_TYPES:
        assert any(event in claims[s] for s in states.PICKED_CLAIM), event
    for status in states.PICKED_CLAIM:
        if "withdrawn" in needs[status]:
            assert "cancelled" in claims[status], status
    for status in states.PICKABLE_CLAIM:
        assert "cancelled" in claims[status]


@st.composite
def walks(draw, table, start):
    """A random sequence of (status, target) moves, legal and illegal, from `start`."""
    everything = sorted(table)
    status, steps = start, []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        exits = sorted(table[status])
        legal = bool(exits) and draw(st.booleans())
        target = draw(st.sampled_from(exits if legal else everything))
        steps.append((status, target))
        if target in table[status]:
            status = target
    return steps


@given(st.data())
def test_move_follows_the_tables(data):
    for model, table, start in ((Need, states.NEED_TRANSITIONS, "draft"),
                                (Claim, states.CLAIM_TRANSITIONS, "claimed")):
        obj = model(status=start)
        for status, target in data.draw(walks(table, start)):
            assert obj.status == status
            if target in table[status]:
                assert states.move(obj, target) == status
                assert obj.status == target
            else:
                with pytest.raises(Conflict):
                    states.move(obj, target)
                assert obj.status == status


# --- the services, driven at random --------------------------------------------------------------

BANKS = 4  # one more than CLAIM_CAP, so the fourth grab is refused
STEPS = 30
AMOUNTS = [None, "0", "-5", "abc", "1", "50", "150.00", "150.50", "150.51", "9999"]
RATES = [None, "0", "3.85", "36", "36.01"]
REASONS = [*["换一家银行"] * 3, "", None]
EVENTS = [*states.EVENT_TYPES, "bogus"]
NEXT = {"selected": "contacted", "contacted": "credit_approved", "credit_approved": "disbursed"}


@pytest.fixture
def world(app, make):
    """An enterprise, four banks (a product, a manager, an admin each), the office."""
    app.config["MANAGER_DAILY_GRAB_LIMIT"] = 10**6  # many needs a day in this test
    _enterprise, owner = make.enterprise()
    managers, admins = [], []
    for _ in range(BANKS):
        bank = make.bank(region_codes=["330500"])
        admin = make.bank_user(bank, role="bank_admin")
        make.product(bank, admin)
        managers.append(make.bank_user(bank).user)
        admins.append(admin.user)
    return {"owner": owner, "managers": managers, "admins": admins,
            "office": make.office().user, "cap": app.config["CLAIM_CAP"]}


def snapshot(need_id: int) -> dict:
    """Everything a workflow action may change, read fresh from the database."""
    db.session.expire_all()
    need = db.session.get(Need, need_id)
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)
                                .order_by(Claim.id)).all()
    columns = [c.key for c in Claim.__table__.columns]
    return {
        "need": {c.key: getattr(need, c.key) for c in Need.__table__.columns
                 if c.key != "updated_at"},
        "claims": {claim.id: {key: getattr(claim, key) for key in columns} for claim in claims},
        "audit": db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.object_type == "need", AuditLog.object_id == str(need_id))),
    }


def valid_amount(raw, maximum) -> bool:
    try:
        value = Decimal(raw)
    except Exception:
        return False
    return maximum is not None and Decimal(0) < value <= maximum


ACTIONS: dict[str, tuple[int, dict]] = {}


def action(weight: int, **strategies):
    """A workflow action, drawn `weight` times as often as a weight-1 action, with its arguments
    drawn from `strategies` (hypothesis picks rules uniformly; most steps should be the ones that
    move a need along)."""

    def register(method):
        ACTIONS[method.__name__] = (weight, strategies)
        return method

    return register


class Workflow(RuleBasedStateMachine):
    """One need, the four banks, the enterprise and the office, acting in any order."""

    world: ClassVar[dict] = {}
    sweep_failures: ClassVar[list] = []

    @initialize(with_deadline=st.booleans())
    def publish(self, with_deadline):
        from matchmaker.needs.services import create_need
        from tests.factories import NEED

        data = dict(NEED)
        if with_deadline:
            data["deadline"] = (local_today() + timedelta(days=30)).isoformat()
        self.need_id = create_need(self.world["owner"].user, data).id
        self.final: dict[int, str] = {}
        self.last = snapshot(self.need_id)

    # -- helpers --

    @property
    def need(self) -> Need:
        return db.session.get(Need, self.need_id)

    def claim_of(self, bank: int) -> Claim | None:
        bank_id = self.world["managers"][bank].bank_id
        return db.session.scalars(sa.select(Claim).where(
            Claim.need_id == self.need_id, Claim.bank_id == bank_id)).one_or_none()

    def attempt(self, expected: bool | None, action, *args):
        """Run a service. `expected` True: it must succeed; False: it must be refused with a
        ServiceError; None: either. Any other exception fails the test."""
        before = snapshot(self.need_id)
        try:
            result = action(*args)
        except ServiceError as exc:
            db.session.rollback()  # what the end of the request does
            assert expected is not True, f"refused unexpectedly: {exc.message} {exc.errors}"
            assert snapshot(self.need_id) == before, "a refused action changed something"
            return None
        assert expected is not False, f"{action.__name__}{args[1:]} should have been refused"
        return result

    # -- rules --

    @action(3, bank=st.sampled_from([*["new"] * 4, *range(BANKS)]))
    def grab(self, bank):
        """Mostly a bank that has not grabbed yet; sometimes any."""
        if bank == "new":
            bank = next((i for i in range(BANKS) if self.claim_of(i) is None), 0)
        need, cap = self.need, self.world["cap"]
        claims = list(need.claims)
        grabs = [c for c in claims if not c.assigned_by_office]
        expected: bool | None
        if need.status not in states.GRABBABLE_NEED or self.claim_of(bank) is not None \
                or len(grabs) >= cap:
            expected = False
        elif len(claims) < cap:
            expected = True
        else:
            expected = None  # an office-assigned claim holds one of the numbered slots
        self.attempt(expected, services.grab, self.need_id, self.world["managers"][bank])

    @action(3, bank=st.sampled_from([*["pickable"] * 6, *range(BANKS)]),
            nth=st.integers(0, BANKS - 1))
    def select(self, bank, nth):
        """Mostly one of the claims that may be picked; sometimes any bank's."""
        need = self.need
        if bank == "pickable":
            pickable = sorted((c for c in need.claims if c.status in states.PICKABLE_CLAIM),
                              key=lambda c: c.id)
            claims = pickable or sorted(need.claims, key=lambda c: c.id)
            claim = claims[nth % len(claims)] if claims else None
        else:
            claim = self.claim_of(bank)
        expected = claim is not None and need.status in states.PICKING_NEED \
            and claim.status in states.PICKABLE_CLAIM
        claim_id = claim.id if claim is not None else 10**9
        self.attempt(expected, services.select_claim, need, claim_id, self.world["owner"].user)

    @action(1, reason=st.sampled_from(REASONS))
    def cancel_selection(self, reason):
        need = self.need
        picked = services.picked_claim(need)
        expected = bool(reason) and picked is not None and picked.status in ("selected",
                                                                             "contacted")
        self.attempt(expected, services.cancel_selection, need, reason, self.world["owner"].user)

    @action(8, target_bank=st.sampled_from([*["picked"] * 6, *range(BANKS)]),
          kind=st.sampled_from([*["next"] * 6, "declined", *EVENTS]),
          amount=st.sampled_from([*["ok"] * 6, *AMOUNTS]),
          rate=st.sampled_from([*["ok"] * 3, *RATES]),
          reason=st.sampled_from([*DECLINE_REASONS, "nonsense"]), as_admin=st.booleans())
    def record_event(self, target_bank, kind, amount, rate, reason, as_admin):
        """Mostly the picked bank recording its next step with good numbers; sometimes anything."""
        need = self.need
        if target_bank == "picked":
            claim = services.picked_claim(need)
            bank = next((i for i, m in enumerate(self.world["managers"])
                         if claim is not None and m.bank_id == claim.bank_id), 0)
        else:
            bank, claim = target_bank, self.claim_of(target_bank)
        if claim is None:
            return
        if kind == "next":
            kind = NEXT.get(claim.status, "contacted")
        if amount == "ok":
            amount = "100" if kind == "credit_approved" else str(claim.approved_amount_wan)
        if rate == "ok":
            rate = "3.85"
        data = {"type": kind, "amount_wan": amount, "rate": rate, "reason_code": reason}
        expected = need.status not in states.CLOSED_NEED \
            and claim.status in states.PICKED_CLAIM \
            and states.can_move(states.CLAIM_TRANSITIONS, claim.status, kind)
        if kind == "credit_approved":
            expected = expected and valid_amount(amount, need.amount_wan) \
                and valid_amount(rate, Decimal(36))
        elif kind == "disbursed":
            expected = expected and valid_amount(amount, claim.approved_amount_wan) \
                and (rate is None or valid_amount(rate, Decimal(36)))
        elif kind == "declined":
            expected = expected and reason in DECLINE_REASONS
        user = self.world["admins" if as_admin else "managers"][bank]
        self.attempt(expected, services.record_event, claim, user, data)

    @action(1, bank=st.integers(0, BANKS - 1))
    def progress_by_another_bank(self, bank):
        claim = self.claim_of(bank)
        if claim is not None:
            other = self.world["managers"][(bank + 1) % BANKS]
            self.attempt(False, services.record_event, claim, other, {"type": "contacted"})

    @action(1, reason=st.sampled_from(REASONS))
    def withdraw(self, reason):
        need = self.need
        expected = bool(reason) and need.status in WITHDRAWABLE_STATUSES
        self.attempt(expected, withdraw_need, need, reason, self.world["owner"].user)

    @action(1, bank=st.sampled_from(["new", *range(BANKS)]))
    def assign(self, bank):
        if bank == "new":
            bank = next((i for i in range(BANKS) if self.claim_of(i) is None), 0)
        need = self.need
        expected = need.status in states.ASSIGNABLE_NEED and self.claim_of(bank) is None
        bank_id = self.world["managers"][bank].bank_id
        self.attempt(expected, services.assign, need, bank_id, self.world["office"])

    @action(2, days=st.sampled_from([10, 10, 60]))
    def sweep(self, days):
        """Ten days on, every pick without contact has lapsed and an open need has escalated;
        sixty days on, a need with a deadline (30 days) that waits for a bank has expired."""
        before = self.need.status
        had_deadline = self.need.deadline is not None
        services.sweep(now=utcnow() + timedelta(days=days))
        db.session.expire_all()
        need = self.need
        assert not [c for c in need.claims if c.status == "selected"]
        assert need.status != "open"
        if days == 60 and had_deadline and before in services.EXPIRING:
            assert need.status == "expired"

    @action(1, bank=st.integers(0, BANKS - 1), stars=st.integers(0, 6))
    def rate(self, bank, stars):
        claim = self.claim_of(bank)
        if claim is None:
            return
        need = self.need
        expected = need.status in ("disbursed", "declined") \
            and claim.status in ("disbursed", "declined") and 1 <= stars <= 5 \
            and claim.rating is None
        self.attempt(expected, services.rate, claim, self.world["owner"].user, stars)

    @rule(data=st.data())
    def step(self, data):
        names = [name for name, (weight, _s) in ACTIONS.items() for _ in range(weight)]
        name = data.draw(st.sampled_from(names), label="action")
        strategies = ACTIONS[name][1]
        args = {key: data.draw(strategy, label=key) for key, strategy in strategies.items()}
        getattr(self, name)(**args)

    # -- invariants --

    @invariant()
    def consistent(self):
        now = snapshot(self.need_id)
        need, claims = now["need"], list(now["claims"].values())
        status, cap = need["status"], self.world["cap"]
        by_status = lambda *wanted: [c for c in claims if c["status"] in wanted]  # noqa: E731

        # The cap, one claim per bank, distinct slots.
        grabs = [c for c in claims if not c["assigned_by_office"]]
        assert len(grabs) <= cap
        assert all(1 <= c["slot"] <= cap for c in grabs)
        assert len({c["bank_id"] for c in claims}) == len(claims)
        assert len({c["slot"] for c in claims}) == len(claims)

        # At most one picked claim, and it matches the need.
        picked = by_status(*states.PICKED_CLAIM)
        assert len(picked) <= 1
        if status in states.PICKED_CLAIM:
            assert [c["status"] for c in picked] == [status]
            # The others were told they were not picked.
            assert not by_status("claimed")
        else:
            assert not picked, (status, picked)
        if status == "disbursed":
            assert len(by_status("disbursed")) == 1
        else:
            assert not by_status("disbursed")

        # Each waiting status has the claims it says.
        if status in ("draft", "open"):
            assert not claims
        if status in states.PICKING_NEED:
            assert by_status("claimed") and not by_status("not_selected")
        if status == "assigned":
            assert any(c["assigned_by_office"] for c in claims)
        if status == "escalated":
            assert not by_status(*states.PICKABLE_CLAIM)
            assert need["escalated_at"] is not None
        if status in states.CLOSED_NEED:
            assert need["closed_at"] is not None
            # Nobody is still in the running for a closed need.
            assert not by_status(*states.LIVE_CLAIM)
        else:
            assert need["closed_at"] is None
        assert (need["first_claimed_at"] is not None) == bool(claims)
        assert need["published_at"] is not None

        # Amounts within what was approved, approved within what was asked.
        for c in claims:
            if c["status"] in ("credit_approved", "disbursed") or c["credit_approved_at"]:
                assert c["approved_amount_wan"] is not None
                assert Decimal(0) < c["approved_amount_wan"] <= need["amount_wan"]
                assert Decimal(0) < c["approved_rate"] <= Decimal(36)
            if c["disbursed_amount_wan"] is not None:
                assert c["disbursed_amount_wan"] <= c["approved_amount_wan"]

        # The time of every status reached, and of the steps before it.
        required = {
            "selected": ["selected_at", "contact_due_at"],
            "contacted": ["selected_at", "contact_due_at", "contacted_at"],
            "credit_approved": ["selected_at", "contacted_at", "credit_approved_at"],
            "disbursed": ["selected_at", "contacted_at", "credit_approved_at", "disbursed_at"],
            "declined": ["selected_at", "declined_at", "decline_reason"],
            "lapsed": ["selected_at", "contact_due_at", "lapsed_at"],
            "cancelled": ["cancelled_at", "cancel_reason"],
        }
        for c in claims:
            assert c["claimed_at"] is not None
            for column in required.get(c["status"], []):
                assert c[column] is not None, (c["status"], column)
            if c["status"] in ("claimed", "not_selected"):
                assert c["contacted_at"] is None and c["credit_approved_at"] is None

        # Moves follow the tables; final claims never change again.
        previous = self.last
        if previous["need"]["status"] != status:
            assert status in reachable(states.NEED_TRANSITIONS, previous["need"]["status"])
        for claim_id, c in now["claims"].items():
            old = previous["claims"].get(claim_id)
            if old is None:
                assert c["status"] == "claimed"
                continue
            if claim_id in self.final:
                assert c == old, f"final claim {claim_id} ({self.final[claim_id]}) changed"
            elif c["status"] != old["status"]:
                assert c["status"] in states.CLAIM_TRANSITIONS[old["status"]], (old, c)
            if c["status"] in FINAL_CLAIM:
                self.final.setdefault(claim_id, c["status"])
        assert set(previous["claims"]) <= set(now["claims"])

        # Every change of status is audited against the need.
        changed = previous["need"]["status"] != status or any(
            previous["claims"].get(i, {}).get("status") != c["status"]
            for i, c in now["claims"].items())
        if changed:
            assert now["audit"] > previous["audit"], "a status change left no audit row"
        assert not self.sweep_failures, self.sweep_failures
        self.last = now


def test_the_workflow_keeps_its_invariants(app, world, db_backend, monkeypatch):
    """Random sequences of every workflow action on a fresh need each time. PostgreSQL (row
    locks, its own types) gets fewer examples: each step costs several round trips there."""
    failures: list[str] = []
    monkeypatch.setattr(services.log, "exception",
                        lambda msg, *args: failures.append(msg % args))
    Workflow.world, Workflow.sweep_failures = world, failures
    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=60 if db_backend == "sqlite" else 12, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


# --- found by the stateful test ------------------------------------------------------------------


def grab_all(world, need, banks) -> list[Claim]:
    return [services.grab(need.id, world["managers"][i]) for i in banks]


def status_of(need) -> str:
    db.session.expire_all()
    return db.session.get(Need, need.id).status


def test_an_assignment_after_three_grabs_is_outside_the_cap(make, world):
    need = make.need(world["owner"])
    grab_all(world, need, [0, 1, 2])
    assigned = services.assign(need, world["managers"][3].bank_id, world["office"])
    assert assigned.slot == 4 and status_of(need) == "assigned"


def test_an_assignment_before_any_grab_does_not_use_up_a_grab(make, world):
    need = make.need(world["owner"])
    assigned = services.assign(need, world["managers"][0].bank_id, world["office"])
    assert assigned.slot == 4  # above the grab slots 1…CAP
    services.select_claim(db.session.get(Need, need.id), assigned.id, world["owner"].user)
    assert services.sweep(now=utcnow() + timedelta(days=10))["lapsed"] == 1
    assert status_of(need) == "escalated"
    grab_all(world, need, [1, 2])
    third = services.grab(need.id, world["managers"][3])  # the third grabbing bank
    assert third.slot == 3


@pytest.mark.parametrize("ending", ["disbursed", "enterprise_gave_up"])
def test_no_claim_stays_live_once_the_need_closes(make, world, ending):
    need = make.need(world["owner"])
    first, second = grab_all(world, need, [0, 1])
    services.select_claim(db.session.get(Need, need.id), first.id, world["owner"].user)
    manager = world["managers"][0]
    services.record_event(first, manager, {"type": "contacted"})
    if ending == "disbursed":
        services.record_event(first, manager, {"type": "credit_approved", "amount_wan": "100",
                                               "rate": "3.85"})
        services.record_event(first, manager, {"type": "disbursed", "amount_wan": "100"})
    else:
        services.record_event(first, manager, {"type": "declined",
                                               "reason_code": "enterprise_gave_up"})
    assert status_of(need) in states.CLOSED_NEED
    assert db.session.get(Claim, second.id).status not in states.LIVE_CLAIM
