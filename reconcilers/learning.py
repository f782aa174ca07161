"""Learning: a confirmed match teaches the payer's account and name for that organization.

Next time the same account pays, the `iban` evidence identifies the organization (and a person who
was confirmed to pay for a company is no longer a conflict). Only what is new is taught; a bank's
transit account is never taught (it carries many payers' money), nor an account that fails the
IBAN check. An account taught to several organizations (an accountant paying for clients) stays
usable but becomes shared: it supports a match, it no longer decides one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcilers.identifiers import valid_ibans
from reconcilers.master import Master, build_master
from reconcilers.payments import prepare_payments
from reconcilers.plan import MatchPlan

LEARNED_COLUMNS = ["org_id", "iban", "name"]


def learned_from(payments: pd.DataFrame, lines: np.ndarray, orgs: np.ndarray, master: Master) -> pd.DataFrame:
    """What the confirmed (line position, org position) pairs teach: org_id, iban, name (None when known)."""
    if len(lines) == 0:
        return pd.DataFrame(columns=LEARNED_COLUMNS)
    frame = pd.DataFrame(
        {
            "org": np.asarray(orgs, dtype=np.int64),
            "iban": pd.Series(payments["payer_account"].to_numpy(dtype=object)[lines], dtype=object),
            "name": pd.Series(payments["payer_name"].to_numpy(dtype=object)[lines], dtype=object),
            "key": pd.Series(payments["payer_key"].to_numpy(dtype=object)[lines], dtype=object),
        }
    ).drop_duplicates(["org", "iban", "key"])
    known_iban = master.ibans[["org", "iban"]].astype({"iban": object}).assign(_known=True)
    frame = frame.merge(known_iban, on=["org", "iban"], how="left")
    new_iban = frame["iban"].notna().to_numpy() & frame["_known"].isna().to_numpy()
    new_iban[new_iban] = valid_ibans(frame["iban"][new_iban]).to_numpy()
    known_name = master.names[["org", "key"]].astype({"key": object}).assign(_named=True)
    frame = frame.drop(columns="_known").merge(known_name, on=["org", "key"], how="left")
    new_name = (frame["key"] != "").to_numpy() & frame["_named"].isna().to_numpy()
    out = pd.DataFrame(
        {
            "org_id": master.orgs["org_id"].to_numpy(dtype=object)[frame["org"].to_numpy()],
            "iban": np.where(new_iban, frame["iban"].to_numpy(dtype=object), None),
            "name": np.where(new_name, frame["name"].to_numpy(dtype=object), None),
        },
        dtype=object,
    )
    out = out[out["iban"].notna() | out["name"].notna()].drop_duplicates()
    out = out.sort_values(["org_id", "iban", "name"], na_position="last", kind="stable").reset_index(drop=True)
    return out.astype(object).where(out.notna(), None)


def learn_from_confirmed(lines: pd.DataFrame, confirmed: pd.DataFrame, organizations: pd.DataFrame,
                         organization_ibans: pd.DataFrame, organization_names: pd.DataFrame | None = None) -> pd.DataFrame:
    """For decisions a person confirmed (confirmed: line_id, org_id): what they teach.

    The engine teaches from its own credits (`MatchResult.learned`); a review a person settles goes
    through here, so that a confirmed person-for-company payer is known the next time.
    """
    payments = prepare_payments(lines[lines["line_id"].isin(confirmed["line_id"])])
    empty_invoices = pd.DataFrame(columns=["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"])
    master = build_master(organizations, organization_ibans, empty_invoices, MatchPlan(), organization_names)
    position = pd.Series(master.orgs["org"].to_numpy(), index=master.orgs["org_id"].to_numpy())
    pairs = payments[["line", "line_id"]].merge(confirmed[["line_id", "org_id"]], on="line_id")
    pairs = pairs[pairs["org_id"].isin(position.index)]
    return learned_from(payments, pairs["line"].to_numpy(), position[pairs["org_id"]].to_numpy(), master)
