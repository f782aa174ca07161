"""Money as exact integers: Decimal in, Decimal out, int64 minor units in between.

The minor unit is 0.0001 of a currency unit, the ledger's own scale (`ledger.types.SCALE`), so a
conversion never rounds: an amount with a fifth decimal place is refused, loudly. Integers let the
engine compare, sum and subtract a million amounts at once with numpy; no float ever holds money.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Mapping

import numpy as np
import pyarrow as pa

SCALE = 4
UNIT = 10**SCALE  # minor units in one currency unit


def to_minor(values: Iterable) -> np.ndarray:
    """int64 minor units from Decimal (or int) amounts; None becomes 0.

    pyarrow converts the Decimal objects in C and raises when a value would lose digits at this
    scale; the unscaled integers are then read straight from the decimal128 buffer.
    """
    array = pa.array(list(values) if not isinstance(values, (list, np.ndarray)) else values, type=pa.decimal128(38, SCALE))
    if array.null_count:
        array = array.fill_null(Decimal(0))
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    words = np.frombuffer(array.buffers()[1], dtype=np.int64, count=2 * (len(array) + array.offset))
    words = words.reshape(-1, 2)[array.offset :]
    low, high = words[:, 0], words[:, 1]
    if not np.array_equal(high, np.where(low < 0, -1, 0)):
        raise OverflowError("an amount does not fit in 64-bit minor units")
    return low.copy()


def from_minor(value: int) -> Decimal:
    """A Decimal with two places (or four, when the minor units need them)."""
    exact = Decimal(int(value)).scaleb(-SCALE)
    if int(value) % (UNIT // 100) == 0:
        return exact.quantize(Decimal("0.01"))
    return exact


def to_minor_scalar(value: Decimal) -> int:
    scaled = Decimal(value).scaleb(SCALE)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {SCALE} decimal places")
    return int(scaled)


def fee_tolerance(expected: np.ndarray, currencies: np.ndarray, fee_ratio: Decimal, fee_fixed: Mapping[str, Decimal],
                  fee_max_share: Decimal) -> np.ndarray:
    """How far short of `expected` (minor units) a payment may fall and still settle in full.

    Only in the currencies of international transfers (the keys of fee_fixed): there an
    intermediary bank may take its fee out of the money. The tolerance is max(fee_ratio * expected,
    fee_fixed[currency]), but never more than fee_max_share * expected: a fixed 35 USD fee may not
    turn a 40 USD payment into the settlement of a 75 USD invoice. A domestic payment that falls
    short is a partial payment. Ratios are applied as exact integer fractions, floored.
    """
    expected = np.asarray(expected, dtype=np.int64)
    ratio_num, ratio_den = Decimal(fee_ratio).as_integer_ratio()
    share_num, share_den = Decimal(fee_max_share).as_integer_ratio()
    currencies = np.asarray(currencies, dtype=object)
    tolerance = np.zeros(len(expected), dtype=np.int64)
    for currency, amount in sorted(fee_fixed.items()):
        here = currencies == currency
        tolerance[here] = np.maximum(expected[here] * ratio_num // ratio_den, to_minor_scalar(amount))
    return np.minimum(tolerance, expected * share_num // share_den)
