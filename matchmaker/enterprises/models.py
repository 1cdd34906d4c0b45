from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import UTCDateTime, utcnow
from matchmaker.enums import ENTERPRISE_SIZES, ENV_CREDIT, ENV_CREDIT_RANK
from matchmaker.extensions import db


class Enterprise(db.Model):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(sa.String(18), unique=True)  # 统一社会信用代码
    name: Mapped[str] = mapped_column(sa.String(128))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    industry_code: Mapped[str] = mapped_column(sa.ForeignKey("industries.code"))
    size: Mapped[str] = mapped_column(sa.String(8))
    env_credit: Mapped[str] = mapped_column(sa.String(8))
    contact_name: Mapped[str] = mapped_column(sa.String(64))
    phone: Mapped[str] = mapped_column(sa.String(32))
    email: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    users = relationship("User", back_populates="enterprise")
    region = relationship("Region")
    industry = relationship("Industry")

    @property
    def size_label(self) -> str:
        return ENTERPRISE_SIZES.get(self.size, self.size)

    @property
    def env_credit_label(self) -> str:
        return ENV_CREDIT.get(self.env_credit, self.env_credit)

    @property
    def env_credit_rank(self) -> int:
        return ENV_CREDIT_RANK[self.env_credit]
