from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from matchmaker.database import UTCDateTime, utcnow
from matchmaker.extensions import db

OBJECT_ID_MAX = 128


class AuditLogImmutable(RuntimeError):
    """Raised when code tries to change or delete an audit row: the log is append-only."""


class AuditLog(db.Model):
    """Append-only record of a state change: who, what, before → after, when, from where.

    Rows are only ever inserted: the ORM refuses to update or delete one (the mapper events and
    the bulk-statement guard below). The office searches it by time (ix_audit_log_created_at),
    object (ix_audit_log_object), actor and action.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_type", "object_id"),
        sa.Index("ix_audit_log_actor", "actor_id", "created_at"),
        sa.Index("ix_audit_log_action", "action", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(sa.String(16))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    action: Mapped[str] = mapped_column(sa.String(48))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    # Wide enough for an RQ job id ("periodic-send_digests-2026-…", uuid4 with dashes).
    object_id: Mapped[str] = mapped_column(sa.String(OBJECT_ID_MAX))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)


@event.listens_for(AuditLog, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    changed = [attr.key for attr in sa.inspect(target).attrs if attr.history.has_changes()]
    if changed:
        raise AuditLogImmutable(f"audit_log is append-only: refused to change {changed} of "
                                f"row {target.id}")


@event.listens_for(AuditLog, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditLogImmutable(f"audit_log is append-only: refused to delete row {target.id}")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state) -> None:
    """`session.execute(update(AuditLog)…)` and `delete(AuditLog)` skip the mapper events."""
    if (state.is_update or state.is_delete) and any(
            m.class_ is AuditLog for m in state.all_mappers):
        raise AuditLogImmutable("audit_log is append-only: refused a bulk UPDATE or DELETE")


class OutboxEvent(db.Model):
    """A change to hand to the search index and the workers, written in the same transaction."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(sa.String(48))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
