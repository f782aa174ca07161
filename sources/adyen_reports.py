"""Adyen Settlement details report (SDR), and the Payments accounting report (PAR) it resembles.

Format (FORMATS.md §5 "Adyen"; Adyen Docs, "Settlement details report" and its journal types): one
header row, then one row per journal entry. The column set has grown over the years (30, 31, 32,
49 columns; reordered in some exports), so every column is taken by its name:

    Company Account, Merchant Account, Psp Reference, Merchant Reference, Payment Method,
    Creation Date, TimeZone, Type, Modification Reference, Gross Currency, Gross Debit (GC),
    Gross Credit (GC), Exchange Rate, Net Currency, Net Debit (NC), Net Credit (NC), Commission (NC),
    Markup (NC), Scheme Fees (NC), Interchange (NC), Payment Method Variant,
    Modification Merchant Reference, Batch Number, Reserved4-10, and later Booking Date,
    Booking Date TimeZone, Metadata, Balance Currency, Net Debit/Credit (BC), Payment Fees (NC), ...

The money that moved is Net Credit (NC) − Net Debit (NC) in the net currency. For a payment journal
(Settled, Refunded, Chargeback, ChargebackReversed, ...) the fees Adyen kept are Commission + Markup +
Scheme Fees + Interchange (or Payment Fees when only that is given); the row becomes the gross
record (net + fees: what the customer paid, or what went back to them) and a fee record (−fees), so
the two sum to the net. Fee, InvoiceDeduction, MiscCosts and corrections are one fee record;
MerchantPayout is the payout to our bank (Modification Reference, which holds commas, is its id);
Balancetransfer moves a balance between batches and is kept as a payout with extra.internal_transfer.

Per batch, Σ(Net Credit − Net Debit) over the rows that are not payouts must equal the batch's
MerchantPayout Net Debit: a ControlCheck `adyen_batch_payout` per batch and currency.

The Payments accounting report names the same things Record Type, Booking Date, Payable (SC),
Settlement Currency and Commission/Markup/Scheme Fees/Interchange (SC); its journal types Received,
Authorised, SentForSettle (and Refused, Cancelled, ...) move no money and are skipped with a warning.

Excel rewrites long digit strings as `1.2302025304E+022`; such references are left as written, with
a warning, because the lost digits cannot be recovered.

`stream()` reads a report in columnar batches through sources/fast_adyen.py, which gives exactly what
this per-row reader gives and hands it the files it does not take.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Iterator

from sources.errors import MalformedFile
from sources.records import ControlCheck, NormalizedRecord, ParseResult, make_line_id
from sources.settlement_common import (
    Cells,
    Occurrences,
    SkipTally,
    add,
    amount_check,
    csv_rows,
    decode_report,
    head_rows,
    identity_amount,
    header_positions,
    leading_iso_date,
    looks_excel_mangled,
    money_text,
    norm_header,
    plain_decimal,
    sniff_delimiter,
    text_or_none,
)

PROVIDER = "adyen"

COLUMNS: dict[str, tuple[str, ...]] = {
    "company_account": ("Company Account",),
    "merchant_account": ("Merchant Account",),
    "psp_reference": ("Psp Reference",),
    "merchant_reference": ("Merchant Reference",),
    "payment_method": ("Payment Method",),
    "payment_method_variant": ("Payment Method Variant",),
    "created": ("Creation Date", "Booking Date"),
    "timezone": ("TimeZone",),
    "type": ("Type", "Record Type"),
    "modification_reference": ("Modification Reference", "Modification Psp Reference"),
    "gross_currency": ("Gross Currency", "Main Currency"),
    "gross_debit": ("Gross Debit (GC)",),
    "gross_credit": ("Gross Credit (GC)",),
    "exchange_rate": ("Exchange Rate",),
    "net_currency": ("Net Currency", "Settlement Currency"),
    "net_debit": ("Net Debit (NC)",),
    "net_credit": ("Net Credit (NC)",),
    "payable": ("Payable (SC)",),
    "commission": ("Commission (NC)", "Commission (SC)"),
    "markup": ("Markup (NC)", "Markup (SC)"),
    "scheme_fees": ("Scheme Fees (NC)", "Scheme Fees (SC)"),
    "interchange": ("Interchange (NC)", "Interchange (SC)"),
    "payment_fees": ("Payment Fees (NC)",),
    "modification_merchant_reference": ("Modification Merchant Reference",),
    "batch": ("Batch Number", "Payable Batch"),
    "booking_date": ("Booking Date",),
    "booking_timezone": ("Booking Date TimeZone",),
    "merchant_order_reference": ("Merchant Order Reference",),
    "shopper_reference": ("Shopper Reference",),
    "shopper_country": ("Shopper Country",),
    "dispute_reference": ("Dispute Reference",),
    "arn": ("ARN",),
    "authorisation_code": ("Authorisation Code",),
    "settlement_flow": ("Settlement Flow",),
    "metadata": ("Metadata",),
}
#: Columns holding references: where a spreadsheet's scientific notation would lose digits.
REFERENCE_FIELDS = ("psp_reference", "merchant_reference", "modification_reference", "modification_merchant_reference",
                    "batch", "merchant_order_reference", "dispute_reference", "arn", "authorisation_code")

SETTLEMENT, FEE, REFUND, CHARGEBACK, PAYOUT = "settlement", "fee", "refund", "chargeback", "payout"
#: Journal type (lower case) -> (record type, reversal, splits its fees off).
JOURNAL_TYPES: dict[str, tuple[str, bool, bool]] = {
    "settled": (SETTLEMENT, False, True),
    "settledexternally": (SETTLEMENT, False, True),
    "settledbulk": (SETTLEMENT, False, True),
    "settledininstallments": (SETTLEMENT, False, True),
    "refunded": (REFUND, False, True),
    "refundedexternally": (REFUND, False, True),
    "refundedbulk": (REFUND, False, True),
    "refundedininstallments": (REFUND, False, True),
    "refundedreversed": (REFUND, True, True),
    "chargeback": (CHARGEBACK, False, True),
    "chargebackexternally": (CHARGEBACK, False, True),
    "secondchargeback": (CHARGEBACK, False, True),
    "chargebackreversed": (CHARGEBACK, True, True),
    "chargebackreversedexternally": (CHARGEBACK, True, True),
    "fee": (FEE, False, False),
    "misccosts": (FEE, False, False),
    "paymentcost": (FEE, False, False),
    "settlecost": (FEE, False, False),
    "invoicededuction": (FEE, False, False),
    "authorisationschemefee": (FEE, False, False),
    "depositcorrection": (FEE, False, False),
    "manualcorrected": (FEE, False, False),
    "reserveadjustment": (FEE, False, False),
    "merchantpayout": (PAYOUT, False, False),
    "paidout": (PAYOUT, False, False),
    "paidoutreversed": (PAYOUT, True, False),
    "internalcompanypayout": (PAYOUT, False, False),
    "balancetransfer": (PAYOUT, False, False),
}
CORRECTIONS = {"depositcorrection", "manualcorrected", "reserveadjustment"}
#: Payments accounting report journal types that record a payment's life but move no money.
NO_MONEY_TYPES = {"received", "authorised", "sentforsettle", "refused", "cancelled", "expired", "error", "retried",
                  "sentforrefund", "capturefailed", "reversed", "authorisedpending", "refundfailed"}
PAYOUT_TYPES = {"merchantpayout", "paidout", "paidoutreversed", "internalcompanypayout"}


class AdyenSettlementSource:
    """Adyen Settlement details report (and Payments accounting report) CSVs, name `adyen_sdr`."""

    name = "adyen_sdr"

    def identify(self, path: Path, head: bytes) -> bool:
        rows = head_rows(head, limit=1)
        if not rows or not rows[0]:
            return False
        if len(rows[0]) == 1:
            rows = head_rows(head, limit=1, delimiter=sniff_delimiter(rows[0][0]))
        names = {norm_header(cell) for cell in rows[0]}
        return {"merchant account", "psp reference"} <= names and bool(names & {"type", "record type"}) and bool(
            names & {"net credit (nc)", "net debit (nc)", "payable (sc)"}
        )

    def _open(self, path: Path) -> tuple[list[str], dict[str, int], Iterator[list[str]]]:
        """The header, its column positions and the rows still to read."""
        text, _ = decode_report(path.read_bytes(), path.name)
        delimiter = sniff_delimiter(text.split("\n", 1)[0])
        # Rows are read as they come: a report of a million rows is never held twice.
        rows = (row for row in csv_rows(text, path.name, delimiter) if any(cell.strip() for cell in row))
        header = next(rows, None)
        if header is None:
            raise MalformedFile(f"{path.name}: empty file; download the Adyen report again")
        return header, header_columns(path.name, header), rows

    def parse(self, path: Path) -> ParseResult:
        header, positions, rows = self._open(path)
        reader = _AdyenReader(self.name, header, positions)
        for _ in reader.read(rows):
            pass
        return ParseResult(records=reader.records, transactions_found=reader.found, warnings=reader.warnings_lines(),
                           checks=reader.batch_checks())

    def stream(self, path: Path, batch_size: int = 50_000):
        """The records in columnar batches, through the fast reader (sources/fast_adyen.py), which
        gives exactly what parse() gives and falls back to this reader for what it does not know."""
        from sources.fast_adyen import AdyenStream

        return AdyenStream(self, path, batch_size)

    def iter_records(self, path: Path) -> Iterator[NormalizedRecord]:
        """The records one at a time, for callers that must not hold a million-row report in
        memory; the batch checks and warnings need the whole file (use `parse` for those)."""
        header, positions, rows = self._open(path)
        reader = _AdyenReader(self.name, header, positions)
        for records in reader.read(rows):
            yield from records
            records.clear()


def header_columns(file_name: str, header: list[str]) -> dict[str, int]:
    """field -> column index of an Adyen report header; MalformedFile when it is not one."""
    positions = header_positions(header, COLUMNS)
    missing = [COLUMNS[f][0] for f in ("merchant_account", "type", "created", "net_currency") if f not in positions]
    if not ({"net_debit", "net_credit"} & positions.keys() or "payable" in positions):
        missing.append("Net Debit (NC)/Net Credit (NC)")
    if missing:
        raise MalformedFile(f"{file_name}: the header lacks {', '.join(missing)}; not an Adyen settlement details report")
    return positions


class _AdyenReader:
    def __init__(self, source_name: str, header: list[str], positions: dict[str, int]) -> None:
        self.source_name = source_name
        self.width = len(header)
        self.positions = positions
        self.report = "payments_accounting" if "payable" in positions and "net_credit" not in positions else "settlement_details"
        self.records: list[NormalizedRecord] = []
        self.found = 0
        self.warnings: list[str] = []
        self.skipped = SkipTally()
        self.occurrences = Occurrences()
        self.mangled: dict[str, list[int]] = {}
        self.unknown: dict[str, list[int]] = {}
        self.odd_widths: list[int] = []
        self.fee_disagreements: list[str] = []
        #: (merchant account, batch, currency) -> Σ net of non-payout rows / payouts' Net Debit
        self.batch_net: dict[tuple[str, str, str], Decimal] = {}
        self.batch_payouts: dict[tuple[str, str, str], Decimal | str | None] = {}

    def read(self, body: Iterator[list[str]]) -> Iterator[list[NormalizedRecord]]:
        """Reads the rows; yields the record list after each row (a streaming caller empties it)."""
        fields = tuple(self.positions.items())
        references = [field for field in REFERENCE_FIELDS if field in self.positions]
        for number, raw in enumerate(body, start=2):
            self.found += 1
            if len(raw) != self.width:
                self.odd_widths.append(number)
            row = Cells.of(raw, fields)
            for field in references:
                if looks_excel_mangled(row[field]):
                    self.mangled.setdefault(COLUMNS[field][0], []).append(number)
            self._row(number, row)
            yield self.records

    def _net(self, row: Cells) -> Decimal | str | None:
        """What moved, signed from our balance's side: Net Credit − Net Debit (PAR: Payable, signed)."""
        if "net_credit" in self.positions or "net_debit" in self.positions:
            credit, debit = plain_decimal(row["net_credit"]), plain_decimal(row["net_debit"])
            if credit is None and debit is None:
                return None
            return add(credit, -debit if isinstance(debit, Decimal) else debit)
        return plain_decimal(row["payable"])

    def _fees(self, row: Cells, ref: str) -> Decimal | str | None:
        parts = [plain_decimal(row[f]) for f in ("commission", "markup", "scheme_fees", "interchange")]
        components = add(*parts)
        payment_fees = plain_decimal(row["payment_fees"])
        if isinstance(components, Decimal) and components == 0 and isinstance(payment_fees, Decimal):
            return payment_fees
        if isinstance(components, Decimal) and isinstance(payment_fees, Decimal) and payment_fees not in (0, components):
            self.fee_disagreements.append(ref)
        return components

    def _row(self, number: int, row: Cells) -> None:
        journal = row["type"]
        key = journal.lower().replace(" ", "")
        ref = row["psp_reference"] or row["modification_reference"] or f"line {number}"
        if key in NO_MONEY_TYPES:
            self.skipped.add(f"journal type {journal}: a payment's state, no money moved", ref)
            return
        net = self._net(row)
        batch_key = (row["merchant_account"], row["batch"], row["net_currency"].upper())
        if key in PAYOUT_TYPES and key != "paidoutreversed":
            paid = self.batch_payouts.get(batch_key, Decimal(0))
            self.batch_payouts[batch_key] = add(paid, -net if isinstance(net, Decimal) else net)
        elif isinstance(net, Decimal) and batch_key[1]:
            self.batch_net[batch_key] = self.batch_net.get(batch_key, Decimal(0)) + net
        if key in JOURNAL_TYPES:
            record_type, reversal, splits = JOURNAL_TYPES[key]
        else:
            self.unknown.setdefault(journal or "(empty)", []).append(number)
            record_type, reversal, splits = (SETTLEMENT, False, True) if row["psp_reference"] else (FEE, False, False)
        fees = self._fees(row, ref) if splits else None
        if isinstance(fees, Decimal) and fees == 0:
            fees = None
        gross = add(net, fees) if fees is not None else net
        self._emit(row, journal, key, record_type, reversal, net, gross, fees)

    def _emit(self, row: Cells, journal: str, key: str, record_type: str, reversal: bool,
              net: Decimal | str | None, gross: Decimal | str | None, fees: Decimal | str | None) -> None:
        account = row["merchant_account"] or PROVIDER
        currency = row["net_currency"].upper()
        psp = row["psp_reference"]
        modification = text_or_none(row["modification_reference"])
        booking_date = leading_iso_date(row["created"])
        batch = row["batch"]
        identity = (account, psp, journal, modification, batch, currency, identity_amount(net), row["created"])
        occurrence = self.occurrences.next(identity)
        gross_gc = add(plain_decimal(row["gross_credit"]), _negated(plain_decimal(row["gross_debit"])))
        if psp:
            method = " ".join(filter(None, (row["payment_method"], row["payment_method_variant"])))
            remittance = " ".join(filter(None, (journal, method)))
        else:
            remittance = " ".join(filter(None, (journal, modification)))
        details = self.report == "settlement_details"
        # Pairs filtered in one comprehension: this runs once per row of million-row reports.
        pairs = (
            ("provider", PROVIDER), ("report", self.report), ("type", journal), ("batch", batch),
            ("payout_id", modification if key in PAYOUT_TYPES else None),
            ("internal_transfer", "true" if key == "balancetransfer" else None),
            ("adjustment", "true" if key in CORRECTIONS else None), ("reversal", "true" if reversal else None),
            ("net", money_text(net)), ("fees", money_text(fees)), ("gross", money_text(gross) if fees is not None else None),
            ("commission", row["commission"]), ("markup", row["markup"]), ("scheme_fees", row["scheme_fees"]),
            ("interchange", row["interchange"]), ("payment_fees", row["payment_fees"]),
            ("gross_currency", row["gross_currency"].upper()),
            ("gross_amount", money_text(gross_gc) if row["gross_credit"] or row["gross_debit"] else None),
            ("exchange_rate", row["exchange_rate"]), ("modification_reference", modification),
            ("modification_merchant_reference", row["modification_merchant_reference"]),
            ("company_account", row["company_account"]), ("payment_method", row["payment_method"]),
            ("payment_method_variant", row["payment_method_variant"]), ("created_at", row["created"]),
            ("timezone", row["timezone"]), ("booked_at", row["booking_date"] if details else None),
            ("booking_timezone", row["booking_timezone"]), ("merchant_order_reference", row["merchant_order_reference"]),
            ("shopper_reference", row["shopper_reference"]), ("shopper_country", row["shopper_country"]),
            ("dispute_reference", row["dispute_reference"]), ("arn", row["arn"]),
            ("authorisation_code", row["authorisation_code"]), ("settlement_flow", row["settlement_flow"]),
            ("metadata", row["metadata"]),
        )
        extra = {name: value for name, value in pairs if value}
        value_date = leading_iso_date(row["booking_date"]) if details else None
        common = dict(
            source_format=self.source_name, account=account, booking_date=booking_date, value_date=value_date,
            currency=currency or None, counterparty_name=None, counterparty_account=None, counterparty_tax_id=None,
            end_to_end_id=row["merchant_reference"] or None, bank_ref=psp or modification,
        )
        fee_extra = {**extra, "part": "fee"} if fees is not None else None
        extra["part"] = "gross"
        self.records.append(NormalizedRecord(
            record_type=record_type, amount=money_text(gross), remittance=remittance or None,
            line_id=make_line_id(self.source_name, *identity, occurrence, "gross"), extra=extra, **common,
        ))
        if fees is not None:
            self.records.append(NormalizedRecord(
                record_type=FEE, amount=money_text(_negated(fees)), remittance=f"Adyen fees on {remittance}",
                line_id=make_line_id(self.source_name, *identity, occurrence, "fee"), extra=fee_extra, **common,
            ))

    def batch_checks(self) -> list[ControlCheck]:
        checks = []
        for (account, batch, currency), paid in self.batch_payouts.items():
            actual = self.batch_net.get((account, batch, currency), Decimal(0))
            checks.append(amount_check("adyen_batch_payout", f"{account} batch {batch or '(none)'} {currency}", paid, actual))
        return checks

    def warnings_lines(self) -> list[str]:
        notes = list(self.warnings)
        if self.odd_widths:
            notes.append(f"{len(self.odd_widths)} row(s) have another number of cells than the header ({self.width}); "
                         f"missing cells read as empty: lines {', '.join(map(str, self.odd_widths[:10]))}")
        for column, lines in self.mangled.items():
            notes.append(f"{column} looks rewritten by a spreadsheet in scientific notation (digits lost) on "
                         f"{len(lines)} row(s), left as written: lines {', '.join(map(str, lines[:10]))}; "
                         "export the report again as CSV without opening it in Excel")
        for journal, lines in self.unknown.items():
            notes.append(f"journal type {journal!r} is not one Adyen documents; {len(lines)} row(s) kept by their net "
                         f"amount: lines {', '.join(map(str, lines[:10]))}")
        if self.fee_disagreements:
            notes.append(f"Payment Fees (NC) differs from Commission + Markup + Scheme Fees + Interchange on "
                         f"{len(self.fee_disagreements)} row(s); the components were used: {', '.join(self.fee_disagreements[:5])}")
        unpaid = sorted({batch for (_, batch, _) in self.batch_net} - {batch for (_, batch, _) in self.batch_payouts})
        if unpaid:
            notes.append(f"batch(es) {', '.join(unpaid)} have no MerchantPayout row in this file; their payout is not verified")
        return notes + self.skipped.warnings()


def _negated(value: Decimal | str | None) -> Decimal | str | None:
    return -value if isinstance(value, Decimal) else value
