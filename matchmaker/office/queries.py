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


def need_region_choices() -> list[tuple[str, str]]:
    """Cities and their counties with published needs, for the dashboard's region filter."""
    from matchmaker.office.models import NeedFacts
    from matchmaker.reference.codes import region, region_label

    present = sorted(db.session.scalars(sa.select(NeedFacts.region_code).distinct()))
    choices: list[tuple[str, str]] = []
    seen_cities: set[str] = set()
    for code in present:
        city = code[:4] + "00"
        if city not in seen_cities:
            seen_cities.add(city)
            choices.append((city, region_label(city)))
        if code != city:
            info = region(code)
            choices.append((code, "　" + (info.name if info else code)))
    return choices
