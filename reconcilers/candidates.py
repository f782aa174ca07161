"""Candidates by blocking: which organizations a payment could belong to, and why.

Each source of evidence is an equality join on a blocking key, never a cross join: invoice-number
keys, tax IDs (statement field and free text), payer accounts, normalized payer names; then, only
for payments that no payer identifier ties to an organization, fuzzy names and company names quoted
in the text, and the amount (when few open invoices carry it). The result is one row per (payment, organization) pair with a flag per evidence kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconcilers.fuzzy import fuzzy_name_candidates
from reconcilers.master import Master
from reconcilers.names import name_flat, name_key
from reconcilers.plan import EVIDENCE_KINDS, IDENTIFYING_KINDS, MatchPlan
from reconcilers.text_numbers import digit_groups, find_invoice_numbers, tax_id_candidates

KIND = {kind: code for code, kind in enumerate(EVIDENCE_KINDS)}
PAYER_KINDS = ("tax_id", "iban", "name")
#: Which identifier a shared hit came from, as bits (a pair may have several).
SHARED = {"invoice number": 1, "tax ID": 2, "account": 4, "name": 8}
STRONG_KINDS = ("invoice", "tax_id", "tax_id_text", "iban")
# A company name in quotes after a legal form: ТОВ «Ромашка», ПП "Веселка", LLC "Romashka".
_QUOTED_NAME = (
    r"(?i)(?:ТОВ|ТЗОВ|ПП|ПРАТ|ПАТ|АТ|ФОП|ООО|ЧП|LLC|TOV|LTD)\s*[«\"“„'](?P<name>[^»\"”“'\n]{2,60})[»\"”“']"
)


@dataclass(frozen=True)
class Evidence:
    pairs: pd.DataFrame  # pair, line, org, one bool column per evidence kind, similarity, shared_bits (bits of SHARED)
    refs: pd.DataFrame  # line, inv, org: every invoice the payment text names (any status)


def _hits(line, org, kind: str, similarity=0, shared: int = 0) -> pd.DataFrame:
    line = np.asarray(line, dtype=np.int64)
    return pd.DataFrame({"line": line, "org": np.asarray(org, dtype=np.int64), "kind": KIND[kind],
                         "similarity": similarity, "shared_bits": shared})


def _split_shared(frame: pd.DataFrame, kind: str, what: int) -> list[pd.DataFrame]:
    line, org, shared = frame["line"].to_numpy(), frame["org"].to_numpy(), frame["shared"].to_numpy()
    return [_hits(line[~shared], org[~shared], kind), _hits(line[shared], org[shared], "shared", shared=what)]


def _join(lines: np.ndarray, values: np.ndarray, table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Equality join of (line, value) with a table sorted by `key` (as `master` keeps them):
    (line, org, shared) per match. A hash look-up per distinct key, then a repeat per table
    row: no merge of a million object strings."""
    keys = table[key].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
    counts = np.diff(np.r_[starts, len(keys)])
    present = np.array([v is not None and v == v and v != "" for v in values], dtype=bool) if len(values) else np.zeros(0, bool)
    found = np.full(len(values), -1, dtype=np.int64)
    if len(starts) and present.any():
        found[present] = pd.Index(keys[starts]).get_indexer(values[present])
    hit = np.flatnonzero(found >= 0)
    repeat = counts[found[hit]]
    rows = np.repeat(starts[found[hit]], repeat) + (np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat))
    return pd.DataFrame({"line": np.repeat(lines[hit], repeat), "org": table["org"].to_numpy()[rows],
                         "shared": table["shared"].to_numpy()[rows]})


def invoice_references(master: Master, groups) -> pd.DataFrame:
    """(line, inv, org, key_shared) for each invoice a payment text names."""
    found = find_invoice_numbers(groups, master.invoice_keys)
    refs = pd.DataFrame(
        {
            "line": found["text"].to_numpy(dtype=np.int64),
            "inv": found["row"].to_numpy(dtype=np.int64),
            "org": master.invoices["org"].to_numpy()[found["row"].to_numpy(dtype=np.int64)],
            "key_shared": found["shared"].to_numpy(dtype=bool),
        }
    )
    return refs


def gather(payments: pd.DataFrame, master: Master, plan: MatchPlan) -> Evidence:
    hits: list[pd.DataFrame] = []
    groups = digit_groups(payments["remittance"])
    refs = invoice_references(master, groups)
    hits += [_hits(refs.loc[~refs["key_shared"], "line"], refs.loc[~refs["key_shared"], "org"], "invoice"),
             _hits(refs.loc[refs["key_shared"], "line"], refs.loc[refs["key_shared"], "org"], "shared", shared=SHARED["invoice number"])]

    line = payments["line"].to_numpy()
    hits += _split_shared(_join(line, payments["payer_tax"].to_numpy(dtype=object), master.tax_ids, "tax_id"),
                          "tax_id", SHARED["tax ID"])

    in_text = tax_id_candidates(groups)
    in_text["tax_id"] = pd.Series([str(v).zfill(int(d)) for v, d in zip(in_text["value"].to_numpy(), in_text["ndigits"].to_numpy())],
                                  index=in_text.index, dtype=object)
    in_text = in_text.rename(columns={"text": "line"}).merge(master.tax_ids, on="tax_id").drop_duplicates(["line", "org"])
    hits += _split_shared(in_text, "tax_id_text", SHARED["tax ID"])

    hits += _split_shared(_join(line, payments["payer_account"].to_numpy(dtype=object), master.ibans, "iban"),
                          "iban", SHARED["account"])
    hits += _split_shared(_join(line, payments["payer_key"].to_numpy(dtype=object), master.names, "key"),
                          "name", SHARED["name"])

    so_far = pd.concat(hits, ignore_index=True)
    payer_known = np.zeros(len(payments), dtype=bool)
    payer_known[so_far.loc[so_far["kind"].isin([KIND[k] for k in PAYER_KINDS]), "line"].to_numpy()] = True
    identified = np.zeros(len(payments), dtype=bool)
    identified[so_far.loc[so_far["kind"].isin([KIND[k] for k in IDENTIFYING_KINDS]), "line"].to_numpy()] = True
    by_document = np.zeros(len(payments), dtype=bool)  # an invoice, a tax ID or an account: not just a name
    by_document[so_far.loc[so_far["kind"].isin([KIND[k] for k in STRONG_KINDS]), "line"].to_numpy()] = True

    hits.append(_fuzzy_hits(payments, master, plan, ~payer_known))
    hits.append(_quoted_name_hits(payments, master, ~identified))
    hits.append(_amount_hits(payments, master, plan, ~by_document))
    return Evidence(_pairs(pd.concat(hits, ignore_index=True), len(master.orgs)), refs)


def _fuzzy_hits(payments: pd.DataFrame, master: Master, plan: MatchPlan, wanted: np.ndarray) -> pd.DataFrame:
    subset = payments.loc[wanted & (payments["payer_key"] != "").to_numpy(), ["line", "payer_key", "payer_name"]]
    exact = set(master.names["key"])
    subset = subset[~subset["payer_key"].isin(exact)]
    subset = subset.assign(flat=pd.Series([name_flat(n) for n in subset["payer_name"].to_numpy(dtype=object)],
                                          index=subset.index, dtype=object))
    payers = subset[["payer_key", "flat"]].drop_duplicates().rename(columns={"payer_key": "key"}).reset_index(drop=True)
    floor = int(plan.name_suggest_similarity * 1000)
    found = fuzzy_name_candidates(payers, master.names, floor, plan.name_block_max_orgs)
    found = found.join(payers, on="payer").rename(columns={"key": "payer_key"})
    found = subset.merge(found, on=["payer_key", "flat"])
    found = found.sort_values(["line", "org", "similarity"], kind="stable").drop_duplicates(["line", "org"], keep="last")
    close = found["similarity"].to_numpy() >= int(plan.name_similarity * 1000)
    return pd.concat([_hits(found["line"][close], found["org"][close], "name_fuzzy", similarity=found["similarity"].to_numpy()[close]),
                      _hits(found["line"][~close], found["org"][~close], "name_close", similarity=found["similarity"].to_numpy()[~close])])


def _quoted_name_hits(payments: pd.DataFrame, master: Master, wanted: np.ndarray) -> pd.DataFrame:
    subset = payments.loc[wanted, ["line", "remittance"]]
    if subset.empty:
        return _hits([], [], "name_in_text")
    texts = pa.array(subset["remittance"].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    quoted = pc.extract_regex(texts, _QUOTED_NAME).field("name").to_numpy(zero_copy_only=False)
    found = pd.DataFrame({"line": subset["line"].to_numpy(), "name": quoted}).dropna()
    found["key"] = pd.Series([name_key(n) for n in found["name"]], index=found.index, dtype=object)
    found = found[found["key"] != ""].merge(master.names, on="key")
    return _hits(found["line"], found["org"], "name_in_text")


def _amount_hits(payments: pd.DataFrame, master: Master, plan: MatchPlan, wanted: np.ndarray) -> pd.DataFrame:
    """Payments with no other candidate: the open invoices that carry exactly this amount, if few."""
    subset = payments.loc[wanted, ["line", "amount", "currency", "booked"]]
    invoices = master.invoices.loc[master.invoices["is_open"], ["org", "currency", "remaining", "issued", "due"]]
    block = invoices.groupby(["currency", "remaining"])["org"].transform("size")
    invoices = invoices[block.to_numpy() <= plan.amount_block_max_invoices]
    found = subset.merge(invoices, left_on=["currency", "amount"], right_on=["currency", "remaining"])
    grace = np.timedelta64(plan.due_grace_days, "D")
    due = found["due"].to_numpy().copy()
    due[np.isnat(due)] = found["issued"].to_numpy()[np.isnat(due)]
    in_window = (found["issued"].to_numpy() <= found["booked"].to_numpy()) & (found["booked"].to_numpy() <= due + grace)
    found = found[in_window]
    return _hits(found["line"], found["org"], "amount_only")


def _pairs(hits: pd.DataFrame, n_orgs: int) -> pd.DataFrame:
    """One row per (line, org) with a bool per evidence kind, the best name similarity, and which
    shared identifiers point at it."""
    if hits.empty:
        columns = {"pair": [], "line": [], "org": [], "similarity": [], "shared_bits": []}
        frame = pd.DataFrame(columns).astype(np.int64)
        for kind in EVIDENCE_KINDS:
            frame[kind] = pd.Series(dtype=bool)
        return frame
    code = hits["line"].to_numpy() * np.int64(n_orgs) + hits["org"].to_numpy()
    order = np.argsort(code, kind="stable")
    code = code[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    unique = code[starts]
    pair_of_hit = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(code)]))
    pairs = pd.DataFrame({"pair": np.arange(len(unique)), "line": unique // n_orgs, "org": unique % n_orgs})
    flags = np.zeros((len(unique), len(EVIDENCE_KINDS)), dtype=bool)
    flags[pair_of_hit, hits["kind"].to_numpy()[order]] = True
    for kind, code_ in KIND.items():
        pairs[kind] = flags[:, code_]
    pairs["similarity"] = np.maximum.reduceat(hits["similarity"].to_numpy().astype(np.int64)[order], starts)
    pairs["shared_bits"] = np.bitwise_or.reduceat(hits["shared_bits"].to_numpy().astype(np.int64)[order], starts)
    # amount_only stands alone: with any other evidence the amount is judged by the amount step
    other = flags[:, [c for k, c in KIND.items() if k not in ("amount_only", "amount")]].any(axis=1)
    pairs.loc[other, "amount_only"] = False
    return pairs
