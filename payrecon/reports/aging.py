"""Age of unmatched money in business days: the delays it causes and the aging buckets.

Pure functions over DataFrames; the calendar decides which days count.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from payrecon.business_calendar import BusinessCalendar

BUCKETS = (("0-1", 0, 1), ("2-3", 2, 3), ("4-7", 4, 7), ("8+", 8, None))


def bucket_of(age: int) -> str:
    for name, low, high in BUCKETS:
        if age >= low and (high is None or age <= high):
            return name
    raise ValueError(f"negative age {age}")


def _ages(unmatched: pd.DataFrame, as_of: date, calendar: BusinessCalendar) -> pd.Series:
    # One calendar walk per distinct booking day, not per payment.
    days = {d: calendar.business_days_between(d, as_of) for d in set(unmatched["booking_date"])}
    return unmatched["booking_date"].map(days)


def unmatched_aging(unmatched: pd.DataFrame, as_of: date, calendar: BusinessCalendar) -> pd.DataFrame:
    columns = ["bucket", "currency", "payments", "amount"]
    current = unmatched[unmatched["booking_date"] <= as_of]
    if current.empty:
        return pd.DataFrame(columns=columns)
    frame = current.assign(bucket=_ages(current, as_of, calendar).map(bucket_of))
    grouped = frame.groupby(["bucket", "currency"], sort=True).agg(
        payments=("amount", "size"), amount=("amount", lambda s: sum(s, Decimal(0)))
    )
    return grouped.reset_index()[columns]


DELAY_COLUMNS = ["kind", "ref", "org_id", "currency", "amount", "expected_by", "age_business_days", "flagged_at"]


def late(items: pd.DataFrame, as_of: date, calendar: BusinessCalendar, allowed_days: int, flagged_at: datetime) -> pd.DataFrame:
    """Items (kind, ref, org_id, currency, amount, since) waiting longer than `allowed_days`
    business days by the end of `as_of`."""
    current = items[items["since"] <= as_of] if not items.empty else items
    if current.empty:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    ages = current["since"].map({d: calendar.business_days_between(d, as_of) for d in set(current["since"])})
    overdue = current[ages > allowed_days]
    if overdue.empty:
        return pd.DataFrame(columns=DELAY_COLUMNS)
    expected = {d: calendar.add_business_days(d, allowed_days) for d in set(overdue["since"])}
    return pd.DataFrame(
        {
            "kind": overdue["kind"],
            "ref": overdue["ref"],
            "org_id": overdue["org_id"],
            "currency": overdue["currency"],
            "amount": overdue["amount"],
            "expected_by": overdue["since"].map(expected),
            "age_business_days": ages[ages > allowed_days].astype("int32"),
            "flagged_at": pd.Timestamp(flagged_at),
        },
        columns=DELAY_COLUMNS,
    )


def suspense_delays(unmatched: pd.DataFrame, as_of: date, calendar: BusinessCalendar, allowed_days: int, flagged_at: datetime) -> pd.DataFrame:
    """Unidentified money older than its allowed business days."""
    items = pd.DataFrame({"kind": "suspense", "ref": unmatched["line_id"], "org_id": None, "currency": unmatched["currency"],
                          "amount": unmatched["amount"], "since": unmatched["booking_date"]})
    return late(items, as_of, calendar, allowed_days, flagged_at)
