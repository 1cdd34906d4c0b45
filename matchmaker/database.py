"""Column types and helpers shared by every domain's models."""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

# Money in 万元 with two decimals; up to 999,999,999,999.99 万元 is far beyond any single loan.
Money = sa.Numeric(14, 2, asdecimal=True)
# Annual interest rate in percent, e.g. 3.85.
Rate = sa.Numeric(5, 2, asdecimal=True)
# Tonnes of CO2 a year.
Tonnes = sa.Numeric(14, 2, asdecimal=True)

TWO_PLACES = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every backend.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so values are stored as naive UTC
    and made aware again on the way out. Naive datetimes are refused: they are always a bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def quantize_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(TWO_PLACES)
