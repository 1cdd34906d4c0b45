"""Read-only look-ups for the claim pages and the API."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.audit.models import AuditLog
from matchmaker.claims import states
from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need


def claims_for(user) -> sa.Select:
    """The claims `user` may list: a manager's own, a bank admin's bank's, an enterprise's needs',
    everything for the office."""
    stmt = sa.select(Claim)
    if user.role == "bank_manager":
        return stmt.where(Claim.manager_id == user.id)
    if user.role == "bank_admin":
        return stmt.where(Claim.bank_id == user.bank_id)
    if user.role == "enterprise":
        return stmt.join(Need, Need.id == Claim.need_id).where(
            Need.enterprise_id == user.enterprise_id)
    if user.role in OFFICE_ROLES:
        return stmt
    return stmt.where(sa.false())


def with_details(stmt: sa.Select) -> sa.Select:
    """Claims with what a claim's page or payload shows: what each has one of in the same
    query, its events in one more (and, for `sees_contacts`, its need's claims)."""
    return stmt.options(
        joinedload(Claim.need).joinedload(Need.enterprise),
        joinedload(Claim.need).selectinload(Need.claims), joinedload(Claim.bank),
        joinedload(Claim.manager), joinedload(Claim.product), joinedload(Claim.rating),
        selectinload(Claim.events),
    )


def status_counts(stmt: sa.Select) -> dict[str, int]:
    sub = stmt.subquery()
    return dict(db.session.execute(
        sa.select(sub.c.status, sa.func.count()).group_by(sub.c.status)).all())


def need_trail(need_id: int) -> list[dict]:
    """Every audited change of a need and its claims, oldest first, with the actor's name."""
    rows = db.session.execute(
        sa.select(AuditLog, User.name, User.email)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.object_type == "need", AuditLog.object_id == str(need_id))
        .order_by(AuditLog.id)).all()
    return [{"id": log.id, "created_at": log.created_at, "action": log.action,
             "actor_id": log.actor_id, "actor_role": log.actor_role, "actor_name": name,
             "actor_email": email, "ip": log.ip, "before": log.before, "after": log.after}
            for log, name, email in rows]


def office_queue() -> dict[str, list[Need]]:
    """The office's work: needs nobody grabbed (escalated), and needs whose pick lapsed and that
    nobody has picked again yet."""
    details = (selectinload(Need.enterprise), selectinload(Need.claims).selectinload(Claim.bank))
    escalated = db.session.scalars(
        sa.select(Need).where(Need.status == "escalated").options(*details)
        .order_by(Need.escalated_at, Need.id)).all()
    lapsed = db.session.scalars(
        sa.select(Need).where(Need.status.in_(states.PICKING_NEED),
                              Need.claims.any(Claim.status == "lapsed")).options(*details)
        .order_by(Need.updated_at.desc(), Need.id)).all()
    return {"escalated": list(escalated), "lapsed": list(lapsed)}


def live_claims_of_manager(manager_id: int) -> int:
    """How many claims the manager still works on (to hand over when the account ends)."""
    return db.session.scalar(sa.select(sa.func.count(Claim.id)).where(
        Claim.manager_id == manager_id, Claim.status.in_(states.LIVE_CLAIM))) or 0


def bank_managers(bank_id: int) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.bank_id == bank_id, User.role == "bank_manager",
                              User.active.is_(True)).order_by(User.name, User.id)))
