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
    __table_args__ = (sa.Index("ix_need_facts_day", "local_day"),)

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
