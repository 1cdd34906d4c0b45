import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.extensions import db


class Region(db.Model):
    """A GB/T 2260 administrative division. Retired codes stay so that old records still resolve."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    full_name: Mapped[str] = mapped_column(sa.String(128))
    level: Mapped[int] = mapped_column(sa.SmallInteger)  # 1 province, 2 prefecture, 3 county
    parent_code: Mapped[str | None] = mapped_column(sa.String(6), index=True)
    retired: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class Industry(db.Model):
    """A GB/T 4754-2017 section (A–T) or division (01–97)."""

    __tablename__ = "industries"

    code: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[int] = mapped_column(sa.SmallInteger)  # 1 section, 2 division
    parent_code: Mapped[str | None] = mapped_column(sa.String(4))


class GreenCategory(db.Model):
    """An item of 《绿色产业指导目录（2019年版）》: 6 / 30 / 211 items on its three levels."""

    __tablename__ = "green_categories"

    code: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    catalog: Mapped[str] = mapped_column(sa.String(8), default="2019")
    name: Mapped[str] = mapped_column(sa.String(128))
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    parent_code: Mapped[str | None] = mapped_column(sa.String(16), index=True)
