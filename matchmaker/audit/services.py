"""Audit log and transactional outbox.

`record()` and `emit()` add rows to the current transaction; they never commit. The caller (a
service) commits once with `workers.dispatch.commit()`, which then starts the outbox drain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import g, has_request_context, request
from flask_login import current_user

from matchmaker.audit.models import OBJECT_ID_MAX, AuditLog, OutboxEvent
from matchmaker.database import utcnow
from matchmaker.extensions import db
from workers import queues
from workers.dispatch import after_commit

log = logging.getLogger(__name__)

# topic → handlers. Handlers must be idempotent: a row can be handed over more than once.
OutboxHandler = Callable[[OutboxEvent], None]
OUTBOX_HANDLERS: dict[str, list[OutboxHandler]] = {}
# A row that failed this often stays pending for an operator instead of blocking the drain.
MAX_ATTEMPTS = 10


def outbox_handler(*topics: str):
    """Register a function to consume outbox rows of the given topics ("need.*" matches all)."""

    def register(func: OutboxHandler) -> OutboxHandler:
        for topic in topics:
            OUTBOX_HANDLERS.setdefault(topic, []).append(func)
        return func

    return register


def jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def snapshot(obj, fields: list[str]) -> dict:
    return {name: jsonable(getattr(obj, name)) for name in fields}


def current_actor():
    """The user acting now: an API token's user, else the logged-in web user, else nobody."""
    if has_request_context():
        api_user = g.get("api_user")
        if api_user is not None:
            return api_user
        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
    return None


# Keys whose values never go into the log, at any depth of before/after: credentials and secrets.
# A service should not pass them at all; this is the net under it.
SECRET_KEYS = frozenset({
    "password", "new_password", "current_password", "password_hash", "session_token",
    "token", "token_hash", "api_token", "secret", "webhook_secret", "signing_secret",
})
REDACTED = "[已隐藏]"


def without_secrets(value):
    """`value` with the values of SECRET_KEYS replaced by a marker (the key stays: that a
    secret changed is worth knowing, the secret itself is not)."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_KEYS else without_secrets(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def request_ip() -> str | None:
    """The client's address as the WSGI server saw it (behind a proxy: the proxy's, unless the
    app is wrapped in werkzeug's ProxyFix)."""
    if not has_request_context() or not request.remote_addr:
        return None
    return request.remote_addr[:45]


class _Anonymous:
    """`record(actor=ANONYMOUS)`: nobody acted (a refused login, the command line), even when
    the request has a user."""

    def __repr__(self) -> str:
        return "ANONYMOUS"


ANONYMOUS = _Anonymous()


def record(action: str, obj_type: str, obj_id, before: dict | None = None,
           after: dict | None = None, actor=None) -> AuditLog:
    """Add one audit row to the current transaction (the caller commits).

    `actor` defaults to the user of the request (API token or web session), or nobody outside a
    request (the sweep, the command line); ANONYMOUS says nobody explicitly. The actor's role and
    the request's IP are copied in, so the row stays true when the user later changes.
    """
    if actor is ANONYMOUS:
        actor = None
    elif actor is None:
        actor = current_actor()
    entry = AuditLog(
        action=action,
        object_type=obj_type,
        object_id=str(obj_id)[:OBJECT_ID_MAX],
        before=without_secrets(jsonable(before)) if before is not None else None,
        after=without_secrets(jsonable(after)) if after is not None else None,
        actor_id=actor.id if actor is not None else None,
        actor_role=actor.role if actor is not None else None,
        ip=request_ip(),
    )
    db.session.add(entry)
    return entry


def emit(topic: str, obj_type: str, obj_id, payload: dict | None = None) -> OutboxEvent:
    """Write an outbox row in the current transaction and drain the outbox after the commit."""
    event = OutboxEvent(topic=topic, object_type=obj_type, object_id=str(obj_id),
                        payload=jsonable(payload or {}))
    db.session.add(event)
    after_commit("workers.jobs.drain_outbox", queue=queues.SEARCH, timeout=300)
    return event


def _handlers_for(topic: str) -> list[OutboxHandler]:
    # Wildcard consumers (the search index) first: notifications then read a current index.
    prefix = topic.split(".")[0] + ".*"
    return OUTBOX_HANDLERS.get(prefix, []) + OUTBOX_HANDLERS.get(topic, [])


def drain_outbox(limit: int = 500) -> int:
    """Process pending rows oldest first, one transaction per row. Safe in several workers at
    once (SKIP LOCKED on PostgreSQL). Each handler runs in a savepoint: one that fails undoes
    only its own work, the others' work stays, and the row is tried again later (every handler
    is idempotent, so the ones that succeeded do nothing the second time).
    """
    from workers.dispatch import commit

    processed = 0
    failed: list[int] = []  # tried once in this run; the next run tries them again
    while processed < limit:
        row = db.session.scalars(
            sa.select(OutboxEvent)
            .where(OutboxEvent.processed_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS,
                   OutboxEvent.id.not_in(failed))
            .order_by(OutboxEvent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            break
        row_id, topic = row.id, row.topic
        if db.session.get_bind().dialect.name == "sqlite":
            # pysqlite begins a transaction only at the first write: take the write lock now
            # (waiting for other writers through busy_timeout), so the consumers' savepoints
            # nest inside this row's transaction instead of each starting, and committing, one
            # of their own on a read snapshot that another writer may already have outdated.
            db.session.execute(sa.update(OutboxEvent).where(OutboxEvent.id == row_id)
                               .values(attempts=OutboxEvent.attempts))
        errors = []
        for handler in _handlers_for(topic):
            try:
                with db.session.begin_nested():
                    handler(row)
            except Exception as exc:
                log.exception("outbox row %s (%s): %s failed", row_id, topic, handler.__name__)
                errors.append(f"{handler.__name__}: {type(exc).__name__}: {exc}")
        if errors:
            failed.append(row_id)
            row.attempts = (row.attempts or 0) + 1
            row.last_error = "\n".join(errors)[:2000]
        else:
            row.processed_at = utcnow()
            processed += 1
        commit()
    return processed
