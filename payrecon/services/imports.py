"""Load the billing system's exports: organizations, invoices, card payments, usage, subscriptions
(CSV or Parquet).

Column names are a contract (PRODUCT.md, "Billing-system exports"); `;` separates list items.
Each export is kept as a raw file like any other input. Rows that break the rules are not loaded
and are reported (and kept in quarantined_rows) with their reasons; the rest load. Re-importing
updates rows in place and adds nothing twice.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select, update

from data_contracts import validate
from ledger import schema
from ledger.repository import insert_ignore, now, upsert
from payrecon.errors import ImportFileError
from payrecon.services.raw_files import store_raw_file
from payrecon.storage import BlobStore

EXPORT_COLUMNS = {
    "organizations": ["org_id", "name", "legal_name", "tax_id", "ibans", "currency", "notify_emails"],
    "invoices": ["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"],
    "card-payments": ["payment_id", "org_id", "provider", "provider_ref", "paid_at", "currency", "amount"],
    "usage": ["date", "org_id", "channel", "quantity", "currency", "amount"],
    "subscriptions": ["org_id", "plan", "currency", "monthly_fee", "starts_on", "ends_on"],
}
#: the order a fresh workspace imports them in: organizations first, the rest refer to them
IMPORT_ORDER = tuple(EXPORT_COLUMNS)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")


@dataclass
class ImportOutcome:
    kind: str
    rows: int
    loaded: int
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number in the file, reason)

    def line(self) -> str:
        text = f"{self.kind}: {self.loaded} of {self.rows} rows loaded"
        if self.rejected:
            first = "; ".join(f"row {n}: {r}" for n, r in self.rejected[:3])
            text += f", {len(self.rejected)} rejected ({first}{' ...' if len(self.rejected) > 3 else ''})"
        return text


def read_export(kind: str, name: str, data: bytes) -> pd.DataFrame:
    """The export as strings, with its contract's columns; a missing column is an error."""
    if kind not in EXPORT_COLUMNS:
        raise ImportFileError(f"unknown export {kind!r}; choose one of {', '.join(EXPORT_COLUMNS)}")
    try:
        if name.lower().endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(data)).astype("str").replace({"None": None, "nan": None, "<NA>": None})
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype="str", keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{name}: not UTF-8 text; billing exports are UTF-8 CSV or Parquet") from None
    except (ValueError, OSError) as exc:
        raise ImportFileError(f"{name}: cannot read as {'Parquet' if name.endswith('.parquet') else 'CSV'}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in EXPORT_COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise ImportFileError(f"{name}: {kind} export lacks columns: {', '.join(missing)}")
    frame = frame[EXPORT_COLUMNS[kind]].map(lambda v: v.strip() if isinstance(v, str) else v)
    return frame.replace({"": None})


def import_export(engine: Engine, store: BlobStore, kind: str, path: Path) -> ImportOutcome:
    data = path.read_bytes()
    frame = read_export(kind, path.name, data)
    stored = store_raw_file(engine, store, path.name, data)
    with engine.begin() as conn:
        known_orgs = set(conn.execute(select(schema.organizations.c.org_id)).scalars())
        loader = _LOADERS[kind]
        rows, rejected = loader(frame, known_orgs)
        loader.write(conn, rows)
        if rejected:
            insert_ignore(
                conn,
                schema.quarantined_rows,
                [
                    {
                        "raw_file_sha256": stored.sha256,
                        "row_key": f"row-{number}",
                        "reason": reason,
                        "record": json.dumps(frame.iloc[number - 2].to_dict(), ensure_ascii=False, default=str),
                        "quarantined_at": now(),
                    }
                    for number, reason in rejected
                ],
            )
        conn.execute(
            update(schema.raw_files)
            .where(schema.raw_files.c.sha256 == stored.sha256)
            .values(status="loaded", source=f"billing_{kind.replace('-', '_')}", records_loaded=len(rows),
                    rows_quarantined=len(rejected), transactions_found=len(frame))
        )
    return ImportOutcome(kind, len(frame), len(rows), rejected)


class _Loader:
    """Turns export rows into table rows, rejecting with reasons; one subclass per export."""

    table = None
    key: tuple[str, ...] = ()

    def __call__(self, frame: pd.DataFrame, known_orgs: set[str]) -> tuple[list[dict], list[tuple[int, str]]]:
        rows, rejected = [], []
        for position, record in enumerate(frame.to_dict("records")):
            number = position + 2  # the header is row 1
            try:
                rows.append((number, self.row(record, known_orgs)))
            except ValueError as exc:
                rejected.append((number, str(exc)))
        return self.unique(rows, rejected)

    def unique(self, numbered: list[tuple[int, dict]], rejected: list[tuple[int, str]]):
        """One row per key: a repeated key is rejected rather than silently overwriting the first."""
        first: dict[tuple, int] = {}
        rows = []
        for number, row in numbered:
            key = tuple(row[k] for k in self.key)
            if key in first:
                rejected.append((number, f"repeats {', '.join(self.key)} of row {first[key]}"))
                continue
            first[key] = number
            rows.append(row)
        return rows, sorted(rejected)

    def row(self, record: dict, known_orgs: set[str]) -> dict:
        raise NotImplementedError

    def write(self, conn, rows: list[dict]) -> None:
        upsert(conn, self.table, rows, self.key)


def _money(value: str | None, what: str = "amount") -> Decimal:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -4:
        raise ValueError(f"{what} {value!r} is not a decimal with at most 4 decimal places")
    return amount


def _currency(value: str | None) -> str:
    if not value or not _CURRENCY.match(value):
        raise ValueError(f"currency {value!r} is not an ISO 4217 code like UAH")
    return value


def _org(value: str | None, known: set[str]) -> str:
    if value not in known:
        raise ValueError(f"org_id {value!r} is not an imported organization (import organizations first)")
    return value


def _date(value: str | None, what: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a date YYYY-MM-DD") from None


class _Organizations(_Loader):
    table = schema.organizations
    key = ("org_id",)

    def row(self, record, known_orgs):
        if not record["org_id"] or not record["name"]:
            raise ValueError("org_id and name are required")
        ibans = [i.replace(" ", "").upper() for i in (record["ibans"] or "").split(";") if i.strip()]
        bad = [i for i in ibans if not _IBAN.match(i)]
        if bad:
            raise ValueError(f"IBAN {bad[0]!r} is malformed")
        tax_id = record["tax_id"]
        if tax_id and not re.fullmatch(r"\d{8}|\d{10}", tax_id):
            raise ValueError(f"tax_id {tax_id!r} is not an 8-digit ЄДРПОУ or a 10-digit РНОКПП")
        known_orgs.add(record["org_id"])  # invoices in the same run may use it
        return {
            "org_id": record["org_id"],
            "name": record["name"],
            "legal_name": record["legal_name"],
            "tax_id": tax_id,
            "currency": _currency(record["currency"]),
            "notify_emails": ";".join(e.strip() for e in (record["notify_emails"] or "").split(";") if e.strip()) or None,
            "_ibans": ibans,
        }

    def write(self, conn, rows):
        upsert(conn, self.table, [{k: v for k, v in r.items() if k != "_ibans"} for r in rows], self.key)
        insert_ignore(
            conn,
            schema.organization_ibans,
            [{"org_id": r["org_id"], "iban": iban, "origin": "imported"} for r in rows for iban in r["_ibans"]],
        )


class _Invoices(_Loader):
    table = schema.invoices
    key = ("invoice_number",)

    def __call__(self, frame, known_orgs):
        checked = validate(frame, "invoices")
        rows, rejected = [], [(int(i) + 2, reason) for i, reason in checked.quarantined["reason"].items()]
        for index, record in checked.valid.to_dict("index").items():
            try:
                rows.append((int(index) + 2, self.row(record, known_orgs)))
            except ValueError as exc:
                rejected.append((int(index) + 2, str(exc)))
        return self.unique(rows, rejected)

    def row(self, record, known_orgs):
        return {
            "invoice_number": record["invoice_number"],
            "org_id": _org(record["org_id"], known_orgs),
            "issued_on": _date(record["issued_on"], "issued_on"),
            "due_on": _date(record["due_on"], "due_on") if record["due_on"] else None,
            "currency": record["currency"],
            "amount": _money(record["amount"]),
            "status": record["status"] or "open",
        }


class _CardPayments(_Loader):
    table = schema.card_payments
    key = ("payment_id",)

    def row(self, record, known_orgs):
        if not record["payment_id"] or not record["provider"]:
            raise ValueError("payment_id and provider are required")
        try:
            paid_at = datetime.fromisoformat(record["paid_at"] or "")
        except ValueError:
            raise ValueError(f"paid_at {record['paid_at']!r} is not an ISO date-time") from None
        if paid_at.tzinfo is None:
            paid_at = paid_at.replace(tzinfo=timezone.utc)
        amount = _money(record["amount"])
        if amount <= 0:
            raise ValueError(f"amount {record['amount']!r} must be positive")
        return {
            "payment_id": record["payment_id"],
            "org_id": _org(record["org_id"], known_orgs),
            "provider": record["provider"].lower(),
            "provider_ref": record["provider_ref"],
            "paid_at": paid_at,
            "currency": _currency(record["currency"]),
            "amount": amount,
        }


class _Usage(_Loader):
    table = schema.usage_debits
    key = ("date", "org_id", "channel", "currency")

    def row(self, record, known_orgs):
        quantity = record["quantity"] or ""
        if not (quantity.isascii() and quantity.isdigit()):
            raise ValueError(f"quantity {quantity!r} is not a whole number")
        if not record["channel"]:
            raise ValueError("channel is required")
        amount = _money(record["amount"])
        if amount < 0:
            raise ValueError(f"amount {record['amount']!r} must not be negative")
        return {
            "date": _date(record["date"], "date"),
            "org_id": _org(record["org_id"], known_orgs),
            "channel": record["channel"].lower(),
            "quantity": int(quantity),
            "currency": _currency(record["currency"]),
            "amount": amount,
        }


class _Subscriptions(_Loader):
    table = schema.subscriptions
    key = ("org_id", "plan", "starts_on")

    def row(self, record, known_orgs):
        if not record["plan"]:
            raise ValueError("plan is required")
        fee = _money(record["monthly_fee"], "monthly_fee")
        if fee <= 0:
            raise ValueError(f"monthly_fee {record['monthly_fee']!r} must be positive")
        starts = _date(record["starts_on"], "starts_on")
        ends = _date(record["ends_on"], "ends_on") if record["ends_on"] else None
        if ends and ends < starts:
            raise ValueError(f"ends_on {ends} is before starts_on {starts}")
        return {
            "org_id": _org(record["org_id"], known_orgs),
            "plan": record["plan"],
            "starts_on": starts,
            "ends_on": ends,
            "currency": _currency(record["currency"]),
            "monthly_fee": fee,
        }


_LOADERS = {
    "organizations": _Organizations(),
    "invoices": _Invoices(),
    "card-payments": _CardPayments(),
    "usage": _Usage(),
    "subscriptions": _Subscriptions(),
}
