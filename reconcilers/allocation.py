"""Allocation: how each credited payment settles invoices.

Payments settle in booking order (then line_id), each over its invoices in settling order (oldest
due first); an invoice takes at most what it still asks (amount - amount_paid - what earlier
payments of this run already gave it). Several payments for one invoice accumulate; what a payment
has left after its invoices stays on the prepaid balance, unallocated. A payment that fitted "short
by a bank fee" leaves its invoice paid: the shortfall is the intermediary bank's, not the customer's.

The common case, one payment for one invoice that nothing else touches, is computed with numpy; the
rest (several invoices per payment or payments per invoice) walks in order, in Python, and is few.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcilers.master import Master
from reconcilers.money import fee_tolerance, from_minor
from reconcilers.plan import MatchPlan
from reconcilers.texts import join_grouped

ALLOCATION_COLUMNS = ["line_id", "invoice_number", "amount", "invoice_status", "settles"]


def allocate(matched: pd.DataFrame, settles: pd.DataFrame, fits: pd.DataFrame, payments: pd.DataFrame,
             master: Master, plan: MatchPlan) -> tuple[pd.DataFrame, pd.Series]:
    """matched: line, pair of credited payments. Returns (allocations, line -> ';'-joined invoices settled)."""
    work = matched[["line", "pair"]].merge(settles, on="pair").sort_values(["pair", "rank"], kind="stable")
    if work.empty:
        return pd.DataFrame(columns=ALLOCATION_COLUMNS), pd.Series(dtype=object)
    booked = payments["booked"].to_numpy()[work["line"].to_numpy()]
    line_ids = np.array([str(v) for v in payments["line_id"].to_numpy(dtype=object)[work["line"].to_numpy()]], dtype=object)
    work = work.assign(booked=booked, line_id=pd.Series(line_ids, index=work.index, dtype=object)).sort_values(["booked", "line_id", "rank"], kind="stable")
    invoices = master.invoices
    remaining = invoices["remaining"].to_numpy().copy()
    fit = fits["fit"].to_numpy(dtype=object)
    amount = payments["amount"].to_numpy()

    lines = work["line"].to_numpy()
    invs = work["inv"].to_numpy()
    per_line = np.bincount(lines, minlength=len(payments))[lines]
    per_inv = np.bincount(invs, minlength=len(invoices))[invs]
    simple = (per_line == 1) & (per_inv == 1)
    given = np.zeros(len(work), dtype=np.int64)
    given[simple] = np.minimum(amount[lines[simple]], remaining[invs[simple]])
    after = remaining.copy()
    after[invs[simple]] -= given[simple]
    still_asks = np.zeros(len(work), dtype=np.int64)  # what the invoice asks after this allocation
    still_asks[simple] = after[invs[simple]]
    left = {}
    for position in np.flatnonzero(~simple):  # in booking order
        line, inv = int(lines[position]), int(invs[position])
        have = left.get(line, int(amount[line]))
        take = min(have, int(after[inv]))
        given[position] = take
        after[inv] -= take
        still_asks[position] = after[inv]
        left[line] = have - take

    pair_fit = fit[work["pair"].to_numpy()]
    currency = invoices["currency"].to_numpy(dtype=object)[invs]
    tolerance = fee_tolerance(invoices["remaining"].to_numpy()[invs], currency, plan.fee_ratio, plan.fee_fixed, plan.fee_max_share)
    fee_settled = pd.Series(pair_fit).isin(["fee", "sum_fee"]).to_numpy() & (still_asks <= tolerance)
    status = np.where((still_asks == 0) | fee_settled, "paid", "partially_paid")
    settled_by = np.where(fee_settled & (still_asks > 0), "fee", np.where(pd.Series(pair_fit).isin(["sum", "sum_fee"]).to_numpy(), "sum", pair_fit))
    keep = given > 0
    numbers = invoices["invoice_number"].to_numpy(dtype=object)[invs]
    allocations = pd.DataFrame(
        {
            "line_id": work["line_id"].to_numpy(dtype=object)[keep],
            "invoice_number": numbers[keep],
            "amount": [from_minor(int(v)) for v in given[keep]],
            "invoice_status": status[keep],
            "settles": settled_by[keep],
        }
    ).astype(object)
    joined = join_grouped(lines[keep], numbers[keep])
    return allocations.reset_index(drop=True), joined
