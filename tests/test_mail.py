"""Emails through a real SMTP server (aiosmtpd on loopback): one per person who wants it, in
Chinese and UTF-8; refusals logged and retried until sent once, or given up after the intervals;
the daily digest once per manager and day.

Jobs run in-process (no Redis). A failed attempt raises inside the in-process job (logged) and
`workers.jobs.drain_outbox` — the periodic safety net — sends it again once the back-off has run
out; the intervals are zeros here, so the drain that created a delivery may already retry it.
"""

from __future__ import annotations

import email
import threading
from email import policy

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from matchmaker.audit.models import OutboxEvent
from matchmaker.extensions import db
from matchmaker.notifications.models import Delivery, DeliveryAttempt, Notification
from tests.conftest import free_port
from workers import jobs


class MailServer:
    """An aiosmtpd handler: refuses the first `refuse_data` messages with `data_reply`, refuses
    every recipient when `rcpt_reply` is set, and keeps what it accepted."""

    def __init__(self, refuse_data: int = 0, data_reply: str = "451 4.3.0 Mailbox busy, try later",
                 rcpt_reply: str | None = None):
        self.refuse_data = refuse_data
        self.data_reply = data_reply
        self.rcpt_reply = rcpt_reply
        self.accepted: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refused < self.refuse_data:
                self.refused += 1
                return self.data_reply
            self.accepted.append(email.message_from_bytes(envelope.original_content,
                                                          policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.accepted if m["To"] == address]


@pytest.fixture
def smtp(app):
    """`smtp(**behaviour)` starts a server and points the app's mail settings at it."""
    controllers = []

    def start(**behaviour) -> MailServer:
        handler = MailServer(**behaviour)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        app.config.update(MAIL_ENABLED=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                          MAIL_USE_TLS=False, MAIL_USE_SSL=False, MAIL_USERNAME=None)
        return handler

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def market(make, app):
    """Banks A and B sell 福林贷 (eligible for the default need); a1 and b1 are their managers
    and both hear of a new need in the app; an enterprise owns the needs."""
    app.config.update(DELIVERY_RETRY_INTERVALS=[0, 0, 0], DELIVERY_REQUEUE_AFTER_SECONDS=0,
                      DELIVERY_TIMEOUT_SECONDS=5, PUBLIC_URL="https://greenmatch.example.cn")
    bank_a, bank_b = make.bank(), make.bank()
    people = {"a1": make.bank_user(bank_a), "b1": make.bank_user(bank_b)}
    make.product(bank_a)
    make.product(bank_b)
    _, people["owner"] = make.enterprise()
    return people


def choose(account, kind: str, channel: str, enabled: bool) -> None:
    """The user's own choice on the 通知设置 page (through its service)."""
    from matchmaker.notifications.settings import save_preferences

    save_preferences(account.user, [{"kind": kind, "channel": channel, "enabled": enabled}])


def emails(kind: str | None = None) -> list[Delivery]:
    db.session.expire_all()
    stmt = sa.select(Delivery).where(Delivery.channel == "email").order_by(Delivery.id)
    if kind:
        stmt = stmt.where(Delivery.kind == kind)
    return list(db.session.scalars(stmt))


def attempts(delivery_id: int) -> list[DeliveryAttempt]:
    return list(db.session.scalars(sa.select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id)))


def drain_until(status: str, rounds: int = 8) -> Delivery:
    for _ in range(rounds):
        [mail] = emails()
        if mail.status == status:
            return mail
        jobs.drain_outbox()
    [mail] = emails()
    return mail


def test_a_new_need_emails_each_manager_who_wants_it_once(make, market, smtp):
    server = smtp()
    choose(market["a1"], "new_lead", "email", True)  # new leads: in-app only unless chosen
    need = make.need(market["owner"])

    [sent] = emails()
    assert sent.status == "sent" and sent.user_id == market["a1"].user.id
    assert [(a.ok, a.status_code) for a in attempts(sent.id)] == [(True, 250)]
    [message] = server.accepted
    assert server.envelopes == [("noreply@greenmatch.local", [market["a1"].email])]
    assert message["To"] == market["a1"].email
    assert message["Subject"] == f"【绿色金融对接平台】新的匹配需求：{need.title}"
    assert message["X-GreenMatch-Delivery"] == str(sent.id)
    assert "绿色金融对接平台" in message["From"]
    assert message.get_content_charset() == "utf-8"
    text = message.get_content()
    assert need.title in text and "林下经济" in text
    assert f"https://greenmatch.example.cn/needs/{need.id}" in text
    assert server.to(market["b1"].email) == []  # b1 kept the default: in-app only

    # The same event handed over again sends nothing more.
    db.session.execute(sa.update(OutboxEvent).values(processed_at=None))
    db.session.commit()
    jobs.drain_outbox()
    assert len(server.accepted) == 1 and len(emails()) == 1


def test_a_kind_turned_off_for_email_sends_none(make, market, smtp):
    from matchmaker.claims import services as claims

    server = smtp()
    choose(market["a1"], "selected", "email", False)  # 被企业选定: email on by default
    first = make.need(market["owner"], title="屋顶光伏改造")
    claim = claims.grab(first.id, market["a1"].user)
    claims.select_claim(first, claim.id, market["owner"].user)
    second = make.need(market["owner"], title="林下经济二期")
    claim = claims.grab(second.id, market["b1"].user)
    claims.select_claim(second, claim.id, market["owner"].user)

    assert server.to(market["a1"].email) == []
    assert [d.user_id for d in emails("selected")] == [market["b1"].user.id]
    [to_b1] = server.to(market["b1"].email)
    assert to_b1["Subject"] == "【绿色金融对接平台】企业选定贵行对接：林下经济二期"
    # a1 still has it in the app.
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == market["a1"].user.id, Notification.kind == "selected")) == 1


def test_a_refusing_server_is_retried_and_the_mail_sent_once(make, market, smtp):
    server = smtp(refuse_data=2)  # "451 …" twice, then accepted
    choose(market["a1"], "new_lead", "email", True)
    make.need(market["owner"])

    sent = drain_until("sent")
    assert sent.status == "sent" and sent.attempts == 3 and sent.last_error is None
    log = attempts(sent.id)
    assert [a.ok for a in log] == [False, False, True]
    assert all("451" in a.error and "Mailbox busy" in a.error for a in log[:2])
    assert log[2].status_code == 250 and log[2].error is None
    assert len(server.accepted) == 1 and server.refused == 2

    for _ in range(2):
        jobs.drain_outbox()
    assert len(server.accepted) == 1 and len(attempts(sent.id)) == 3


def test_a_server_refusing_for_good_ends_failed_after_the_intervals(make, market, smtp, app):
    server = smtp(rcpt_reply="550 5.1.1 No such user")
    choose(market["a1"], "new_lead", "email", True)
    make.need(market["owner"])

    failed = drain_until("failed")
    assert failed.status == "failed" and "550" in failed.last_error
    intervals = app.config["DELIVERY_RETRY_INTERVALS"]
    log = attempts(failed.id)
    assert len(log) == len(intervals) + 1 and not any(a.ok for a in log)
    assert all("550" in a.error for a in log)
    assert server.accepted == []
    jobs.drain_outbox()  # given up: the drain leaves it be
    assert len(attempts(failed.id)) == len(intervals) + 1


def test_the_daily_digest_goes_once_per_manager_and_day(make, market, smtp):
    server = smtp()
    first = make.need(market["owner"], title="屋顶光伏改造")
    second = make.need(market["owner"], title="林下经济二期")
    assert server.accepted == []  # new leads: in-app only by default

    assert jobs.send_digests() == 2
    assert jobs.send_digests() == 0  # the same day again
    assert sorted(d.user_id for d in emails("digest")) == sorted(
        [market["a1"].user.id, market["b1"].user.id])
    assert len(server.accepted) == 2
    for name in ("a1", "b1"):
        [digest] = server.to(market[name].email)
        assert digest["Subject"] == "【绿色金融对接平台】每日线索摘要：2 条新的匹配需求"
        text = digest.get_content()
        assert market[name].user.name in text
        for need in (first, second):
            assert need.title in text
            assert f"https://greenmatch.example.cn/needs/{need.id}" in text


def test_a_manager_who_turned_the_digest_off_gets_none(make, market, smtp):
    server = smtp()
    choose(market["b1"], "digest", "email", False)
    make.need(market["owner"])
    assert jobs.send_digests() == 1
    assert [m["To"] for m in server.accepted] == [market["a1"].email]
