"""Column types: money is exact on every backend.

PostgreSQL stores NUMERIC(20, 4). SQLite has no decimal type (SQLAlchemy would store REAL, a float),
so there money is stored as integer ten-thousandths, which SQLite sums exactly.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.types import TypeDecorator

SCALE = 4
_FACTOR = Decimal(10) ** SCALE
#: the largest amount each backend holds: NUMERIC(20, 4), and ten-thousandths in SQLite's signed 64-bit integer
LIMITS = {"sqlite": Decimal(2**63 - 1).scaleb(-SCALE), "postgresql": Decimal(10) ** (20 - SCALE) - Decimal(1).scaleb(-SCALE)}


class Money(TypeDecorator):
    impl = Numeric(20, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, SCALE, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, (Decimal, int)):
            raise TypeError(f"money must be Decimal or int, got {type(value).__name__}")
        value = Decimal(value)
        scaled = value * _FACTOR
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {SCALE} decimal places")
        limit = LIMITS.get(dialect.name, LIMITS["postgresql"])
        if abs(value) > limit:
            raise ValueError(f"{value} is beyond what a money column holds (at most ±{limit})")
        if dialect.name == "sqlite":
            return int(scaled)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-SCALE)
        return Decimal(value)


def money_text(value: Decimal) -> str:
    """A money amount for people: two decimals, more only when the amount has them (1500.00, 0.0125)."""
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else str(value.normalize())
