"""Privat24 (PrivatBank business) statement export as CSV.

Format (../shared/fixtures/FORMATS.md §6, after sabatex PrivatUA.cs): `;`-separated, cp1251 (UTF-8
is accepted too), one header row:

    ЄДРПОУ;МФО;Рахунок;Валюта;Номер документа;Дата операції;МФО банка;Назва банка;
    Рахунок кореспондента;ЄДРПОУ кореспондента;Кореспондент;Сума;Призначення платежу

The first three columns are our own side, the rest the counterparty's. `Сума` is signed from our
account's side (money in is positive). Some exports spell the first header `ЕГРПОУ`. Header names
are configurable (PAYRECON_PRIVAT24_COLUMNS) because banks rename columns between releases.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Mapping

from sources.errors import MalformedFile
from sources.parsing import clean, decode_text, parse_amount, parse_date
from sources.records import NormalizedRecord, ParseResult, make_line_id

#: record field -> accepted header names (first match wins; compared case- and space-insensitively).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "own_tax_id": ("ЄДРПОУ", "ЕГРПОУ", "ЄДРПОУ клієнта"),
    "own_mfo": ("МФО",),
    "account": ("Рахунок", "Рахунок клієнта", "IBAN"),
    "currency": ("Валюта",),
    "document_number": ("Номер документа", "№ документа"),
    "booking_date": ("Дата операції", "Дата проводки"),
    "counterparty_mfo": ("МФО банка", "МФО банку"),
    "counterparty_bank": ("Назва банка", "Назва банку"),
    "counterparty_account": ("Рахунок кореспондента", "Рахунок контрагента"),
    "counterparty_tax_id": ("ЄДРПОУ кореспондента", "ЕГРПОУ кореспондента", "ЄДРПОУ контрагента"),
    "counterparty_name": ("Кореспондент", "Контрагент"),
    "amount": ("Сума",),
    "remittance": ("Призначення платежу",),
}
REQUIRED = ("account", "currency", "booking_date", "amount", "remittance")


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


class Privat24CsvSource:
    name = "privat24_csv"

    def __init__(self, columns: Mapping[str, tuple[str, ...]] | None = None):
        merged = dict(DEFAULT_COLUMNS)
        for field, names in (columns or {}).items():
            if field not in DEFAULT_COLUMNS:
                raise ValueError(f"privat24_csv column mapping: unknown field {field!r}; known: {', '.join(DEFAULT_COLUMNS)}")
            merged[field] = tuple(names)
        self.columns = merged

    def _header_positions(self, header: list[str]) -> dict[str, int]:
        normalized = [_norm(h) for h in header]
        positions: dict[str, int] = {}
        for field, names in self.columns.items():
            for name in names:
                if _norm(name) in normalized:
                    positions[field] = normalized.index(_norm(name))
                    break
        return positions

    def identify(self, path: Path, head: bytes) -> bool:
        try:
            text, _ = decode_text(head[:4096].rsplit(b"\n", 1)[0] if b"\n" in head else head)
        except UnicodeDecodeError:
            return False
        first = text.splitlines()[0] if text else ""
        if ";" not in first:
            return False
        positions = self._header_positions(first.split(";"))
        return all(f in positions for f in REQUIRED)

    def parse(self, path: Path) -> ParseResult:
        data = path.read_bytes()
        try:
            text, _ = decode_text(data)
        except UnicodeDecodeError:
            raise MalformedFile(f"{path.name}: neither UTF-8 nor cp1251 text; re-export the statement as CSV") from None
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        if not rows:
            raise MalformedFile(f"{path.name}: empty file")
        positions = self._header_positions(rows[0])
        missing = [f for f in REQUIRED if f not in positions]
        if missing:
            wanted = "; ".join(f"{f} ({' or '.join(self.columns[f])})" for f in missing)
            raise MalformedFile(f"{path.name}: header lacks required columns: {wanted}")
        warnings: list[str] = []
        records: list[NormalizedRecord] = []
        seen: Counter[tuple] = Counter()
        width = len(rows[0])
        body = rows[1:]
        for number, row in enumerate(body, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != width:
                warnings.append(f"row {number}: {len(row)} cells, header has {width}")

            def cell(field: str) -> str | None:
                pos = positions.get(field)
                return clean(row[pos]) if pos is not None and pos < len(row) else None

            account = cell("account")
            amount = parse_amount(cell("amount"))
            booking_date = parse_date(cell("booking_date"))
            doc = cell("document_number")
            counterparty_account = cell("counterparty_account")
            identity = (account, doc, booking_date, amount, counterparty_account, cell("remittance"))
            # Identical rows inside one file are distinct payments; number them so each keeps its id.
            seen[identity] += 1
            records.append(
                NormalizedRecord(
                    record_type="bank_line",
                    source_format=self.name,
                    account=account,
                    booking_date=booking_date,
                    value_date=booking_date,
                    amount=amount,
                    currency=(cell("currency") or "").upper() or None,
                    counterparty_name=cell("counterparty_name"),
                    counterparty_account=counterparty_account,
                    counterparty_tax_id=cell("counterparty_tax_id"),
                    remittance=cell("remittance"),
                    end_to_end_id=None,
                    bank_ref=doc,
                    line_id=make_line_id(self.name, *identity, seen[identity]),
                    extra={"row": number},
                )
            )
        return ParseResult(records=records, transactions_found=len(records), warnings=warnings)
