"""Searching the audit log: one set of filters for the office's page, its CSV export and
`GET /api/v1/audit`.

Dates are local (Asia/Shanghai, `DISPLAY_TIMEZONE`) and turned into a half-open UTC range, so an
entry at 23:30 UTC belongs to the next local day. Results come newest first, a page at a time by
keyset (the `created_at` and `id` of the last row shown): no OFFSET, no count, so the millionth row
costs what the first does. Each filter has an index behind it: `ix_audit_log_created_at` (order and
time range), `ix_audit_log_actor`, `ix_audit_log_action` and `ix_audit_log_object`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from matchmaker.accounts.models import User
from matchmaker.audit.models import OBJECT_ID_MAX, AuditLog
from matchmaker.enums import ROLES
from matchmaker.extensions import db

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_LIMIT = 10_000
SYSTEM = "system"  # the role filter's value for entries without an actor (sweeps, the CLI)
ROLE_CODES = (*ROLES, SYSTEM)
ACTOR_MAX = 100
IP_MAX = 45
# "need.created", or "need.*" for every action on needs.
ACTION_RE = re.compile(r"^[a-z][a-z_]{0,30}(\.([a-z_]{1,30}|\*))?$")
OBJECT_TYPE_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
IP_PREFIX_RE = re.compile(r"^[0-9a-fA-F:.]{1,45}$")
CURSOR_RE = re.compile(r"^(\d{1,19})-(\d{1,19})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    start: date | None = None  # local dates, both included
    end: date | None = None
    actor: str | None = None  # e-mail or name contains (case-insensitive)
    role: str | None = None  # a role code, or SYSTEM for entries nobody made
    action: str | None = None  # an action code, or "<prefix>.*"
    object_type: str | None = None
    object_id: str | None = None  # only with object_type (the index is on both)
    ip: str | None = None  # an address, or the start of one ("10.1.")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's time and id. Written "<µs since 1970>-<id>"."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{(self.created_at - EPOCH) // timedelta(microseconds=1)}-{self.id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        match = CURSOR_RE.match(raw or "")
        if not match:
            raise ValueError("bad cursor")
        try:
            when = EPOCH + timedelta(microseconds=int(match.group(1)))
        except OverflowError as exc:
            raise ValueError("bad cursor") from exc
        return cls(when, int(match.group(2)))


# --- checks shared by the page's form and the API's schema (Chinese messages) ------------------


def action_problem(value: str) -> str | None:
    if not ACTION_RE.match(value):
        return "操作代码格式不正确，例如 need.created 或 need.*"
    return None


def object_type_problem(value: str) -> str | None:
    if not OBJECT_TYPE_RE.match(value):
        return "对象类型格式不正确，例如 need"
    return None


def object_id_problem(value: str) -> str | None:
    if len(value) > OBJECT_ID_MAX:
        return f"对象编号不能超过 {OBJECT_ID_MAX} 个字符"
    if any(not ch.isprintable() for ch in value):
        return "对象编号不能包含控制字符"
    return None


def ip_problem(value: str) -> str | None:
    """A full IPv4 or IPv6 address, or the beginning of one (digits, hex, dots and colons)."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    # A prefix has a separator, or is a number ("10"): "abc" is a typo, not the start of fe80::
    if not IP_PREFIX_RE.match(value) or not (value.isdigit() or "." in value or ":" in value):
        return "IP 地址格式不正确，例如 10.1.2.3 或 10.1."
    return None


def actor_problem(value: str) -> str | None:
    if len(value) > ACTOR_MAX:
        return f"操作人不能超过 {ACTOR_MAX} 个字符"
    if any(not ch.isprintable() for ch in value):
        return "操作人不能包含控制字符"
    return None


def period_problem(start: date | None, end: date | None) -> str | None:
    if start and end and end < start:
        return "结束日期不能早于开始日期"
    return None


def object_problem(object_type: str | None, object_id: str | None) -> str | None:
    if object_id and not object_type:
        return "按对象编号查询时请同时选择对象类型"
    return None


# --- the query -----------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant a local day starts."""
    return datetime.combine(day, time(0), tzinfo=_zone()).astimezone(UTC)


def _conditions(filters: Filters) -> list:
    where = []
    if filters.start:
        where.append(AuditLog.created_at >= local_midnight_utc(filters.start))
    if filters.end:
        where.append(AuditLog.created_at < local_midnight_utc(filters.end + timedelta(days=1)))
    if filters.actor:
        needle = filters.actor.strip()
        matching = sa.select(User.id).where(sa.or_(
            User.email.icontains(needle, autoescape=True),
            User.name.icontains(needle, autoescape=True)))
        where.append(AuditLog.actor_id.in_(matching))
    if filters.role == SYSTEM:
        where.append(AuditLog.actor_id.is_(None))
    elif filters.role:
        where.append(AuditLog.actor_role == filters.role)
    if filters.action:
        if filters.action.endswith(".*"):
            where.append(AuditLog.action.startswith(filters.action[:-1], autoescape=True))
        else:
            where.append(AuditLog.action == filters.action)
    if filters.object_type:
        where.append(AuditLog.object_type == filters.object_type)
        if filters.object_id:
            where.append(AuditLog.object_id == filters.object_id)
    if filters.ip:
        try:
            where.append(AuditLog.ip == str(ipaddress.ip_address(filters.ip)))
        except ValueError:
            where.append(AuditLog.ip.startswith(filters.ip, autoescape=True))
    return where


def statement(filters: Filters, cursor: Cursor | None = None) -> sa.Select:
    """(AuditLog, actor name, actor e-mail), newest first, after `cursor` when given."""
    stmt = (sa.select(AuditLog, User.name, User.email)
            .outerjoin(User, User.id == AuditLog.actor_id)
            .where(*_conditions(filters)))
    if cursor is not None:
        # The first condition lets the created_at index bound the scan; the second breaks ties.
        stmt = stmt.where(AuditLog.created_at <= cursor.created_at,
                          sa.or_(AuditLog.created_at < cursor.created_at,
                                 AuditLog.id < cursor.id))
    return stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())


def as_dict(log: AuditLog, name: str | None, email: str | None) -> dict:
    return {"id": log.id, "created_at": log.created_at, "action": log.action,
            "actor_id": log.actor_id, "actor_role": log.actor_role, "actor_name": name,
            "actor_email": email, "ip": log.ip, "object_type": log.object_type,
            "object_id": log.object_id, "before": log.before, "after": log.after}


def search(filters: Filters, cursor: Cursor | None = None,
           limit: int | None = None) -> tuple[list[dict], Cursor | None]:
    """One page of entries (PAGE_SIZE unless `limit`) and the cursor of the next page (None on
    the last one)."""
    limit = limit or PAGE_SIZE
    rows = db.session.execute(statement(filters, cursor).limit(limit + 1)).all()
    more = len(rows) > limit
    page = [as_dict(*row) for row in rows[:limit]]
    following = Cursor(page[-1]["created_at"], page[-1]["id"]) if more and page else None
    return page, following


def export(filters: Filters, limit: int = EXPORT_LIMIT) -> tuple[list[dict], bool]:
    """Up to `limit` newest entries, and whether there were more."""
    rows, following = search(filters, None, limit)
    return rows, following is not None
