"""Sending one email or webhook call, once.

`deliver(id)` takes a lease on the row with one conditional UPDATE (status pending, lease free),
so two jobs for the same delivery never send together; a job killed mid-send leaves the lease to
run out and the drain re-queues the row. Every attempt is logged. Webhook bodies carry the
delivery id and are signed: header `X-GreenMatch-Signature: t=<unix time>,v1=<hex>` where v1 is
HMAC-SHA256 over "<t>.<body>" with the bank's secret; a receiver that has already seen
`X-GreenMatch-Delivery` can ignore a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import sqlalchemy as sa
from flask import current_app

from matchmaker.database import utcnow
from matchmaker.extensions import db
from matchmaker.notifications import egress, kinds
from matchmaker.notifications.models import BankWebhook, Delivery, DeliveryAttempt

SIGNATURE_HEADER = "X-GreenMatch-Signature"
DELIVERY_HEADER = "X-GreenMatch-Delivery"
EVENT_HEADER = "X-GreenMatch-Event"
# RQ's scheduler keeps retry times in whole seconds and may run a retry up to a second before
# its interval is over: a job that finds the row's back-off ending that soon waits it out.
RETRY_EARLY_SECONDS = 2


class DeliveryFailed(Exception):
    """Raised so that RQ retries the job with its back-off."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiving bank runs (also used by the tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _take_lease(delivery_id: int) -> bool:
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    taken = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending",
               sa.or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now))
        .values(lease_until=lease, attempts=Delivery.attempts + 1)
    ).rowcount
    db.session.commit()
    return bool(taken)


def _send_email(delivery: Delivery) -> tuple[int | None, str | None]:
    config = current_app.config
    message = EmailMessage()
    message["Subject"] = delivery.subject
    message["From"] = formataddr(("绿色金融对接平台", config["MAIL_DEFAULT_SENDER"]))
    message["To"] = delivery.target
    message["Message-ID"] = make_msgid(idstring=f"delivery-{delivery.id}")
    message["X-GreenMatch-Delivery"] = str(delivery.id)
    message.set_content(delivery.body)
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"],
                    timeout=config["DELIVERY_TIMEOUT_SECONDS"]) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    return 250, None


def webhook_body(delivery: Delivery) -> bytes:
    body = json.loads(delivery.body)
    body["delivery_id"] = delivery.id
    body["created_at"] = delivery.created_at.isoformat()
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def _send_webhook(delivery: Delivery) -> tuple[int | None, str | None]:
    hook = db.session.scalar(sa.select(BankWebhook).where(BankWebhook.bank_id == delivery.bank_id))
    if hook is None or not hook.active:
        raise PermissionError("该银行的 Webhook 已停用")
    # The bank's current address: a corrected URL also reaches the messages still waiting.
    delivery.target = hook.url
    if not delivery.target.startswith(("https://", "http://")):
        raise ValueError("Webhook 地址必须以 http:// 或 https:// 开头")
    body = webhook_body(delivery)
    request = urllib.request.Request(delivery.target, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "GreenMatch-Webhook/1",
        DELIVERY_HEADER: str(delivery.id),
        EVENT_HEADER: delivery.kind,
        SIGNATURE_HEADER: sign(hook.secret, int(time.time()), body),
    })
    try:
        with egress.post(request, current_app.config["DELIVERY_TIMEOUT_SECONDS"]) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"


def deliver(delivery_id: int) -> str:
    """Send one delivery if it still needs sending. Returns its status; raises DeliveryFailed on
    a failed attempt that will be tried again (so RQ applies its back-off)."""
    if not _take_lease(delivery_id):
        delivery = db.session.get(Delivery, delivery_id)
        if delivery is None:
            return "missing"
        wait = _back_off_left(delivery)
        if wait is None or wait > RETRY_EARLY_SECONDS:
            return delivery.status  # sent, failed, or another job's turn
        time.sleep(wait)  # an RQ retry a moment early
        if not _take_lease(delivery_id):
            return delivery.status
    delivery = db.session.get(Delivery, delivery_id)
    started = time.monotonic()
    status_code, error = None, None
    try:
        if delivery.channel == kinds.EMAIL:
            status_code, error = _send_email(delivery)
        else:
            status_code, error = _send_webhook(delivery)
        if error is None and status_code is not None and not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except Exception as exc:  # any failure of the far end is logged and retried
        error = f"{type(exc).__name__}: {exc}"[:2000]
    ok = error is None
    db.session.add(DeliveryAttempt(delivery_id=delivery.id, ok=ok, status_code=status_code,
                                   error=error, at=utcnow(),
                                   duration_ms=int((time.monotonic() - started) * 1000)))
    intervals = current_app.config["DELIVERY_RETRY_INTERVALS"]
    if ok:
        delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
        delivery.lease_until = None
    elif delivery.attempts > len(intervals):
        delivery.status, delivery.last_error, delivery.lease_until = "failed", error, None
    else:
        # The row waits out its back-off; RQ's retry (or the drain, without Redis) comes back.
        delivery.last_error = error
        delivery.lease_until = utcnow() + timedelta(seconds=intervals[delivery.attempts - 1])
    db.session.commit()
    if delivery.status == "pending":
        raise DeliveryFailed(error)
    return delivery.status


def _back_off_left(delivery: Delivery) -> float | None:
    """Seconds until a pending delivery's back-off ends (None: not pending, or being sent)."""
    if delivery.status != "pending" or delivery.lease_until is None:
        return None
    left = (delivery.lease_until - utcnow()).total_seconds()
    return max(left, 0.0)


def due_deliveries(limit: int = 500) -> list[int]:
    """Pending deliveries whose lease or back-off has run out: their job was lost (Redis down,
    a worker killed mid-send) or they were never queued. The drain queues them again."""
    now = utcnow()
    return list(db.session.scalars(
        sa.select(Delivery.id)
        .where(Delivery.status == "pending",
               sa.or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
               Delivery.created_at <= now - timedelta(
                   seconds=current_app.config["DELIVERY_REQUEUE_AFTER_SECONDS"]))
        .order_by(Delivery.id).limit(limit)))


def retry_now(delivery: Delivery) -> None:
    """A failed (given up) delivery sent again on request: the bank admin's 重新发送."""
    delivery.status, delivery.lease_until, delivery.attempts = "pending", None, 0
