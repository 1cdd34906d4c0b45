"""Who is notified of what, once: the fan-out rules, in-process (no Redis), on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import OutboxEvent
from matchmaker.audit.services import drain_outbox
from matchmaker.claims import services as claims
from matchmaker.extensions import db
from matchmaker.notifications.models import Notification, NotificationPreference
from workers.dispatch import commit


def inbox(account) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).where(
        Notification.user_id == account.user.id).order_by(Notification.id)))


def kinds_of(account) -> list[str]:
    return [n.kind for n in inbox(account)]


@pytest.fixture
def market(make):
    """Bank A and bank B sell 福林贷 (eligible for the default need, 330523); bank A has a
    second manager covering only 330502 (吴兴区). Bank C sells a product for another category
    (ineligible). An enterprise owns the needs."""
    bank_a, bank_b, bank_c = make.bank(), make.bank(), make.bank()
    people = {
        "a1": make.bank_user(bank_a), "a_wuxing": make.bank_user(bank_a, region_codes=["330502"]),
        "b1": make.bank_user(bank_b), "c1": make.bank_user(bank_c),
    }
    make.product(bank_a)
    make.product(bank_b)
    make.product(bank_c, name="光伏贷", green_categories=["3.2"])
    _, people["owner"] = make.enterprise()
    people["office"] = make.office()
    people.update(bank_a=bank_a, bank_b=bank_b, bank_c=bank_c)
    return people


def test_a_new_need_reaches_every_covering_manager_of_an_eligible_bank_once(make, market):
    need = make.need(market["owner"])
    for name in ("a1", "b1"):
        assert [(n.kind, n.need_id) for n in inbox(market[name])] == [("new_lead", need.id)]
        assert need.title in inbox(market[name])[0].title
    assert inbox(market["a_wuxing"]) == []  # covers 吴兴区 only; the need is in 安吉县
    assert inbox(market["c1"]) == []  # no eligible product
    # Handling the event again (a redelivered job) notifies nobody twice.
    db.session.execute(sa.update(OutboxEvent).values(processed_at=None))
    db.session.commit()
    drain_outbox()
    assert len(inbox(market["a1"])) == 1 and len(inbox(market["b1"])) == 1


def test_a_new_product_announces_open_needs_it_newly_matches(make, market):
    need = make.need(market["owner"], green_category="3.2.1", collateral=["credit"])
    assert inbox(market["a1"]) == [] and len(inbox(market["c1"])) == 0  # c's product: size/coll.
    make.product(market["bank_a"], name="光伏贷A", green_categories=["3.2"],
                 collateral=["credit"])
    assert [(n.kind, n.need_id) for n in inbox(market["a1"])] == [("new_lead", need.id)]
    assert inbox(market["b1"]) == []
    # A second product of the same bank matching the same need does not announce it again.
    make.product(market["bank_a"], name="光伏贷B", green_categories=["3"], collateral=["credit"])
    assert len(inbox(market["a1"])) == 1


def test_the_claim_workflow_tells_each_side(make, market):
    need = make.need(market["owner"])
    claim_a = claims.grab(need.id, market["a1"].user)
    claim_b = claims.grab(need.id, market["b1"].user)
    assert kinds_of(market["owner"]) == ["claim_received", "claim_received"]
    assert "客户经理" in inbox(market["owner"])[0].body

    claims.select_claim(need, claim_a.id, market["owner"].user)
    assert kinds_of(market["a1"])[-1] == "selected"
    assert kinds_of(market["b1"])[-1] == "not_selected"

    claims.record_event(claim_a, market["a1"].user, {"type": "contacted"})
    claims.record_event(claim_a, market["a1"].user,
                        {"type": "credit_approved", "amount_wan": "150.00", "rate": "4.20"})
    progress = [n for n in inbox(market["owner"]) if n.kind == "claim_progress"]
    assert len(progress) == 2 and "150.00 万元" in progress[1].body
    assert claim_b.id  # the passed-over bank heard nothing more
    assert kinds_of(market["b1"]) == ["new_lead", "not_selected"]


def test_escalation_reaches_the_office_and_the_enterprise(make, market, app):
    from datetime import timedelta

    from matchmaker.database import utcnow

    need = make.need(market["owner"])
    claims.sweep(now=utcnow() + timedelta(days=30))
    assert "escalated" in kinds_of(market["office"])
    assert "escalated" in kinds_of(market["owner"])
    assert any(n.need_id == need.id for n in inbox(market["office"]))


def test_a_user_who_turns_a_kind_off_gets_no_in_app_notification(make, market):
    db.session.add(NotificationPreference(user_id=market["a1"].user.id, kind="new_lead",
                                          channel="in_app", enabled=False))
    commit()
    make.need(market["owner"])
    assert inbox(market["a1"]) == []
    assert len(inbox(market["b1"])) == 1


def test_a_failing_consumer_keeps_the_others_work_and_the_row_is_retried(make, market):
    from matchmaker.audit import services as audit

    def broken(row):
        raise RuntimeError("index down")

    audit.OUTBOX_HANDLERS["need.*"].append(broken)
    try:
        need = make.need(market["owner"])
        assert [n.need_id for n in inbox(market["a1"])] == [need.id]  # delivered regardless
        row = db.session.scalars(sa.select(OutboxEvent).where(
            OutboxEvent.topic == "need.published")).one()
        assert row.processed_at is None and "index down" in row.last_error
    finally:
        audit.OUTBOX_HANDLERS["need.*"].remove(broken)
    drain_outbox()
    db.session.expire_all()
    assert db.session.get(OutboxEvent, row.id).processed_at is not None
    assert len(inbox(market["a1"])) == 1


def test_back_matching_announces_at_most_the_limit_best_first(make, market, app):
    app.config["BACKMATCH_LIMIT"] = 1
    small = make.need(market["owner"], green_category="3.2.1", collateral=["credit"],
                      amount_wan="20.00", title="屋顶光伏小项目")
    large = make.need(market["owner"], green_category="3.2.1", collateral=["credit"],
                      amount_wan="180.00", title="屋顶分布式光伏电站")
    make.product(market["bank_a"], name="光伏贷", description="分布式光伏电站建设贷款",
                 green_categories=["3.2"], collateral=["credit"])
    announced = [n.need_id for n in inbox(market["a1"])]
    assert len(announced) == 1 and announced[0] in (small.id, large.id)
