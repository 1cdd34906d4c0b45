"""The sweep (DESIGN section 3), driven with explicit `now` arguments, never by sleeping: a pick
without contact lapses after 5 working days, a need nobody grabs escalates after 3, a need past
its own deadline expires, reminders go out once one working day before each deadline, a second
run changes nothing, and every change is audited against the need."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.claims import services
from matchmaker.claims.calendar import calendar
from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
NOTHING = {"lapsed": 0, "escalated": 0, "expired": 0, "contact_reminders": 0,
           "escalation_reminders": 0}


def shanghai(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def people(make):
    """An enterprise, three banks (a product and a manager each), the office."""
    _enterprise, owner = make.enterprise()
    managers = []
    for _ in range(3):
        bank = make.bank(region_codes=["330500"])
        make.product(bank, make.bank_user(bank, role="bank_admin"))
        managers.append(make.bank_user(bank))
    return {"owner": owner, "managers": managers, "office": make.office()}


def fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def sweep(now: datetime) -> dict[str, int]:
    result = services.sweep(now=now)
    db.session.expire_all()
    return result


def only(**counts) -> dict[str, int]:
    return NOTHING | counts


def set_columns(obj, **values) -> None:
    """Write columns straight to the database (times the services would only set to now)."""
    table = type(obj).__table__
    db.session.execute(sa.update(table).where(table.c.id == obj.id).values(**values))
    db.session.commit()
    db.session.expire_all()


def audit_actions(need: Need) -> list[str]:
    return list(db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.object_type == "need",
                                         AuditLog.object_id == str(need.id))
        .order_by(AuditLog.id)))


def topics(topic: str, object_id) -> int:
    return db.session.scalar(sa.select(sa.func.count(OutboxEvent.id)).where(
        OutboxEvent.topic == topic, OutboxEvent.object_id == str(object_id)))


def grabbed(people, need: Need, *banks: int) -> list[Claim]:
    return [services.grab(need.id, people["managers"][i].user) for i in banks]


def picked(people, need: Need, claim: Claim) -> Claim:
    return services.select_claim(fresh(need), claim.id, people["owner"].user)


# --- lapses --------------------------------------------------------------------------------------


def test_a_pick_without_contact_lapses_on_its_deadline_and_the_others_are_back(make, people):
    need = make.need(people["owner"])
    first, second, third = grabbed(people, need, 0, 1, 2)
    chosen = picked(people, need, first)
    due = chosen.contact_due_at
    assert due == calendar().add_working_days(chosen.selected_at, 5)
    assert fresh(second).status == fresh(third).status == "not_selected"

    assert sweep(due - SECOND)["lapsed"] == 0
    assert fresh(chosen).status == "selected"
    assert sweep(due)["lapsed"] == 1

    chosen = fresh(chosen)
    assert chosen.status == "lapsed" and chosen.lapsed_at == due
    assert fresh(second).status == fresh(third).status == "claimed"
    need = fresh(need)
    assert need.status == "claimed" and need.escalated_at is None
    assert audit_actions(need)[-1] == "claim.lapsed"
    log = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "claim.lapsed",
                                                       AuditLog.object_id == str(need.id))).one()
    assert log.actor_id is None and log.object_type == "need"
    assert log.before == {"status": "selected"}
    assert log.after["status"] == "claimed" and log.after["claim_id"] == chosen.id
    assert topics("claim.lapsed", chosen.id) == 1

    # The enterprise picks another bank; the lapsed one cannot be picked again.
    again = picked(people, need, second)
    assert again.status == "selected" and fresh(third).status == "not_selected"
    with pytest.raises(services.ServiceError):
        services.select_claim(fresh(need), chosen.id, people["owner"].user)


def test_a_lapse_with_no_other_bank_escalates(make, people):
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    now = claim.contact_due_at + timedelta(hours=2)
    assert sweep(now) == only(lapsed=1)
    need = fresh(need)
    assert need.status == "escalated" and need.escalated_at == now
    assert fresh(claim).status == "lapsed"
    assert need.id in [n.id for n in services_office_queue()["escalated"]]


def services_office_queue():
    from matchmaker.claims.queries import office_queue

    return office_queue()


def test_contact_recorded_in_time_never_lapses(make, people):
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    services.record_event(claim, people["managers"][0].user, {"type": "contacted"})
    assert sweep(claim.contact_due_at + timedelta(days=365)) == NOTHING
    assert fresh(claim).status == "contacted" and fresh(need).status == "contacted"


def test_a_pick_cancelled_and_made_again_gets_a_new_deadline(make, people):
    need = make.need(people["owner"])
    first, second = grabbed(people, need, 0, 1)
    first = picked(people, need, first)
    services.cancel_selection(fresh(need), "换一家", people["owner"].user)
    # The cancelled pick is final: the sweep leaves it alone.
    assert sweep(first.contact_due_at + SECOND) == NOTHING
    assert fresh(first).status == "cancelled" and fresh(need).status == "claimed"
    again = picked(people, need, second)
    assert again.contact_due_at >= first.contact_due_at
    assert sweep(again.contact_due_at) == only(lapsed=1)
    assert fresh(need).status == "escalated"


# --- escalation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("published", "due"), [
    # Friday 10:00: the weekend does not count, so the third working day is Wednesday.
    (shanghai(2026, 6, 5, 10, 0), shanghai(2026, 6, 10, 10, 0)),
    # Monday 10:00: Thursday.
    (shanghai(2026, 6, 1, 10, 0), shanghai(2026, 6, 4, 10, 0)),
    # Saturday 10:00 counts from the weekend: Wednesday.
    (shanghai(2026, 6, 6, 10, 0), shanghai(2026, 6, 10, 10, 0)),
])
def test_an_open_need_nobody_grabs_escalates_after_three_working_days(make, people, published,
                                                                      due):
    need = make.need(people["owner"])
    set_columns(need, published_at=published)
    assert sweep(due - SECOND)["escalated"] == 0
    assert fresh(need).status == "open"
    assert sweep(due)["escalated"] == 1
    need = fresh(need)
    assert need.status == "escalated" and need.escalated_at == due
    assert audit_actions(need)[-1] == "need.escalated"
    assert topics("need.escalated", need.id) == 1
    assert sweep(due + timedelta(days=30)) == NOTHING


def test_escalation_skips_holidays_and_counts_make_up_days(app, make, people):
    need = make.need(people["owner"])
    # Wednesday 2026-06-17; Friday 06-19 is the Dragon Boat holiday.
    set_columns(need, published_at=shanghai(2026, 6, 17, 9, 0))
    app.config["HOLIDAYS"] = (date(2026, 6, 19),)
    assert sweep(shanghai(2026, 6, 22, 9, 0) + timedelta(hours=23))["escalated"] == 0
    app.config["WORKING_WEEKENDS"] = (date(2026, 6, 20),)  # Saturday made a working day
    assert sweep(shanghai(2026, 6, 22, 8, 59))["escalated"] == 0
    assert sweep(shanghai(2026, 6, 22, 9, 0))["escalated"] == 1


def test_holiday_moves_the_escalation_by_one_working_day(app, make, people):
    need = make.need(people["owner"])
    set_columns(need, published_at=shanghai(2026, 6, 17, 9, 0))
    app.config["HOLIDAYS"] = (date(2026, 6, 19),)
    assert sweep(shanghai(2026, 6, 23, 8, 59))["escalated"] == 0
    assert sweep(shanghai(2026, 6, 23, 9, 0))["escalated"] == 1


def test_a_grabbed_need_does_not_escalate(make, people):
    need = make.need(people["owner"])
    grabbed(people, need, 0)
    set_columns(need, published_at=shanghai(2026, 6, 1, 10, 0))
    assert sweep(shanghai(2026, 7, 1, 10, 0)) == NOTHING
    assert fresh(need).status == "claimed"


def test_a_draft_does_not_escalate(make, people):
    draft = make.need(people["owner"], publish=False)
    assert sweep(datetime.now(SHANGHAI) + timedelta(days=60)) == NOTHING
    assert fresh(draft).status == "draft"


def test_an_escalated_need_can_be_grabbed_or_assigned(make, people):
    need = make.need(people["owner"])
    set_columns(need, published_at=shanghai(2026, 6, 1, 10, 0))
    assert sweep(shanghai(2026, 6, 4, 10, 0)) == only(escalated=1)
    claim = services.grab(need.id, people["managers"][0].user)
    assert fresh(need).status == "claimed" and claim.status == "claimed"
    services.assign(fresh(need), people["managers"][1].user.bank_id, people["office"].user)
    assert fresh(need).status == "assigned"


# --- expiry --------------------------------------------------------------------------------------


def test_a_need_past_its_deadline_expires_and_its_claims_are_cancelled(make, people):
    need = make.need(people["owner"])
    first, second = grabbed(people, need, 0, 1)
    set_columns(need, deadline=date(2026, 6, 10))
    # On the deadline day itself (local) the need is still live.
    assert sweep(shanghai(2026, 6, 10, 23, 59, 59)) == NOTHING
    now = shanghai(2026, 6, 11, 0, 0)
    assert sweep(now) == only(expired=1)
    need = fresh(need)
    assert need.status == "expired" and need.closed_at == now
    for claim in (fresh(first), fresh(second)):
        assert claim.status == "cancelled" and claim.cancelled_at == now
        assert claim.cancel_reason == "需求已过截止日期"
    log = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "need.expired",
                                                       AuditLog.object_id == str(need.id))).one()
    assert log.object_type == "need" and log.before == {"status": "claimed"}
    assert sorted(log.after["cancelled_claim_ids"]) == sorted([first.id, second.id])
    assert topics("need.expired", need.id) == 1
    assert sweep(now + timedelta(days=1)) == NOTHING


def test_expiry_uses_the_local_date(make, people):
    """2026-06-10 16:30 UTC is already 06-11 00:30 in Shanghai."""
    need = make.need(people["owner"])
    set_columns(need, deadline=date(2026, 6, 10), published_at=shanghai(2026, 6, 9, 9, 0))
    assert sweep(shanghai(2026, 6, 10, 23, 0)) == NOTHING
    assert sweep(datetime.fromisoformat("2026-06-10T16:30:00+00:00")) == only(expired=1)


def test_an_open_need_past_both_deadlines_escalates_then_expires(make, people):
    need = make.need(people["owner"])
    set_columns(need, deadline=date(2026, 6, 10), published_at=shanghai(2026, 6, 1, 9, 0))
    assert sweep(shanghai(2026, 6, 20, 9, 0)) == only(escalated=1, expired=1)
    assert fresh(need).status == "expired"
    assert audit_actions(need)[-2:] == ["need.escalated", "need.expired"]


def test_a_need_being_worked_on_does_not_expire(make, people):
    """Only needs still waiting for a bank expire; a picked bank keeps working on the need."""
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    services.record_event(claim, people["managers"][0].user, {"type": "contacted"})
    set_columns(need, deadline=date(2026, 6, 10))
    assert sweep(datetime.now(SHANGHAI) + timedelta(days=30)) == NOTHING
    assert fresh(need).status == "contacted"


# --- reminders -----------------------------------------------------------------------------------


def test_contact_reminder_one_working_day_before_the_deadline_once(make, people):
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    due = claim.contact_due_at
    remind_at = calendar().add_working_days(due, -1)
    assert remind_at < due

    assert sweep(remind_at - SECOND) == NOTHING
    assert fresh(claim).contact_reminded_at is None
    assert sweep(remind_at) == only(contact_reminders=1)
    assert fresh(claim).contact_reminded_at == remind_at
    assert topics("claim.contact_due_soon", claim.id) == 1
    event = db.session.scalars(sa.select(OutboxEvent).where(
        OutboxEvent.topic == "claim.contact_due_soon")).one()
    assert event.payload["need_id"] == need.id
    assert "claim.contact_reminder" in audit_actions(need)

    # Not again, however often the sweep runs before the deadline.
    assert sweep(remind_at + timedelta(hours=1)) == NOTHING
    assert sweep(due - SECOND) == NOTHING
    assert topics("claim.contact_due_soon", claim.id) == 1
    # Then the pick lapses as usual.
    assert sweep(due) == only(lapsed=1)


def test_no_contact_reminder_once_contact_is_recorded(make, people):
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    services.record_event(claim, people["managers"][0].user, {"type": "contacted"})
    assert sweep(calendar().add_working_days(claim.contact_due_at, -1)) == NOTHING
    assert topics("claim.contact_due_soon", claim.id) == 0


def test_a_reminder_missed_until_after_the_deadline_is_not_sent(make, people):
    """A sweep that first runs after the deadline lapses the pick; no late reminder."""
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    assert sweep(claim.contact_due_at + timedelta(hours=1)) == only(lapsed=1)
    assert topics("claim.contact_due_soon", claim.id) == 0


def test_contact_reminder_before_a_long_holiday(app, make, people):
    app.config["HOLIDAYS"] = tuple(date(2026, 10, d) for d in range(1, 8))
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    # Picked on Friday 09-24 15:00: the fifth working day is Thursday 10-08.
    set_columns(claim, selected_at=shanghai(2026, 9, 24, 15, 0),
                contact_due_at=shanghai(2026, 10, 8, 15, 0))
    remind_at = calendar().add_working_days(shanghai(2026, 10, 8, 15, 0), -1)
    assert remind_at == shanghai(2026, 9, 30, 15, 0)
    assert sweep(remind_at) == only(contact_reminders=1)


def test_escalation_reminder_one_working_day_before_once(make, people):
    need = make.need(people["owner"])
    # Friday 10:00: escalation due Wednesday 10:00, reminder Tuesday 10:00.
    set_columns(need, published_at=shanghai(2026, 6, 5, 10, 0))
    assert sweep(shanghai(2026, 6, 9, 9, 59, 59)) == NOTHING
    assert sweep(shanghai(2026, 6, 9, 10, 0)) == only(escalation_reminders=1)
    assert fresh(need).escalation_reminded_at == shanghai(2026, 6, 9, 10, 0)
    event = db.session.scalars(sa.select(OutboxEvent).where(
        OutboxEvent.topic == "need.escalation_due_soon")).one()
    assert event.object_id == str(need.id)
    assert datetime.fromisoformat(event.payload["escalation_due_at"]) == \
        shanghai(2026, 6, 10, 10, 0)
    assert sweep(shanghai(2026, 6, 9, 18, 0)) == NOTHING
    assert sweep(shanghai(2026, 6, 10, 9, 59)) == NOTHING
    assert sweep(shanghai(2026, 6, 10, 10, 0)) == only(escalated=1)
    assert topics("need.escalation_due_soon", need.id) == 1


def test_no_escalation_reminder_after_a_grab_or_past_the_deadline(make, people):
    grabbed_need = make.need(people["owner"])
    grabbed(people, grabbed_need, 0)
    set_columns(grabbed_need, published_at=shanghai(2026, 6, 5, 10, 0))
    assert sweep(shanghai(2026, 6, 9, 10, 0)) == NOTHING
    late = make.need(people["owner"])
    set_columns(late, published_at=shanghai(2026, 6, 5, 10, 0))
    # First sweep after the escalation deadline: escalate, no reminder.
    assert sweep(shanghai(2026, 6, 12, 10, 0)) == only(escalated=1)
    assert topics("need.escalation_due_soon", late.id) == 0


# --- idempotence and the job ---------------------------------------------------------------------


def test_a_second_sweep_changes_nothing(make, people):
    now = datetime.now(SHANGHAI) + timedelta(days=40)
    picked_need = make.need(people["owner"])
    first, _second = grabbed(people, picked_need, 0, 1)
    picked(people, picked_need, first)
    lone = make.need(people["owner"])
    (alone,) = grabbed(people, lone, 2)
    picked(people, lone, alone)
    nobody = make.need(people["owner"])
    expiring = make.need(people["owner"])
    grabbed(people, expiring, 0)
    set_columns(expiring, deadline=(now - timedelta(days=3)).date())

    audit_before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    first_run = sweep(now)
    assert first_run == only(lapsed=2, escalated=1, expired=1)
    statuses = {n.id: fresh(n).status for n in (picked_need, lone, nobody, expiring)}
    assert statuses == {picked_need.id: "claimed", lone.id: "escalated",
                        nobody.id: "escalated", expiring.id: "expired"}
    audit_after = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    assert audit_after == audit_before + 4
    outbox_after = db.session.scalar(sa.select(sa.func.count(OutboxEvent.id)))
    claims_after = {c.id: (c.status, c.lapsed_at, c.cancelled_at)
                    for c in db.session.scalars(sa.select(Claim))}

    assert sweep(now) == NOTHING
    assert sweep(now + timedelta(minutes=5)) == NOTHING
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == audit_after
    assert db.session.scalar(sa.select(sa.func.count(OutboxEvent.id))) == outbox_after
    assert {c.id: (c.status, c.lapsed_at, c.cancelled_at)
            for c in db.session.scalars(sa.select(Claim))} == claims_after
    assert {n.id: fresh(n).status for n in (picked_need, lone, nobody, expiring)} == statuses


def test_one_bad_row_does_not_stop_the_rest(app, make, people, monkeypatch):
    broken, fine = make.need(people["owner"]), make.need(people["owner"])
    for need in (broken, fine):
        set_columns(need, published_at=shanghai(2026, 6, 1, 10, 0))
    real = services._escalate

    def escalate(need_id, now):
        if need_id == broken.id:
            raise RuntimeError("boom")
        return real(need_id, now)

    monkeypatch.setattr(services, "_escalate", escalate)
    assert sweep(shanghai(2026, 6, 4, 10, 0))["escalated"] == 1
    assert fresh(broken).status == "open" and fresh(fine).status == "escalated"


def test_the_sweep_job_calls_the_sweep(make, people):
    jobs = pytest.importorskip("workers.jobs")
    if not hasattr(jobs, "sweep_claims"):
        pytest.skip("workers.jobs.sweep_claims() does not exist yet (the lead adds it)")
    need = make.need(people["owner"])
    (claim,) = grabbed(people, need, 0)
    claim = picked(people, need, claim)
    # Due a minute ago: the job (which sweeps at the real now) lapses it.
    set_columns(claim, contact_due_at=datetime.now(SHANGHAI) - timedelta(minutes=1))
    result = jobs.sweep_claims()
    assert result == only(lapsed=1)
    db.session.expire_all()
    assert fresh(claim).status == "lapsed" and fresh(need).status == "escalated"
    assert jobs.sweep_claims() == NOTHING
