"""Bank webhooks against a real HTTP server on a thread: signed JSON bodies, retries after a 500
or a timeout with the same delivery id (so a receiver can dedupe), nothing for kinds the bank did
not subscribe to, and one delivery per event however often the outbox is drained.

Without Redis the jobs run in-process right after each commit; a failed attempt raises inside
the in-process job (logged), and `workers.jobs.drain_outbox` — the periodic safety net — queues
the delivery again once its back-off has run out (DELIVERY_RETRY_INTERVALS set to zeros here).
"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import OutboxEvent
from matchmaker.extensions import db
from matchmaker.notifications import delivery as delivery_module
from matchmaker.notifications.models import Delivery, DeliveryAttempt, Notification
from workers import jobs


def make_webhook(bank, admin, url: str, kinds: list[str], active: bool = True) -> str:
    """The bank's webhook as its admin sets it up (the 设置 service); returns the secret."""
    from matchmaker.notifications.settings import configure_webhook

    return configure_webhook(bank, admin.user, url, kinds, active).secret


@pytest.fixture
def market(make, app):
    """Banks A and B sell 福林贷 (eligible for the default need); a1, b1 are their managers, and
    an enterprise owns the needs. Failed deliveries may be retried at once."""
    app.config.update(DELIVERY_RETRY_INTERVALS=[0, 0, 0], DELIVERY_REQUEUE_AFTER_SECONDS=0,
                      DELIVERY_TIMEOUT_SECONDS=5)
    bank_a, bank_b = make.bank(), make.bank()
    people = {"bank_a": bank_a, "bank_b": bank_b,
              "admin_a": make.bank_user(bank_a, role="bank_admin"),
              "a1": make.bank_user(bank_a), "b1": make.bank_user(bank_b)}
    make.product(bank_a, admin=people["admin_a"])
    make.product(bank_b)
    _, people["owner"] = make.enterprise()
    return people


def deliveries(bank_id: int | None = None) -> list[Delivery]:
    db.session.expire_all()
    stmt = sa.select(Delivery).where(Delivery.channel == "webhook").order_by(Delivery.id)
    if bank_id is not None:
        stmt = stmt.where(Delivery.bank_id == bank_id)
    return list(db.session.scalars(stmt))


def wait_out_back_off(delivery_id: int, timeout: float = 10.0) -> None:
    """Until the delivery's back-off lease has run out (the drain queues it only then)."""
    from matchmaker.database import utcnow

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        lease = db.session.get(Delivery, delivery_id).lease_until
        if lease is None or lease <= utcnow():
            return
        time.sleep(0.05)
    raise AssertionError(f"delivery {delivery_id} still leased after {timeout} s")


def attempts(delivery_id: int) -> list[DeliveryAttempt]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id)))


def test_the_bank_receives_a_signed_json_body(make, market, receiver):
    hook = receiver()
    secret = make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    need = make.need(market["owner"])

    assert hook.wait_for(1)
    [(headers, body)] = hook.requests
    [sent] = deliveries()
    assert sent.status == "sent" and sent.bank_id == market["bank_a"].id
    assert headers[delivery_module.DELIVERY_HEADER] == str(sent.id)
    assert headers[delivery_module.EVENT_HEADER] == "new_lead"
    assert headers["Content-Type"].startswith("application/json")
    signature = headers[delivery_module.SIGNATURE_HEADER]
    assert delivery_module.verify(secret, signature, body)
    assert not delivery_module.verify(secret + "x", signature, body)
    assert not delivery_module.verify(secret, signature, body + b" ")  # tampered body
    payload = json.loads(body.decode("utf-8"))
    assert payload["delivery_id"] == sent.id and payload["event"] == "new_lead"
    assert payload["need_id"] == need.id and payload["bank_id"] == market["bank_a"].id
    assert need.title in payload["title"]  # Chinese, as UTF-8 JSON
    assert payload["url"].endswith(f"/needs/{need.id}")
    assert payload["data"]["green_category"] == need.green_category_code
    assert [(a.ok, a.status_code) for a in attempts(sent.id)] == [(True, 200)]
    assert deliveries(market["bank_b"].id) == []  # bank B has no webhook


def test_a_500_then_200_is_two_attempts_one_sent_delivery_and_one_processing(
        make, market, receiver, app):
    app.config["DELIVERY_RETRY_INTERVALS"] = [1, 1, 1]
    hook = receiver([500, 200])
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    make.need(market["owner"])

    assert hook.wait_for(1)
    [failed_once] = deliveries()
    assert failed_once.status == "pending" and failed_once.last_error == "HTTP 500"
    jobs.drain_outbox()  # within the back-off: the drain leaves it alone
    assert len(hook.requests) == 1

    wait_out_back_off(failed_once.id)
    jobs.drain_outbox()  # the periodic drain: the back-off is over, so it goes again
    assert hook.wait_for(2)
    [sent] = deliveries()
    assert sent.status == "sent" and sent.attempts == 2 and sent.last_error is None
    assert [(a.ok, a.status_code, a.error) for a in attempts(sent.id)] == [
        (False, 500, "HTTP 500"), (True, 200, None)]
    assert hook.delivery_ids() == [str(sent.id), str(sent.id)]  # the same id both times
    assert hook.completed == [str(sent.id)]
    assert hook.handled == {str(sent.id): 1}  # a receiver deduping by the id processes it once
    bodies = [json.loads(body) for _, body in hook.requests]
    assert bodies[0] == bodies[1]

    jobs.drain_outbox()  # sent: nothing more goes out
    assert len(hook.requests) == 2


def test_a_timeout_is_logged_and_retried(make, market, receiver, app):
    # A back-off of 1 s could run out while `make.need`'s later after-commit jobs still run on a
    # busy machine (they send what is due: seen in CI); 4 s leaves the pending state to observe.
    app.config.update(DELIVERY_TIMEOUT_SECONDS=1, DELIVERY_RETRY_INTERVALS=[4, 4, 4])
    hook = receiver([("sleep", 10), 200])
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    started = time.monotonic()
    make.need(market["owner"])
    assert time.monotonic() - started < 8  # the caller gave up after the timeout
    hook.release.set()  # let the slow handler finish

    [pending] = deliveries()
    assert pending.status == "pending" and "timed out" in pending.last_error
    [first] = attempts(pending.id)
    assert not first.ok and first.status_code is None and "timed out" in first.error
    assert first.duration_ms >= 900

    wait_out_back_off(pending.id)
    jobs.drain_outbox()
    assert hook.wait_for(2)
    [sent] = deliveries()
    assert sent.status == "sent"
    assert [a.ok for a in attempts(sent.id)] == [False, True]
    assert hook.delivery_ids() == [str(sent.id)] * 2


def test_an_endpoint_that_keeps_failing_ends_failed_after_the_intervals(make, market, receiver):
    hook = receiver([503] * 10)
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    make.need(market["owner"])
    for _ in range(5):
        jobs.drain_outbox()
    [failed] = deliveries()
    assert failed.status == "failed" and failed.last_error == "HTTP 503"
    assert [a.status_code for a in attempts(failed.id)] == [503] * 4  # first try + 3 intervals
    assert len(hook.requests) == 4


def test_unsubscribed_kinds_send_nothing_and_subscribed_ones_do(make, market, receiver):
    from matchmaker.claims import services as claims

    hook = receiver()
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["selected"])
    need = make.need(market["owner"])
    jobs.drain_outbox()
    assert deliveries() == [] and hook.requests == []  # new_lead is not subscribed
    # ...while the manager still has the in-app notification.
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == market["a1"].user.id)) == 1

    claim = claims.grab(need.id, market["a1"].user)
    claims.select_claim(need, claim.id, market["owner"].user)
    assert hook.wait_for(1)
    assert [d.kind for d in deliveries()] == ["selected"]
    assert hook.requests[0][0][delivery_module.EVENT_HEADER] == "selected"


def test_an_inactive_webhook_sends_nothing(make, market, receiver):
    hook = receiver()
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"], active=False)
    make.need(market["owner"])
    jobs.drain_outbox()
    assert deliveries() == [] and hook.requests == []


def test_a_second_drain_of_the_same_events_creates_no_second_delivery(make, market, receiver):
    hook = receiver()
    make_webhook(market["bank_a"], market["admin_a"], hook.url, ["new_lead"])
    make.need(market["owner"])
    assert hook.wait_for(1)
    assert len(deliveries()) == 1

    # Every outbox row handed over again (a redelivered drain job, a restore...).
    db.session.execute(sa.update(OutboxEvent).values(processed_at=None))
    db.session.commit()
    jobs.drain_outbox()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEvent.id)).where(
        OutboxEvent.processed_at.is_(None))) == 0
    assert len(deliveries()) == 1
    assert len(hook.requests) == 1


def test_a_corrected_address_also_reaches_the_messages_still_waiting(make, market, receiver,
                                                                     app):
    """A bank admin who fixes a wrong URL should not have to resend what piled up meanwhile."""
    from matchmaker.notifications.settings import configure_webhook

    app.config["DELIVERY_RETRY_INTERVALS"] = [1, 1, 1]
    wrong = receiver([404] * 5)
    make_webhook(market["bank_a"], market["admin_a"], wrong.url, ["new_lead"])
    make.need(market["owner"])
    assert wrong.wait_for(1)
    [waiting] = deliveries()
    assert waiting.status == "pending" and waiting.last_error == "HTTP 404"

    right = receiver()
    configure_webhook(market["bank_a"], market["admin_a"].user, right.url, ["new_lead"], True)
    wait_out_back_off(waiting.id)
    jobs.drain_outbox()
    assert right.wait_for(1)
    [sent] = deliveries()
    assert sent.status == "sent" and sent.target == right.url
    assert len(wrong.requests) == 1
