"""Read-only look-ups for the finance office's pages."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.banks.models import Bank
from matchmaker.enterprises.models import Enterprise
from matchmaker.enums import BANK_ROLES
from matchmaker.extensions import db


def office_users() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.role.in_(OFFICE_ROLES)).order_by(User.id)
    ))


def platform_counts() -> dict[str, int]:
    def count(stmt) -> int:
        return db.session.scalar(stmt) or 0

    return {
        "banks": count(sa.select(sa.func.count(Bank.id))),
        "bank_users": count(sa.select(sa.func.count(User.id)).where(User.role.in_(BANK_ROLES))),
        "enterprises": count(sa.select(sa.func.count(Enterprise.id))),
        "office_users": count(sa.select(sa.func.count(User.id))
                              .where(User.role.in_(OFFICE_ROLES))),
    }
