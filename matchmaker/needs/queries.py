"""Read-only look-ups of needs for pages (the services own every write), and how a revision
of a need is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.accounts.models import User
from matchmaker.enums import COLLATERAL, NEED_STATUSES, PURPOSES
from matchmaker.extensions import db
from matchmaker.needs.models import Need, NeedRevision
from matchmaker.reference import codes
from matchmaker.web.filters import money


def enterprise_needs(enterprise_id: int, status: str | None = None) -> list[Need]:
    """The enterprise's needs, newest first; only those of `status` when given."""
    stmt = (sa.select(Need).options(selectinload(Need.claims))
            .where(Need.enterprise_id == enterprise_id)
            .order_by(Need.created_at.desc(), Need.id.desc()))
    if status:
        stmt = stmt.where(Need.status == status)
    return list(db.session.scalars(stmt))


def status_counts(enterprise_id: int) -> dict[str, int]:
    """{status: number of the enterprise's needs}, in the order of NEED_STATUSES."""
    rows = dict(db.session.execute(
        sa.select(Need.status, sa.func.count(Need.id))
        .where(Need.enterprise_id == enterprise_id).group_by(Need.status)
    ).all())
    return {status: rows[status] for status in NEED_STATUSES if rows.get(status)}


# --- revisions ---------------------------------------------------------------------------------

# NeedRevision.changes is keyed by the model's attributes.
REVISION_LABELS = {
    "title": "需求标题", "description": "需求描述", "purpose": "资金用途",
    "amount_wan": "融资金额", "term_months": "融资期限", "green_category_code": "绿色产业分类",
    "collateral": "担保方式", "region_code": "项目所在地区", "rate_cap": "年利率上限",
    "co2_reduction_t": "预计年减排量", "coal_saving_tce": "预计年节约标准煤",
    "project_investment_wan": "项目总投资",
    "deadline": "截止日期",
}


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def shown(attribute: str, value) -> str:
    """A stored value (as kept in a revision: text, numbers, lists) in words."""
    if value is None or value == "" or value == []:
        return "—"
    if attribute in ("amount_wan", "project_investment_wan"):
        number = _decimal(value)
        return money(number) if number is not None else str(value)
    if attribute == "term_months":
        return f"{value} 个月"
    if attribute == "rate_cap":
        return f"{value}%"
    if attribute in ("co2_reduction_t", "coal_saving_tce"):
        return f"{value} 吨"
    if attribute == "purpose":
        return PURPOSES.get(value, str(value))
    if attribute == "green_category_code":
        return codes.category_label(value)
    if attribute == "region_code":
        return codes.region_label(value)
    if attribute == "collateral":
        return "、".join(COLLATERAL.get(code, code) for code in value)
    text = str(value)
    return text if len(text) <= 80 else text[:80] + "…"


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class Revision:
    created_at: datetime
    user_name: str | None
    changes: list[Change]


def revisions(need_id: int) -> list[Revision]:
    """The edits of an open need, newest first, each change in words."""
    rows = db.session.execute(
        sa.select(NeedRevision, User.name).outerjoin(User, User.id == NeedRevision.user_id)
        .where(NeedRevision.need_id == need_id)
        .order_by(NeedRevision.created_at.desc(), NeedRevision.id.desc())
    ).all()
    order = list(REVISION_LABELS)
    out = []
    for revision, user_name in rows:
        changes = sorted((revision.changes or {}).items(),
                         key=lambda item: order.index(item[0]) if item[0] in order else 99)
        out.append(Revision(revision.created_at, user_name, [
            Change(REVISION_LABELS.get(attribute, attribute), shown(attribute, pair[0]),
                   shown(attribute, pair[1]))
            for attribute, pair in changes
        ]))
    return out
