"""The matching engine: bank lines in, decisions, allocations and lessons out. Plain functions over
DataFrames: no Prefect, no database (the service loads the inputs and stores the outputs).

    result = match(lines, organizations, organization_ibans, invoices, MatchPlan.from_settings(settings),
                   organization_names=learned_names)

Steps, each its own module:
1. payments: incoming lines with integer money and the payer as far as the statement tells;
2. master: organizations, identifiers, names and invoices indexed for blocking;
3. candidates: blocking joins give (payment, organization) pairs with their evidence;
4. amounts: does the amount fit the named invoices, one open invoice, or a few that add up;
5. scoring: each pair earns the confidence of the strongest rule its evidence satisfies;
6. decisions: one organization or none per payment, conflicts to review, ranked suggestions;
7. allocation: which invoices each credit settles; learning: what the credits teach.

The engine is deterministic: every ordering has an explicit key and ties end on org_id / line_id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from reconcilers.allocation import ALLOCATION_COLUMNS, allocate
from reconcilers.amounts import AMOUNT_FITS, fit_amounts
from reconcilers.candidates import gather
from reconcilers.decisions import decide
from reconcilers.learning import LEARNED_COLUMNS, learned_from
from reconcilers.master import build_master
from reconcilers.payments import prepare_payments
from reconcilers.plan import MatchPlan
from reconcilers.scoring import score

DECISION_COLUMNS = ["line_id", "status", "org_id", "invoice_numbers", "rule", "confidence", "reason", "suggestions"]


@dataclass(frozen=True)
class MatchResult:
    """decisions: one row per incoming line (DECISION_COLUMNS; confidence a Decimal with 3 places,
    suggestions a JSON list of up to 3 {org_id, invoice_numbers, confidence, reason});
    allocations: line_id, invoice_number, amount (Decimal), invoice_status (after this payment:
    paid | partially_paid), settles (exact | fee | sum | partial | over);
    learned: org_id, iban, name taught by the credited lines (None where nothing new);
    problems: master-data rows the engine could not use, each with its reason."""

    decisions: pd.DataFrame
    allocations: pd.DataFrame
    learned: pd.DataFrame
    problems: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)  # float-ok: wall time per step, for benchmarks


def match(lines: pd.DataFrame, organizations: pd.DataFrame, organization_ibans: pd.DataFrame, invoices: pd.DataFrame,
          plan: MatchPlan | None = None, *, organization_names: pd.DataFrame | None = None) -> MatchResult:
    plan = plan or MatchPlan()
    seconds: dict[str, float] = {}  # float-ok: timings
    clock = [time.perf_counter()]  # float-ok: timings

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = round(now - clock[0], 3)
        clock[0] = now

    payments = prepare_payments(lines)
    lap("payments")
    master = build_master(organizations, organization_ibans, invoices, plan, organization_names)
    lap("master")
    if payments.empty:
        return MatchResult(pd.DataFrame(columns=DECISION_COLUMNS), pd.DataFrame(columns=ALLOCATION_COLUMNS),
                           pd.DataFrame(columns=LEARNED_COLUMNS), master.problems, seconds)
    evidence = gather(payments, master, plan)
    lap("candidates")
    fit = fit_amounts(evidence.pairs, evidence.refs, payments, master, plan)
    lap("amounts")
    pairs = evidence.pairs.assign(amount=fit.pairs["fit"].isin(AMOUNT_FITS).to_numpy())
    confidence, rule = score(pairs, plan)
    evidence = type(evidence)(pairs, evidence.refs)
    lap("scoring")
    decided = decide(payments, master, evidence, fit, confidence, rule, plan).frame
    lap("decisions")

    matched = decided[decided["status"] == "matched"]
    allocations, settled = allocate(matched[["line", "pair"]], fit.settles, fit.pairs, payments, master, plan)
    lap("allocation")
    learned = learned_from(payments, matched["line"].to_numpy(), matched["org"].to_numpy(), master)
    lap("learning")

    is_matched = decided["status"].to_numpy() == "matched"
    invoice_numbers = decided["invoices"].to_numpy(dtype=object).copy()
    invoice_numbers[is_matched] = settled.reindex(decided["line"].to_numpy()[is_matched]).to_numpy(dtype=object)
    org_ids = master.orgs["org_id"].to_numpy(dtype=object)
    org = decided["org"].to_numpy()
    confidences = {int(c): Decimal(int(c)).scaleb(-3) for c in np.unique(decided["confidence"].to_numpy())}
    decisions = pd.DataFrame(
        {
            "line_id": payments["line_id"].to_numpy(dtype=object),
            "status": decided["status"].to_numpy(dtype=object),
            "org_id": np.where(org >= 0, np.append(org_ids, None)[org], None),  # -1 (none) picks the None
            "invoice_numbers": invoice_numbers,
            "rule": decided["rule"].to_numpy(dtype=object),
            "confidence": pd.Series(decided["confidence"].to_numpy()).map(confidences).to_numpy(dtype=object),
            "reason": decided["reason"].to_numpy(dtype=object),
            "suggestions": decided["suggestions"].to_numpy(dtype=object),
        },
        dtype=object,
    )
    decisions = decisions.where(decisions.notna(), None)
    lap("output")
    return MatchResult(decisions, allocations, learned, master.problems, seconds)
