"""What the engine knows before it reads a payment: organizations, their IDs, accounts, names and
invoices, indexed for blocking.

Every organization gets an integer position (`org`, in org_id order) and every invoice one
(`inv`), so later steps join integer columns, not strings. An identifier that several
organizations share (a tax ID of a company with two accounts on the platform, an accountant's IBAN
learned for several clients, a common name) is kept, but flagged as shared: it may support a
match, never single one out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconcilers.identifiers import clean_tax_ids, normalize_accounts, tax_id_kind, valid_ibans
from reconcilers.money import to_minor
from reconcilers.names import name_flat, name_key
from reconcilers.plan import MatchPlan
from reconcilers.text_numbers import invoice_keys

OPEN_STATUSES = ("open", "partially_paid")


@dataclass(frozen=True)
class Master:
    orgs: pd.DataFrame  # org, org_id, display, tax_id, tax_kind, currency, is_company
    tax_ids: pd.DataFrame  # tax_id, org, shared
    ibans: pd.DataFrame  # iban, org, origin, shared
    names: pd.DataFrame  # key, org, shared, folded
    invoices: pd.DataFrame  # inv, invoice_number, org, currency, amount, paid, remaining, is_open, issued, due, status
    invoice_keys: pd.DataFrame  # row (= inv), arity, v1, v2, v3, hash, shared
    problems: tuple[str, ...]  # master-data rows left out, each with its reason


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _objects(values) -> pd.Series:
    """A plain object column: string columns stay Python strings inside the engine (pandas would
    otherwise store them as arrow strings and convert on every access)."""
    return pd.Series(np.asarray(pd.Series(values).to_numpy(dtype=object), dtype=object), dtype=object)


def _days(values: pd.Series) -> np.ndarray:
    """datetime64[D] from date objects, strings or timestamps; missing stays NaT."""
    return pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[D]")


def _shared(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = frame.drop_duplicates([key, "org"]).sort_values([key, "org"], kind="stable").reset_index(drop=True)
    frame["shared"] = frame.groupby(key)["org"].transform("size").to_numpy() > 1
    return frame


def build_master(organizations: pd.DataFrame, organization_ibans: pd.DataFrame, invoices: pd.DataFrame,
                 plan: MatchPlan, organization_names: pd.DataFrame | None = None) -> Master:
    problems: list[str] = []
    orgs = organizations.drop_duplicates("org_id").sort_values("org_id", kind="stable").reset_index(drop=True)
    raw_tax = _col(orgs, "tax_id")
    clean = clean_tax_ids(raw_tax)
    bad_tax = raw_tax.notna() & (raw_tax.astype(str).str.strip() != "") & clean.isna()
    for org_id in orgs.loc[bad_tax, "org_id"].head(20):
        problems.append(f"organization {org_id}: tax ID fails its check digit; not used for matching")
    display = _col(orgs, "name").where(_col(orgs, "name").notna(), _col(orgs, "legal_name"))
    org_frame = pd.DataFrame(
        {
            "org": np.arange(len(orgs)),
            "org_id": _objects(orgs["org_id"].astype(str)),
            "display": _objects(display.fillna(orgs["org_id"]).astype(str)),
            "tax_id": _objects(clean),
            "tax_kind": _objects(tax_id_kind(clean)),
            "currency": _objects(_col(orgs, "currency")),
        }
    )
    org_frame["is_company"] = org_frame["tax_kind"].to_numpy() == "edrpou"
    position = pd.Series(org_frame["org"].to_numpy(), index=org_frame["org_id"].to_numpy())

    tax_ids = _shared(org_frame.loc[org_frame["tax_id"].notna(), ["tax_id", "org"]], "tax_id")

    ibans = organization_ibans.copy() if len(organization_ibans) else pd.DataFrame(columns=["org_id", "iban", "origin"])
    ibans["iban"] = normalize_accounts(_col(ibans, "iban"))
    ibans["org"] = ibans["org_id"].astype(str).map(position)
    ibans = ibans.dropna(subset=["iban", "org"])
    looks_iban = ibans["iban"].str.match(r"^[A-Z]{2}\d{2}")
    invalid = looks_iban & ~valid_ibans(ibans["iban"])
    for row in ibans[invalid].head(20).itertuples():
        problems.append(f"organization {row.org_id}: account {row.iban} fails the IBAN check; not used for matching")
    ibans = ibans[~invalid]
    ibans = pd.DataFrame({"iban": _objects(ibans["iban"]), "org": ibans["org"].astype(np.int64).to_numpy(),
                          "origin": _objects(_col(ibans, "origin").fillna("imported"))})
    ibans = _shared(ibans, "iban")

    name_sources = [pd.DataFrame({"org": org_frame["org"], "name": _objects(_col(orgs, "name"))}),
                    pd.DataFrame({"org": org_frame["org"], "name": _objects(_col(orgs, "legal_name"))})]
    if organization_names is not None and len(organization_names):
        learned = pd.DataFrame({"org": organization_names["org_id"].astype(str).map(position),
                                "name": organization_names["name"].to_numpy(dtype=object)}).dropna()
        name_sources.append(learned.assign(org=learned["org"].astype(np.int64)))
    names = pd.concat(name_sources, ignore_index=True).dropna(subset=["name"])
    names = names.drop_duplicates()
    names["key"] = pd.Series([name_key(n) for n in names["name"].to_numpy(dtype=object)], index=names.index, dtype=object)
    names = _shared(names.loc[names["key"] != "", ["key", "org", "name"]], "key")  # the first spelling per key
    names["folded"] = pd.Series([name_flat(n) for n in names["name"].to_numpy(dtype=object)], dtype=object)
    names = names.drop(columns="name")
    # Two organizations whose names differ only by a letter transliterations merge (Зілзє and Зілзе
    # are both ZILZE in Latin letters) cannot be told apart by a Latin payer name: shared too.
    names["shared"] = names["shared"].to_numpy() | (names.groupby("folded")["org"].transform("nunique").to_numpy() > 1)

    inv = invoices.copy()
    inv["org"] = inv["org_id"].astype(str).map(position)
    unknown = inv["org"].isna()
    for number in inv.loc[unknown, "invoice_number"].head(20):
        problems.append(f"invoice {number}: its organization is unknown; not used for matching")
    inv = inv[~unknown].drop_duplicates("invoice_number").sort_values("invoice_number", kind="stable").reset_index(drop=True)
    amount = to_minor(inv["amount"].to_numpy(dtype=object))
    paid = to_minor(_col(inv, "amount_paid").to_numpy(dtype=object))
    status = _col(inv, "status").fillna("open").astype(str).to_numpy(dtype=object)
    paid = np.where((status == "paid") & (paid == 0), amount, paid)  # a paid invoice without the sum paid
    remaining = np.maximum(amount - paid, 0)
    invoice_frame = pd.DataFrame(
        {
            "inv": np.arange(len(inv)),
            "invoice_number": _objects(inv["invoice_number"].astype(str)),
            "org": inv["org"].astype(np.int64).to_numpy(),
            "currency": _objects(_col(inv, "currency")),
            "amount": amount,
            "paid": paid,
            "remaining": remaining,
            "is_open": pd.Series(status).isin(OPEN_STATUSES).to_numpy() & (remaining > 0),
            "status": pd.Series(status, dtype=object),
            "issued": _days(_col(inv, "issued_on")),
            "due": _days(_col(inv, "due_on")),
        }
    )
    keys = invoice_keys(invoice_frame["invoice_number"], plan.min_invoice_digits)
    keys["org"] = invoice_frame["org"].to_numpy()[keys["row"].to_numpy()]
    per_key = keys.groupby("hash")["org"].transform("nunique")
    keys["shared"] = per_key.to_numpy() > 1
    return Master(org_frame, tax_ids, ibans, names, invoice_frame, keys.drop(columns="org"), tuple(problems))
