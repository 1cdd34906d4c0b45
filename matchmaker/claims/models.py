from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import Money, Rate, UTCDateTime, utcnow
from matchmaker.enums import CLAIM_STATUSES
from matchmaker.extensions import db


class Claim(db.Model):
    """A bank's grab of a need (抢单).

    The cap on grabs lives in the database: each claim takes a numbered slot, and
    (need, slot) and (need, bank) are unique, so no race can seat a fourth bank or a bank twice.
    """

    __tablename__ = "claims"
    __table_args__ = (
        sa.UniqueConstraint("need_id", "bank_id", name="uq_claims_need_bank"),
        sa.UniqueConstraint("need_id", "slot", name="uq_claims_need_slot"),
        sa.CheckConstraint("slot >= 1", name="slot_positive"),
        sa.CheckConstraint(
            "approved_amount_wan IS NULL OR approved_amount_wan > 0", name="approved_positive"
        ),
        sa.CheckConstraint(
            "disbursed_amount_wan IS NULL OR disbursed_amount_wan > 0", name="disbursed_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"))
    slot: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[str] = mapped_column(sa.String(20), default="claimed", index=True)
    assigned_by_office: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credit_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # 派单: the office user who assigned the need to this bank.
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The sweep's reminder one working day before contact_due_at, sent once.
    contact_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_amount_wan: Mapped[Decimal | None] = mapped_column(Money)
    approved_rate: Mapped[Decimal | None] = mapped_column(Rate)
    disbursed_amount_wan: Mapped[Decimal | None] = mapped_column(Money)
    decline_reason: Mapped[str | None] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)

    need = relationship("Need", back_populates="claims")
    bank = relationship("Bank")
    manager = relationship("User", foreign_keys=[manager_id])
    assigned_by = relationship("User", foreign_keys=[assigned_by_id])
    product = relationship("Product")
    events = relationship("ClaimEvent", back_populates="claim", order_by="ClaimEvent.id")
    rating = relationship("Rating", back_populates="claim", uselist=False)

    @property
    def status_label(self) -> str:
        return CLAIM_STATUSES.get(self.status, self.status)


class ClaimEvent(db.Model):
    """What a bank recorded on its claim: contacted, credit_approved, disbursed, declined."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(
        sa.ForeignKey("claims.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(sa.String(20))
    amount_wan: Mapped[Decimal | None] = mapped_column(Money)
    rate: Mapped[Decimal | None] = mapped_column(Rate)
    reason_code: Mapped[str | None] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim = relationship("Claim", back_populates="events")
    user = relationship("User")


class Rating(db.Model):
    """An enterprise's rating (1–5) of the bank that served its need."""

    __tablename__ = "ratings"
    __table_args__ = (sa.CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id"), unique=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"))
    stars: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    claim = relationship("Claim", back_populates="rating")
