from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import UTCDateTime, utcnow
from matchmaker.enums import BANK_KINDS
from matchmaker.extensions import db

bank_regions = sa.Table(
    "bank_regions",
    db.metadata,
    sa.Column("bank_id", sa.ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_code", sa.ForeignKey("regions.code"), primary_key=True),
)


class Bank(db.Model):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    regions = relationship("Region", secondary=bank_regions, order_by="Region.code")
    branches = relationship("BankBranch", back_populates="bank", order_by="BankBranch.id")
    users = relationship("User", back_populates="bank", order_by="User.id")

    @property
    def kind_label(self) -> str:
        return BANK_KINDS.get(self.kind, self.kind)

    @property
    def region_codes(self) -> list[str]:
        return [r.code for r in self.regions]


class BankBranch(db.Model):
    """A branch (支行) of a bank, located in one county; used for locality in ranking."""

    __tablename__ = "bank_branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))

    bank = relationship("Bank", back_populates="branches")
    region = relationship("Region")
