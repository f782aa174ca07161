"""Scoring: each (payment, organization) pair earns the confidence of the strongest rule its
evidence satisfies. Confidences are integers in thousandths (1000 = 1.000) until the output turns
them into Decimals: no float decides anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcilers.plan import MatchPlan


def score(pairs: pd.DataFrame, plan: MatchPlan) -> tuple[np.ndarray, np.ndarray]:
    """(confidence in thousandths, index into plan.ranked_rules() or -1) per pair."""
    rules = plan.ranked_rules()
    confidence = np.zeros(len(pairs), dtype=np.int64)
    rule = np.full(len(pairs), -1, dtype=np.int64)
    undecided = np.ones(len(pairs), dtype=bool)
    for index, candidate in enumerate(rules):
        satisfied = undecided.copy()
        for kind in sorted(candidate.requires):
            satisfied &= pairs[kind].to_numpy()
        confidence[satisfied] = int(candidate.confidence * 1000)
        rule[satisfied] = index
        undecided &= ~satisfied
        if not undecided.any():
            break
    return confidence, rule
