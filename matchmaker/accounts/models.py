import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import UTCDateTime, utcnow
from matchmaker.enums import ROLES
from matchmaker.extensions import db

user_regions = sa.Table(
    "user_regions",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_code", sa.ForeignKey("regions.code"), primary_key=True),
)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """One person with exactly one role; the organisation column that fits the role is set."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role IN ({})".format(", ".join(f"'{r}'" for r in ROLES)), name="role"),
        sa.CheckConstraint(
            "role <> 'enterprise' OR enterprise_id IS NOT NULL", name="enterprise_org"
        ),
        sa.CheckConstraint(
            "role NOT IN ('bank_manager', 'bank_admin') OR bank_id IS NOT NULL", name="bank_org"
        ),
        sa.CheckConstraint("role <> 'office' OR office_id IS NOT NULL", name="office_org"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(64))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    role: Mapped[str] = mapped_column(sa.String(16), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bank_branches.id"))
    office_id: Mapped[int | None] = mapped_column(sa.ForeignKey("offices.id"))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # Flask-Login's alternative id: replaced on password change, which ends every other session.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrong passwords in a row since the last good one; at LOGIN_MAX_FAILURES the account is
    # locked until locked_until.
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    enterprise = relationship("Enterprise", back_populates="users")
    bank = relationship("Bank", back_populates="users")
    branch = relationship("BankBranch")
    office = relationship("Office", back_populates="users")
    regions = relationship("Region", secondary=user_regions, order_by="Region.code")

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    @property
    def organisation_name(self) -> str:
        org = self.enterprise or self.bank or self.office
        return org.name if org else "GreenMatch"

    @property
    def region_codes(self) -> list[str]:
        return [r.code for r in self.regions]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for the API. Only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
