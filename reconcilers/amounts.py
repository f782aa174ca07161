"""Does the amount fit? Against the invoices a payment names, or, when it names none, against the
candidate organization's open invoices: one of them, or a few that add up (bounded subset-sum).

Fits, per (payment, organization) pair:
- exact: the amount is what the named (or found) invoices still ask for;
- fee: it is short by no more than the bank-fee tolerance (an intermediary bank's charge);
- sum / sum_fee: several open invoices, found by subset-sum, add up to it (or to it plus a fee);
- partial / over: named invoices ask for more / less (a part-payment or an over-payment: the
  organization is still credited, the balance is prepaid);
- none: nothing to compare with.

Dates bound what the amount may match: an invoice issued after the payment cannot be what it
paid, nor one whose due date is more than `due_grace_days` past.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd

from reconcilers.master import Master
from reconcilers.money import fee_tolerance
from reconcilers.plan import IDENTIFYING_KINDS, MatchPlan

AMOUNT_FITS = ("exact", "fee", "sum", "sum_fee")


@dataclass(frozen=True)
class AmountFit:
    pairs: pd.DataFrame  # pair, fit, expected (minor units the chosen invoices still ask for), claims_paid
    settles: pd.DataFrame  # pair, inv, rank: the invoices the payment would settle, in settling order


@lru_cache(maxsize=64)
def _combinations(n: int, k: int) -> np.ndarray:
    """All k-subsets of range(n), lexicographic, as an (m, k) array (cached: it depends on n, k only)."""
    return np.array(list(combinations(range(n), k)), dtype=np.int16).reshape(-1, k)


def find_subset(remaining: np.ndarray, target: int, tolerance_of, max_size: int) -> tuple[tuple[int, ...], bool] | None:
    """The smallest set of at least two invoices whose remaining amounts add up to `target`
    exactly, else to `target` plus at most a bank fee; the earliest such set in the given order.

    `remaining` is sorted by settling preference (oldest due first), so the lexicographically
    first combination is the one a person would pick. Returns (positions, exact) or None.
    The search is exponential in max_size, so callers bound both it and len(remaining).
    """
    n = len(remaining)
    found_fee: tuple[int, ...] | None = None
    for k in range(2, min(max_size, n) + 1):
        combos = _combinations(n, k)
        sums = remaining[combos].sum(axis=1)
        exact = np.flatnonzero(sums == target)
        if len(exact):
            return tuple(int(i) for i in combos[exact[0]]), True
        if found_fee is None:
            over = sums - target
            fee = np.flatnonzero((over > 0) & (over <= tolerance_of(sums)))
            if len(fee):
                found_fee = tuple(int(i) for i in combos[fee[0]])
    return (found_fee, False) if found_fee is not None else None


def _tolerance(plan: MatchPlan, expected: np.ndarray, currency) -> np.ndarray:
    currencies = currency if isinstance(currency, np.ndarray) else np.full(len(expected), currency, dtype=object)
    return fee_tolerance(expected, currencies, plan.fee_ratio, plan.fee_fixed, plan.fee_max_share)


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Settling order: oldest due date first (no due date: the issue date), then issue date, number."""
    due = frame["due"].to_numpy().copy()
    missing = np.isnat(due)
    due[missing] = frame["issued"].to_numpy()[missing]
    order = np.lexsort((frame["inv"].to_numpy(), frame["issued"].to_numpy().view(np.int64), due.view(np.int64),
                        frame["pair"].to_numpy()))
    return frame.iloc[order]


def fit_amounts(pairs: pd.DataFrame, refs: pd.DataFrame, payments: pd.DataFrame, master: Master, plan: MatchPlan) -> AmountFit:
    line_amount = payments["amount"].to_numpy()
    line_currency = payments["currency"].to_numpy(dtype=object)
    line_booked = payments["booked"].to_numpy()
    invoices = master.invoices
    n = len(pairs)
    fit = np.full(n, "none", dtype=object)
    expected = np.zeros(n, dtype=np.int64)
    claims_paid = np.zeros(n, dtype=bool)
    settles = []

    # 1. The invoices the payment names.
    named = refs.merge(pairs[["pair", "line", "org"]], on=["line", "org"])
    named = named.join(invoices[["currency", "remaining", "is_open", "status", "issued", "due"]], on="inv")
    same_currency = named["currency"].to_numpy(dtype=object) == line_currency[named["line"].to_numpy()]
    usable = named[named["is_open"].to_numpy() & same_currency]
    claims_paid[named.loc[named["status"].to_numpy() == "paid", "pair"].to_numpy()] = True
    if len(usable):
        per_pair = usable.groupby("pair")["remaining"].sum()
        p = per_pair.index.to_numpy()
        total = per_pair.to_numpy()
        paid_in = line_amount[pairs["line"].to_numpy()[p]]
        tolerance = _tolerance(plan, total, line_currency[pairs["line"].to_numpy()[p]])
        shortfall = total - paid_in
        fit[p] = np.select([shortfall == 0, (shortfall > 0) & (shortfall <= tolerance), shortfall > 0],
                           ["exact", "fee", "partial"], "over")
        expected[p] = total
        ordered = _order(usable)
        settles.append(ordered[["pair", "inv"]])
    claims_paid[np.isin(np.arange(n), usable["pair"].to_numpy())] = False  # it names an open one too

    # 2. No open invoice named: look among the organization's open invoices.
    searching = (fit == "none") & ~pairs["amount_only"].to_numpy() | pairs["amount_only"].to_numpy()
    wanted = pairs.loc[searching, ["pair", "line", "org"]]
    open_invoices = invoices[invoices["is_open"]]
    open_invoices = _order(open_invoices.assign(pair=open_invoices["org"]))  # oldest first per org
    open_invoices = open_invoices[open_invoices.groupby("org").cumcount().to_numpy() < plan.max_open_invoices_per_org]
    candidates = wanted.merge(open_invoices[["org", "inv", "currency", "remaining", "issued", "due"]], on="org")
    lines = candidates["line"].to_numpy()
    due = candidates["due"].to_numpy().copy()
    due[np.isnat(due)] = candidates["issued"].to_numpy()[np.isnat(due)]
    eligible = (
        (candidates["currency"].to_numpy(dtype=object) == line_currency[lines])
        & (candidates["issued"].to_numpy() <= line_booked[lines])
        & (line_booked[lines] <= due + np.timedelta64(plan.due_grace_days, "D"))
    )
    candidates = _order(candidates.loc[eligible, ["pair", "line", "org", "inv", "remaining", "issued", "due"]])
    if len(candidates):
        lines = candidates["line"].to_numpy()
        remaining = candidates["remaining"].to_numpy()
        over = remaining - line_amount[lines]
        tolerance = _tolerance(plan, remaining, line_currency[lines])
        for kind, hit in (("exact", over == 0), ("fee", (over > 0) & (over <= tolerance))):
            chosen = candidates[hit & (fit[candidates["pair"].to_numpy()] == "none")].drop_duplicates("pair")
            fit[chosen["pair"].to_numpy()] = kind
            expected[chosen["pair"].to_numpy()] = chosen["remaining"].to_numpy()
            settles.append(chosen[["pair", "inv"]])
        settles.append(_subset_sums(candidates, fit, expected, line_amount, line_currency, pairs, plan))

    settle = pd.concat(settles, ignore_index=True) if settles else pd.DataFrame({"pair": [], "inv": []}, dtype=np.int64)
    settle = settle.astype(np.int64)
    settle["rank"] = settle.groupby("pair").cumcount()
    return AmountFit(pd.DataFrame({"pair": pairs["pair"].to_numpy(), "fit": pd.Series(fit, dtype=object), "expected": expected,
                                   "claims_paid": claims_paid}),
                     settle.reset_index(drop=True))


def _subset_sums(candidates: pd.DataFrame, fit: np.ndarray, expected: np.ndarray, line_amount: np.ndarray,
                 line_currency: np.ndarray, pairs: pd.DataFrame, plan: MatchPlan) -> pd.DataFrame:
    """Subset-sum only where it can succeed: no single invoice fitted, at least two eligible
    invoices, and their total covers the amount. Two invoices are one comparison, done for all
    pairs at once; only pairs with three or more eligible invoices search combinations."""
    # a few invoices adding up is weaker evidence than one: only where the organization is already
    # singled out (an invoice, a tax ID, an account or the exact name), never for a fuzzy name alone
    identified = pairs[list(IDENTIFYING_KINDS)].to_numpy().any(axis=1)
    pair_of = candidates["pair"].to_numpy()
    pending = candidates[(fit[pair_of] == "none") & identified[pair_of]]
    empty = pd.DataFrame({"pair": [], "inv": []}, dtype=np.int64)
    if pending.empty:
        return empty
    pair_of = pending["pair"].to_numpy()
    start = np.flatnonzero(np.r_[True, pair_of[1:] != pair_of[:-1]])  # rows come grouped by pair
    size = np.diff(np.r_[start, len(pending)])
    remaining = pending["remaining"].to_numpy()
    total = np.add.reduceat(remaining, start)
    group_pair = pair_of[start]
    lines = pairs["line"].to_numpy()[group_pair]
    amount = line_amount[lines]
    currency = line_currency[lines]
    over = total - amount
    tolerance = _tolerance(plan, total, currency)
    invs = pending["inv"].to_numpy()
    found_pairs, found_invs = [], []

    both = (size == 2) & ((over == 0) | ((over > 0) & (over <= tolerance)))
    for kind, hit in (("sum", both & (over == 0)), ("sum_fee", both & (over > 0))):
        fit[group_pair[hit]] = kind
        expected[group_pair[hit]] = total[hit]
        rows = np.concatenate([start[hit], start[hit] + 1])
        found_pairs.append(pair_of[rows])
        found_invs.append(invs[rows])

    search = np.flatnonzero((size >= 3) & (total >= amount))
    for g in search:
        chunk = slice(start[g], start[g] + min(size[g], plan.max_open_invoices_per_org))
        hit = find_subset(remaining[chunk], int(amount[g]), lambda sums: _tolerance(plan, sums, currency[g]),
                          plan.max_invoices_per_payment)
        if hit is None:
            continue
        positions, exact = hit
        pair = int(group_pair[g])
        fit[pair] = "sum" if exact else "sum_fee"
        chosen = np.arange(chunk.start, chunk.stop)[list(positions)]
        expected[pair] = int(remaining[chosen].sum())
        found_pairs.append(np.full(len(chosen), pair))
        found_invs.append(invs[chosen])
    if not found_pairs:
        return empty
    found = pd.DataFrame({"pair": np.concatenate(found_pairs), "inv": np.concatenate(found_invs)}, dtype=np.int64)
    return found.sort_values("pair", kind="stable")
