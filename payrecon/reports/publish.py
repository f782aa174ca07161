"""Publishing a dataset: cast to its schema, check its contract, write one file per date partition.

Each partition is a single file `<dataset>/date=YYYY-MM-DD/part-0.parquet` replaced atomically
(LocalStore writes a temporary file and renames it; an S3 PUT replaces the object whole and carries
the body's SHA-256, so a damaged upload is refused rather than stored), so a reader sees the old
partition or the new one, never half of one, and re-running a day replaces that day and nothing
else. A PUT is retried on throttling and 5xx answers (S3Store); repeating it after an answer was
lost writes the same bytes under the same key, so nothing is duplicated. A dataset that breaks its
contract is not published at all. Payer IBANs in free-text columns are masked unless the policy
allows them (payrecon/reports/privacy.py).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_contracts.contract import TableCheck, columns_checked, table_check
from payrecon.reports.datasets import DATASETS
from payrecon.reports.privacy import MASK_ALL, PayerIbanPolicy
from payrecon.storage import BlobStore

_EPOCH = date(1970, 1, 1)


class ReportContractError(ValueError):
    """A dataset broke its contract; it was not published."""


def partition_key(dataset: str, day: date) -> str:
    return f"{dataset}/date={day.isoformat()}/part-0.parquet"


def existing_partitions(store: BlobStore, dataset: str) -> set[date]:
    days = set()
    for key in store.list(f"{dataset}/"):
        parts = key.split("/")
        if len(parts) >= 3 and parts[1].startswith("date="):
            days.add(date.fromisoformat(parts[1][5:]))
    return days


def to_table(dataset: str, data: pd.DataFrame | pa.Table, extra: Iterable[str] = ()) -> pa.Table:
    """The data cast to the dataset's schema (plus `extra` columns such as the partition date)."""
    spec = DATASETS[dataset]
    names = spec.names + list(extra)
    if isinstance(data, pd.DataFrame):
        frame = data.reindex(columns=names)
        fields = list(spec.schema) + [pa.field(n, pa.date32()) for n in extra]
        return pa.Table.from_pandas(frame, schema=pa.schema(fields, metadata=spec.schema.metadata), preserve_index=False)
    table = data.select(names)
    return table.cast(pa.schema(list(spec.schema) + [table.schema.field(n) for n in extra], metadata=spec.schema.metadata))


def contract_view(table: pa.Table, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """What the contract checks (`columns`, default all): decimals as exact integers of their
    smallest unit (no floats)."""
    columns = {}.fromkeys(table.schema.names if columns is None else columns)
    converted = {}
    for name in columns:
        field_ = table.schema.field(name)
        column = table.column(name)
        if pa.types.is_decimal(field_.type):
            factor = pa.scalar(Decimal(10**field_.type.scale), pa.decimal128(field_.type.scale + 1, 0))
            column = pc.cast(pc.multiply(column, factor), pa.int64())
        converted[name] = column
    return pa.table(converted).to_pandas() if converted else pd.DataFrame(index=range(table.num_rows))


def check(dataset: str, table: pa.Table, docs_dir: str | None = None, checks: list[TableCheck] | None = None) -> TableCheck:
    """Check the dataset's contract on the columns its rules read. The outcome joins `checks` (whose
    Data Docs the caller renders once for the run, `data_contracts.data_docs.render`), or, without
    that list, its Data Docs are rendered into `docs_dir` at once. Raises ReportContractError when
    the dataset breaks its contract."""
    contract = f"report_{dataset}"
    read = [c for c in columns_checked(contract) if c in table.schema.names]
    checked = table_check(contract_view(table, read), contract, present=table.schema.names)
    if checks is not None:
        checks.append(checked)
    elif docs_dir:
        from data_contracts.data_docs import render

        render([checked], docs_dir)
    if checked.failures:
        raise ReportContractError(f"{dataset} not published: {'; '.join(checked.failures)}")
    return checked


def write_partition(store: BlobStore, dataset: str, day: date, table: pa.Table) -> str:
    buffer = io.BytesIO()
    pq.write_table(table.select(DATASETS[dataset].names), buffer)
    key = partition_key(dataset, day)
    store.put(key, buffer.getvalue())
    return key


def redact_payers(dataset: str, table: pa.Table, ibans: PayerIbanPolicy | None) -> pa.Table:
    """The table with payer IBANs masked in its free-text columns (all of them when no policy is given)."""
    ibans = ibans or MASK_ALL
    if ibans.include:
        return table
    for name in DATASETS[dataset].payer_text:
        index = table.schema.get_field_index(name)
        column = table.column(index)
        values = [ibans.redact(v) for v in column.to_pylist()]
        table = table.set_column(index, table.schema.field(index), pa.array(values, type=column.type))
    return table


def publish_snapshot(store: BlobStore, dataset: str, day: date, data, docs_dir: str | None = None,
                     ibans: PayerIbanPolicy | None = None, checks: list[TableCheck] | None = None) -> int:
    table = redact_payers(dataset, to_table(dataset, data), ibans)
    check(dataset, table, docs_dir, checks)
    write_partition(store, dataset, day, table)
    return 1


def publish_events(store: BlobStore, dataset: str, data, window: tuple[date, date], docs_dir: str | None = None,
                   ibans: PayerIbanPolicy | None = None, checks: list[TableCheck] | None = None) -> int:
    """Rewrite every partition of the window that has rows, or had a partition before (so a day
    whose rows went away is emptied rather than left stale). `data` carries a `date` column."""
    start, end = window
    table = redact_payers(dataset, to_table(dataset, data, extra=["date"]), ibans)
    days = pc.cast(table.column("date"), pa.int32()).to_numpy(zero_copy_only=False)
    inside = (days >= (start - _EPOCH).days) & (days <= (end - _EPOCH).days)
    if not inside.all():
        table, days = table.filter(pa.array(inside)), days[inside]
    check(dataset, table, docs_dir, checks)
    order = np.argsort(days, kind="stable")
    table, days = table.take(pa.array(order)), days[order]
    present, first = np.unique(days, return_index=True)
    bounds = list(first) + [len(days)]
    slices = {_EPOCH + timedelta(days=int(d)): (bounds[i], bounds[i + 1]) for i, d in enumerate(present)}
    stale = {d for d in existing_partitions(store, dataset) if start <= d <= end} - set(slices)
    for day, (lo, hi) in slices.items():
        write_partition(store, dataset, day, table.slice(lo, hi - lo))
    empty = table.slice(0, 0)
    for day in stale:
        write_partition(store, dataset, day, empty)
    return len(slices) + len(stale)
