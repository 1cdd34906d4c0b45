from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import Money, Rate, Tonnes, UTCDateTime, utcnow
from matchmaker.enums import NEED_STATUSES, PURPOSES
from matchmaker.extensions import db


class Need(db.Model):
    """A financing need an enterprise posts; banks grab it (抢单)."""

    __tablename__ = "needs"
    __table_args__ = (
        sa.CheckConstraint("amount_wan > 0", name="amount_positive"),
        sa.CheckConstraint("term_months BETWEEN 1 AND 360", name="term_range"),
        sa.CheckConstraint("rate_cap IS NULL OR rate_cap >= 0", name="rate_cap_non_negative"),
        sa.CheckConstraint(
            "co2_reduction_t IS NULL OR co2_reduction_t >= 0", name="co2_non_negative"
        ),
        sa.CheckConstraint(
            "coal_saving_tce IS NULL OR coal_saving_tce >= 0", name="coal_non_negative"
        ),
        sa.Index("ix_needs_status_published_at", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    purpose: Mapped[str] = mapped_column(sa.String(20))
    amount_wan: Mapped[Decimal] = mapped_column(Money)
    term_months: Mapped[int] = mapped_column(sa.Integer)
    green_category_code: Mapped[str] = mapped_column(sa.ForeignKey("green_categories.code"),
                                                     index=True)
    collateral: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    rate_cap: Mapped[Decimal | None] = mapped_column(Rate)
    co2_reduction_t: Mapped[Decimal | None] = mapped_column(Tonnes)
    # Standard coal saved a year (tce), stated or from the benefit estimator (matchmaker.green).
    coal_saving_tce: Mapped[Decimal | None] = mapped_column(Tonnes)
    # Total project investment, for the bank's share of the reduction (2013 measurement guide).
    project_investment_wan: Mapped[Decimal | None] = mapped_column(Money)
    deadline: Mapped[date | None] = mapped_column(sa.Date)
    # Title and description segmented once (jieba), space-separated: what the engines index.
    search_tokens: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    withdraw_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The sweep's reminder one working day before escalation, sent once.
    escalation_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    enterprise = relationship("Enterprise")
    category = relationship("GreenCategory")
    region = relationship("Region")
    claims = relationship("Claim", back_populates="need", order_by="Claim.slot")

    @property
    def status_label(self) -> str:
        return NEED_STATUSES.get(self.status, self.status)

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)


class NeedRevision(db.Model):
    """What changed when an open need was edited: {field: [before, after]}."""

    __tablename__ = "need_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    changes: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
