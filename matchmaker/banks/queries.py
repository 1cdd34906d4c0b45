"""Read-only look-ups of banks and their users for pages (the services own every write)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.accounts.models import User
from matchmaker.banks.models import Bank
from matchmaker.enums import BANK_ROLES
from matchmaker.extensions import db


def all_banks() -> list[Bank]:
    return list(db.session.scalars(
        sa.select(Bank).options(selectinload(Bank.regions), selectinload(Bank.users))
        .order_by(Bank.name)
    ))


def bank_choices() -> list[tuple[int, str]]:
    """(id, name) of every bank by name: a filter's choices, without the banks' users."""
    return [tuple(row) for row in db.session.execute(
        sa.select(Bank.id, Bank.name).order_by(Bank.name, Bank.id))]


def bank_users(bank_id: int, roles: tuple[str, ...] = BANK_ROLES) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).options(selectinload(User.regions))
        .where(User.bank_id == bank_id, User.role.in_(roles))
        .order_by(User.role.desc(), User.id)  # admins first, then managers
    ))


def bank_user(bank_id: int, user_id: int) -> User | None:
    """A user of this bank, or None (also when the id belongs to another bank's user)."""
    return db.session.scalar(
        sa.select(User).where(User.id == user_id, User.bank_id == bank_id,
                              User.role.in_(BANK_ROLES))
    )
