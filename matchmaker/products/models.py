from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import Money, Rate, UTCDateTime, utcnow
from matchmaker.extensions import db

product_categories = sa.Table(
    "product_categories",
    db.metadata,
    sa.Column("product_id", sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_code", sa.ForeignKey("green_categories.code"), primary_key=True),
)

product_regions = sa.Table(
    "product_regions",
    db.metadata,
    sa.Column("product_id", sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_code", sa.ForeignKey("regions.code"), primary_key=True),
)


class Product(db.Model):
    """A loan product a bank publishes. Eligibility rules of DESIGN section 5 read these fields."""

    __tablename__ = "products"
    __table_args__ = (
        sa.CheckConstraint("min_amount_wan > 0", name="min_amount_positive"),
        sa.CheckConstraint("min_amount_wan <= max_amount_wan", name="amount_range"),
        sa.CheckConstraint("min_term_months >= 1", name="min_term_positive"),
        sa.CheckConstraint("min_term_months <= max_term_months", name="term_range"),
        sa.CheckConstraint("max_term_months <= 360", name="max_term"),
        sa.CheckConstraint("rate_min >= 0", name="rate_non_negative"),
        sa.CheckConstraint("rate_min <= rate_max", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    min_amount_wan: Mapped[Decimal] = mapped_column(Money)
    max_amount_wan: Mapped[Decimal] = mapped_column(Money)
    min_term_months: Mapped[int] = mapped_column(sa.Integer)
    max_term_months: Mapped[int] = mapped_column(sa.Integer)
    rate_min: Mapped[Decimal] = mapped_column(Rate)
    rate_max: Mapped[Decimal] = mapped_column(Rate)
    # Stable codes of DESIGN section 4; small closed sets, so a JSON list is enough.
    collateral: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    enterprise_sizes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    min_env_credit: Mapped[str] = mapped_column(sa.String(8), default="yellow")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, index=True)
    # Name and description segmented once (jieba), space-separated: what the engines index.
    search_tokens: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    bank = relationship("Bank")
    categories = relationship(
        "GreenCategory", secondary=product_categories, order_by="GreenCategory.code"
    )
    regions = relationship("Region", secondary=product_regions, order_by="Region.code")

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]

    @property
    def region_codes(self) -> list[str]:
        return [r.code for r in self.regions]
