"""Finance-office accounts."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.accounts.services import (
    check_new_user,
    ensure_email_free,
    new_user,
    normalize_email,
)
from matchmaker.audit.services import record
from matchmaker.errors import FieldErrors
from matchmaker.extensions import db
from matchmaker.office.models import Office
from workers.dispatch import commit

DEFAULT_OFFICE_NAME = "地方金融监督管理局"


def default_office() -> Office:
    office = db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
    if office is None:
        office = Office(name=DEFAULT_OFFICE_NAME)
        db.session.add(office)
        db.session.flush()
    return office


def create_office_user(*, email: str, password: str, name: str, actor: User | None,
                       office: Office | None = None) -> User:
    errors = FieldErrors()
    email = normalize_email(email)
    check_new_user(errors, email, password, name)
    errors.raise_if_any()
    ensure_email_free(email)
    office = office or default_office()
    user = new_user(email=email, password=password, name=name, role="office", office_id=office.id)
    db.session.flush()
    record("user.created", "user", user.id,
           after={"email": email, "name": name, "role": "office", "office_id": office.id},
           actor=actor)
    commit()
    return user
