from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.database import UTCDateTime, utcnow
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
