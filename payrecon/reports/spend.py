"""channel_spend: debits summed per day, organization, channel and currency, vectorised in Arrow."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from payrecon.reports.datasets import DATASETS, MONEY

KEYS = ["date", "org_id", "channel", "currency"]


def channel_spend(usage: pa.Table | pd.DataFrame) -> pa.Table:
    """Sum quantity and amount per (date, org_id, channel, currency). Amounts stay decimals."""
    if isinstance(usage, pd.DataFrame):
        schema = pa.schema([("date", pa.date32()), *[f for f in DATASETS["channel_spend"].schema]])
        usage = pa.Table.from_pandas(usage.reindex(columns=schema.names), schema=schema, preserve_index=False)
    # Grouping on dictionary-encoded keys is several times faster than on plain strings.
    encoded = pa.table(
        {k: usage.column(k).dictionary_encode() if k != "date" else usage.column(k) for k in KEYS}
        | {"quantity": usage.column("quantity"), "amount": usage.column("amount")}
    )
    grouped = encoded.group_by(KEYS, use_threads=True).aggregate([("quantity", "sum"), ("amount", "sum")])
    return pa.table(
        {
            **{k: grouped.column(k).cast(pa.string()) if k != "date" else grouped.column(k) for k in KEYS},
            "quantity": grouped.column("quantity_sum").cast(pa.int64()),
            "amount": grouped.column("amount_sum").cast(MONEY),
        }
    )
