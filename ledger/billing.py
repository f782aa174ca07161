"""Plan activation: a plan's monthly fee is debited when the balance can pay it.

The billing FAQ: after the balance is topped up, the plan's monthly fee is debited and the features
are activated. So each monthly period of a subscription activates on the first day, from the
period's start, at whose end the prepaid balance covers the fee; until then it waits. Pure logic
over plain data; the reconcile service reads the inputs and posts the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable


@dataclass(frozen=True)
class Subscription:
    org_id: str
    plan: str
    starts_on: date
    ends_on: date | None
    currency: str
    monthly_fee: Decimal


@dataclass(frozen=True)
class Activation:
    org_id: str
    plan: str
    period_start: date
    activated_on: date
    currency: str
    amount: Decimal


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def period_starts(subscription: Subscription, as_of: date) -> list[date]:
    starts, n = [], 0
    while True:
        start = add_months(subscription.starts_on, n)
        if start > as_of or (subscription.ends_on and start > subscription.ends_on):
            return starts
        starts.append(start)
        n += 1


def activations(
    subscriptions: Iterable[Subscription],
    movements: dict[tuple[str, str], dict[date, Decimal]],
    debited: set[tuple[str, str, date]],
    as_of: date,
) -> list[Activation]:
    """New activations up to `as_of`.

    `movements[(org, currency)][day]` is the net change of the organization's balance on that day
    (credits positive, debits negative, fees already debited included); `debited` holds the
    (org, plan, period_start) already charged. Periods are charged in order, one organization's
    earlier fees reducing the balance its later ones see.
    """
    found: list[Activation] = []
    by_account: dict[tuple[str, str], list[Subscription]] = {}
    for s in subscriptions:
        by_account.setdefault((s.org_id, s.currency), []).append(s)
    for account, subs in sorted(by_account.items()):
        days = dict(movements.get(account, {}))
        pending = sorted(
            (start, s) for s in subs for start in period_starts(s, as_of) if (s.org_id, s.plan, start) not in debited
        )
        for period_start, sub in pending:
            activated = _first_covered_day(days, period_start, as_of, sub.monthly_fee)
            if activated is None:
                break  # the balance cannot pay this period yet; later periods wait behind it
            days[activated] = days.get(activated, Decimal(0)) - sub.monthly_fee
            found.append(Activation(sub.org_id, sub.plan, period_start, activated, sub.currency, sub.monthly_fee))
    return found


def _first_covered_day(days: dict[date, Decimal], start: date, end: date, fee: Decimal) -> date | None:
    balance = sum((amount for day, amount in days.items() if day < start), Decimal(0))
    # Only days with movements can change the answer, plus the period's first day.
    candidates = sorted({start, *(d for d in days if start <= d <= end)})
    for day in candidates:
        balance += days.get(day, Decimal(0))
        if balance >= fee:
            return day
    return None


