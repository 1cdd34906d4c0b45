from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import Money, UTCDateTime, utcnow
from matchmaker.extensions import db


class Office(db.Model):
    """A finance office (金融办 / 人民银行) that oversees the platform for its region."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users = relationship("User", back_populates="office")
    region = relationship("Region")


class NeedFacts(db.Model):
    """One row per published need: what the office's statistics group and add up, kept current
    by `matchmaker.office.facts` (an outbox consumer) so that the dashboard reads one narrow
    table instead of joining needs, enterprises, industries and claims on every view.

    Flags are 0/1 integers (they are summed); amounts count the need's claims of every bank.
    """

    __tablename__ = "need_facts"
    __table_args__ = (sa.Index("ix_need_facts_day", "local_day"),
                      # the dashboard's region choices: one index probe per region with needs
                      sa.Index("ix_need_facts_region", "region_code"))

    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"),
                                         primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_day: Mapped[str] = mapped_column(sa.String(10))  # YYYY-MM-DD in DISPLAY_TIMEZONE
    local_month: Mapped[str] = mapped_column(sa.String(7))
    region_code: Mapped[str] = mapped_column(sa.String(12))
    city_code: Mapped[str] = mapped_column(sa.String(12))
    category_top: Mapped[str] = mapped_column(sa.String(4))
    size: Mapped[str] = mapped_column(sa.String(8))
    industry_section: Mapped[str | None] = mapped_column(sa.String(4))
    amount_wan: Mapped[Decimal] = mapped_column(Money)
    grabbed: Mapped[int] = mapped_column(sa.SmallInteger)
    assigned: Mapped[int] = mapped_column(sa.SmallInteger)
    contacted: Mapped[int] = mapped_column(sa.SmallInteger)
    credit_approved: Mapped[int] = mapped_column(sa.SmallInteger)
    disbursed: Mapped[int] = mapped_column(sa.SmallInteger)
    first_grab_hours: Mapped[float | None] = mapped_column(sa.Float)
    credit_days: Mapped[float | None] = mapped_column(sa.Float)
    amount_approved_wan: Mapped[Decimal] = mapped_column(Money)
    amount_disbursed_wan: Mapped[Decimal] = mapped_column(Money)
    co2_financed_t: Mapped[Decimal] = mapped_column(sa.Numeric(16, 4))
    coal_financed_tce: Mapped[Decimal] = mapped_column(sa.Numeric(16, 4), server_default="0")
    category_code: Mapped[str | None] = mapped_column(sa.String(16))  # the full 2019 code


class ClaimFacts(db.Model):
    """One row per claim on a published need, with its need's grouping keys copied in, so the
    bank ranking and a bank's share are one-table aggregates. Kept with `NeedFacts`."""

    __tablename__ = "claim_facts"
    __table_args__ = (
        # Each bank's median hours to grab read in order from the index alone (with the cohort's
        # keys included on PostgreSQL), not sorted from the table on every dashboard view.
        sa.Index("ix_claim_facts_bank_hours", "bank_id", "grab_hours",
                 postgresql_include=["local_day", "region_code", "category_top", "size"]),
        sa.Index("ix_claim_facts_need", "need_id"))

    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id", ondelete="CASCADE"),
                                          primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id", ondelete="CASCADE"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_day: Mapped[str] = mapped_column(sa.String(10))
    local_month: Mapped[str] = mapped_column(sa.String(7))
    region_code: Mapped[str] = mapped_column(sa.String(12))
    city_code: Mapped[str] = mapped_column(sa.String(12))
    category_top: Mapped[str] = mapped_column(sa.String(4))
    size: Mapped[str] = mapped_column(sa.String(8))
    industry_section: Mapped[str | None] = mapped_column(sa.String(4))
    assigned: Mapped[bool] = mapped_column(sa.Boolean)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    grab_hours: Mapped[float | None] = mapped_column(sa.Float)  # grabs only
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credit_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_amount_wan: Mapped[Decimal | None] = mapped_column(Money)
    disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disbursed_amount_wan: Mapped[Decimal | None] = mapped_column(Money)
    co2_share_t: Mapped[Decimal] = mapped_column(sa.Numeric(16, 4))
    coal_share_tce: Mapped[Decimal] = mapped_column(sa.Numeric(16, 4), server_default="0")
    category_code: Mapped[str | None] = mapped_column(sa.String(16))
    stars: Mapped[int | None] = mapped_column(sa.SmallInteger)
