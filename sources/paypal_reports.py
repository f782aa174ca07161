"""PayPal settlement reports: the SFTP Settlement (STL) and Transaction Detail (TRR) reports, and the
activity download CSV of the PayPal website.

STL / TRR (FORMATS.md §4; PayPal "Settlement Report Specification" 9.0.x and "Transaction Detail
Report Specification"). One CSV envelope whose first column is the row type:

    RH  report header (generation time, window, account id, version)
    FH  file header (sequence; a report is split into files of at most 1M records)
    SH  section header (period start, period end, account id)
    CH  column header: the names of the SB columns, short (22) or long TRR-like (56) layout
    SB  section body: one transaction
    SF  section footer, per currency: total gross credit, gross debit, fee credit, fee debit, balances
    SC  section record count        RF / RC  the same for the whole report        FF  file footer

SB columns are taken by their CH name (the old header `Transaction  Debit or Credit` has a double
space). Amounts are unsigned minor units with two implied decimals for every currency (even JPY:
"100,00 yen and $100.00 USD are both represented as 10000"); the direction is in the separate CR/DR
columns, separately for gross and fee. Dates read `2026/01/06 00:00:30 -0800`: the booking date is
the local date as written, the offset goes to `extra.timezone`. UTF-8 with or without a BOM; older
files are UTF-16.

Transaction event codes (T-codes, spec Appendix "Transaction Event Codes") decide the record type:
payments are settlements, T01xx fees, T04xx withdrawals payouts, T1107 refunds, T1201/T1202
chargebacks and their reversals. Currency conversions (T0200-T0202) move money between the
account's own currency balances, holds (T1105, T1110, T1111, T15xx, T21xx), authorisations (T13xx)
and display-only rows (T98xx) move nothing to or from us: they are not records, and each is counted
in a warning (a conversion is also noted on the transaction it funds, as extra.converted_*). TRR
rows whose Transactional Status is P (pending), D (denied) or V (reversed/void) do not affect the
balance and are skipped the same way.

Footers are verified as ControlChecks: each SF against the SB rows of its section and currency, each
RF against the whole report, SC/RC against the number of SB rows. The totals count every SB row as
written, conversions and holds included, because PayPal's footers do. SF/RF columns 3-6 are read in
the spec's order (Total Gross Amount Credit, Gross Debit, Total Fee Amount Credit, Fee Debit; the
order SmashPig's STL parser also uses). The balances after them (beginning/ending, available,
payable) are not turned into StatementSummary records: conversions and holds move those balances
but are not records, so the integrity check's "opening + lines = closing" would not hold.

Activity download CSV (FORMATS.md §4 "Activity download CSV"; docs.paypal.ai "Report fields and
formats"): a user-customisable column set with localized headers and numbers. Columns are taken by
name in English, Spanish, German, French or Italian; amounts are signed as written (`-1,75`,
`4.626,81`, `1,653.75`) with the decimal separator decided from the values (or the header language
when every value is ambiguous); dates D/M/Y or M/D/Y decided from values above 12 (else the header
language). Balance Impact "Memo" rows (holds, authorisations) and pending or denied rows are skipped;
currency conversions (two rows linked by Reference Txn ID) are skipped with a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterator, Sequence

from sources.errors import MalformedFile
from sources.records import ControlCheck, NormalizedRecord, ParseResult, make_line_id
from sources.settlement_common import (
    Cells,
    SkipTally,
    Occurrences,
    add,
    amount_check,
    compact_extra,
    count_check,
    csv_rows,
    decode_report,
    head_rows,
    identity_amount,
    header_positions,
    leading_iso_date,
    money_text,
    norm_header,
    sniff_delimiter,
    text_or_none,
)

PROVIDER = "paypal"

# --- transaction event codes -------------------------------------------------------------------------

SETTLEMENT, FEE, REFUND, CHARGEBACK, PAYOUT = "settlement", "fee", "refund", "chargeback", "payout"
CONVERSION, HOLD, AUTHORIZATION, DISPLAY = "conversion", "hold", "authorization", "display"
#: Kinds that are not records, and why (the warning's words).
SKIPPED_KINDS = {
    CONVERSION: "currency conversion: it moves money between the account's own currency balances",
    HOLD: "hold or hold release: it does not move money to or from the account",
    AUTHORIZATION: "authorization or its void: no money moved",
    DISPLAY: "display-only row: no money moved",
}

#: T-code -> label, after the Settlement Report Specification's appendix (wording shortened).
EVENT_LABELS: dict[str, str] = {
    "T0000": "General payment", "T0001": "Mass payment", "T0002": "Subscription payment",
    "T0003": "Pre-approved payment", "T0004": "eBay auction payment", "T0005": "Direct payment API",
    "T0006": "Express Checkout payment", "T0007": "Website payment", "T0008": "Postage payment",
    "T0009": "Gift certificate payment", "T0010": "Third-party auction payment", "T0011": "Mobile payment",
    "T0012": "Virtual terminal payment", "T0013": "Donation payment", "T0014": "Rebate payment",
    "T0015": "Third-party payout", "T0016": "Third-party recoupment", "T0017": "Store-to-store transfer",
    "T0018": "PayPal Here payment", "T0019": "Generic instrument-funded payment",
    "T0100": "General fee", "T0101": "Website Payments Pro monthly fee", "T0102": "Foreign bank withdrawal fee",
    "T0103": "WorldLink check withdrawal fee", "T0104": "Mass payment batch fee", "T0105": "Check withdrawal",
    "T0106": "Chargeback processing fee", "T0107": "Payment fee", "T0108": "ATM withdrawal",
    "T0109": "Auto-sweep from account", "T0110": "International credit card withdrawal",
    "T0111": "Warranty fee", "T0112": "Gift certificate expiration fee", "T0113": "Partner fee",
    "T0200": "General currency conversion", "T0201": "User-initiated currency conversion",
    "T0202": "Currency conversion to cover negative balance",
    "T0300": "General funding of PayPal account", "T0301": "PayPal balance manager funding",
    "T0302": "ACH funding for funds recovery", "T0303": "Electronic funds transfer",
    "T0400": "General withdrawal", "T0401": "AutoSweep withdrawal",
    "T0500": "General PayPal debit card transaction", "T0700": "General credit card transaction",
    "T0800": "General bonus", "T0900": "General incentive or certificate redemption",
    "T1000": "Bill pay transaction", "T1100": "General reversal", "T1101": "Reversal of ACH withdrawal",
    "T1102": "Reversal of debit card transaction", "T1103": "Reversal of points usage",
    "T1104": "Reversal of ACH deposit", "T1105": "Reversal of general account hold",
    "T1106": "Payment reversal initiated by PayPal", "T1107": "Payment refund initiated by merchant",
    "T1108": "Fee reversal", "T1109": "Fee refund", "T1110": "Hold for dispute investigation",
    "T1111": "Cancellation of hold for dispute resolution", "T1114": "Mass pay reversal",
    "T1115": "Mass pay refund", "T1116": "Instant payment review reversal",
    "T1200": "General account adjustment", "T1201": "Chargeback", "T1202": "Chargeback reversal",
    "T1203": "Charge-off adjustment", "T1204": "Incentive reversal adjustment",
    "T1205": "Reimbursement of chargeback", "T1207": "Chargeback re-presentment rejection",
    "T1208": "Chargeback cancellation", "T1300": "General authorization", "T1301": "Reauthorization",
    "T1302": "Void of authorization", "T1400": "General dividend", "T1500": "General temporary hold",
    "T1501": "Account hold for open authorization", "T1502": "Account hold for ACH deposit",
    "T1503": "Temporary hold on available balance", "T1700": "Withdrawal to non-bank institution",
    "T2000": "General intra-account transfer", "T2001": "Settlement consolidation",
    "T2101": "General hold", "T2102": "General hold release", "T2103": "Reserve hold",
    "T2104": "Reserve release", "T2105": "Payment review hold", "T2106": "Payment review release",
    "T2107": "Payment hold", "T2108": "Payment hold release", "T2111": "Funds not yet available",
    "T2112": "Funds available", "T2113": "Blocked payments", "T5000": "Deferred disbursement",
    "T5001": "Release of deferred disbursement", "T9800": "Display-only transaction", "T9900": "Other",
}


@dataclass(frozen=True)
class EventKind:
    kind: str
    reversal: bool = False
    #: False when the code is not one we know: the kind is then a guess from its direction.
    known: bool = True


_CODE_KINDS: dict[str, EventKind] = {
    "T0105": EventKind(PAYOUT), "T0108": EventKind(PAYOUT), "T0109": EventKind(PAYOUT), "T0110": EventKind(PAYOUT),
    "T1101": EventKind(PAYOUT, reversal=True), "T1104": EventKind(PAYOUT, reversal=True),
    "T1105": EventKind(HOLD), "T1110": EventKind(HOLD), "T1111": EventKind(HOLD),
    "T1106": EventKind(CHARGEBACK), "T1116": EventKind(CHARGEBACK), "T1107": EventKind(REFUND),
    "T1115": EventKind(REFUND), "T1108": EventKind(FEE, reversal=True), "T1109": EventKind(FEE, reversal=True),
    "T1114": EventKind(SETTLEMENT, reversal=True), "T1200": EventKind(SETTLEMENT), "T1203": EventKind(FEE),
    "T1204": EventKind(SETTLEMENT), "T1201": EventKind(CHARGEBACK), "T1207": EventKind(CHARGEBACK),
    "T1202": EventKind(CHARGEBACK, reversal=True), "T1205": EventKind(CHARGEBACK, reversal=True),
    "T1208": EventKind(CHARGEBACK, reversal=True), "T2000": EventKind(PAYOUT), "T2001": EventKind(PAYOUT),
    "T2109": EventKind(SETTLEMENT), "T2110": EventKind(SETTLEMENT), "T9900": EventKind(SETTLEMENT, known=False),
}
#: The first three characters of a T-code name its group.
_GROUP_KINDS: dict[str, str] = {
    "T00": SETTLEMENT, "T01": FEE, "T02": CONVERSION, "T03": PAYOUT, "T04": PAYOUT, "T05": SETTLEMENT,
    "T07": SETTLEMENT, "T08": SETTLEMENT, "T09": SETTLEMENT, "T10": SETTLEMENT, "T11": REFUND,
    "T12": CHARGEBACK, "T13": AUTHORIZATION, "T14": SETTLEMENT, "T15": HOLD, "T16": SETTLEMENT,
    "T17": PAYOUT, "T18": SETTLEMENT, "T19": SETTLEMENT, "T21": HOLD, "T22": SETTLEMENT, "T30": SETTLEMENT,
    "T50": HOLD, "T97": SETTLEMENT, "T98": DISPLAY,
}


def event_kind(code: str | None) -> EventKind:
    """What a T-code means for the balance; an unknown code is kept, by its direction, as settlement."""
    code = (code or "").strip().upper()
    if code in _CODE_KINDS:
        return _CODE_KINDS[code]
    group = _GROUP_KINDS.get(code[:3])
    if group is None or not re.fullmatch(r"T\d{4}", code):
        return EventKind(SETTLEMENT, known=False)
    return EventKind(group)


def event_text(code: str) -> str:
    label = EVENT_LABELS.get(code.upper())
    return f"{code} {label}" if label else code


# --- STL / TRR -------------------------------------------------------------------------------------

ENVELOPE_ROWS = frozenset({"RH", "FH", "SH", "CH", "SB", "SF", "SC", "RF", "RC", "FF"})

#: SB field -> CH header names (norm_header also folds the old double space and case).
SB_COLUMNS: dict[str, tuple[str, ...]] = {
    "transaction_id": ("Transaction ID",),
    "invoice_id": ("Invoice ID",),
    "reference_id": ("PayPal Reference ID",),
    "reference_id_type": ("PayPal Reference ID Type",),
    "event_code": ("Transaction Event Code",),
    "initiated": ("Transaction Initiation Date",),
    "completed": ("Transaction Completion Date",),
    "gross_direction": ("Transaction Debit or Credit",),
    "gross": ("Gross Transaction Amount",),
    "gross_currency": ("Gross Transaction Currency",),
    "fee_direction": ("Fee Debit or Credit",),
    "fee": ("Fee Amount",),
    "fee_currency": ("Fee Currency",),
    "custom_field": ("Custom Field",),
    "consumer_id": ("Consumer ID",),
    "payment_tracking_id": ("Payment Tracking ID",),
    "store_id": ("Store ID",),
    "bank_reference_id": ("Bank Reference ID",),
    "status": ("Transactional Status",),
    "subject": ("Transaction Subject",),
    "note": ("Transaction Note",),
    "payer_account": ("Payer's Account ID",),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "business_name": ("Consumer Business Name",),
    "payment_source": ("Payment Source",),
    "card_type": ("Card Type",),
}
REQUIRED_SB = ("transaction_id", "event_code", "gross_direction", "gross", "gross_currency")

#: TRR Transactional Status values that mean the row did not (or no longer does) move the balance.
NOT_BALANCE_STATUSES = {"P": "pending", "D": "denied", "V": "reversed or void"}
KNOWN_STATUSES = {"S", *NOT_BALANCE_STATUSES}

_DIGITS = re.compile(r"[0-9]+")
_TIMEZONE_SUFFIX = re.compile(r"(?:\d\s+)([+-]\d{2}:?\d{2}|[A-Z]{2,5})\s*$")
#: SF/RF amount columns, after the row type and currency (spec "Section Footer Data").
FOOTER_TOTALS = (("gross_credit", 2), ("gross_debit", 3), ("fee_credit", 4), ("fee_debit", 5))


def _minor_units(raw: str, direction: str) -> Decimal | str | None:
    """An unsigned minor-unit amount and its CR/DR as a signed major-unit Decimal (2 implied
    decimals for every currency); the raw text, marked so it never passes for a number, otherwise."""
    if not raw:
        return None
    if _DIGITS.fullmatch(raw) and direction in ("CR", "DR"):
        value = Decimal(raw).scaleb(-2)
        return value if direction == "CR" else -value
    return f"{raw} {direction or '(no CR/DR)'}"


def _footer_amount(raw: str | None) -> Decimal | str | None:
    raw = (raw or "").strip()
    return Decimal(raw).scaleb(-2) if _DIGITS.fullmatch(raw) else (raw or None)


def _timezone(raw: str) -> str | None:
    match = _TIMEZONE_SUFFIX.search(raw)
    return match[1] if match else None


class _Totals:
    """Footer totals of SB rows, in minor units, as PayPal adds them."""

    __slots__ = ("gross_credit", "gross_debit", "fee_credit", "fee_debit")

    def __init__(self) -> None:
        self.gross_credit = self.gross_debit = self.fee_credit = self.fee_debit = 0

    def add_gross(self, direction: str, raw: str) -> None:
        if _DIGITS.fullmatch(raw):
            if direction == "CR":
                self.gross_credit += int(raw)
            elif direction == "DR":
                self.gross_debit += int(raw)

    def add_fee(self, direction: str, raw: str) -> None:
        if _DIGITS.fullmatch(raw):
            if direction == "CR":
                self.fee_credit += int(raw)
            elif direction == "DR":
                self.fee_debit += int(raw)


class PaypalSettlementSource:
    """PayPal STL and TRR reports (one envelope, two column layouts), name `paypal_stl`."""

    name = "paypal_stl"

    def identify(self, path: Path, head: bytes) -> bool:
        rows = [row for row in head_rows(head) if row and any(cell.strip() for cell in row)]
        if not rows or _row_type(rows[0]) not in {"RH", "FH", "SH", "CH"}:
            return False
        for row in rows:
            if _row_type(row) == "CH":
                names = {norm_header(cell) for cell in row}
                return {"transaction id", "transaction event code", "gross transaction amount"} <= names
        return False

    def parse(self, path: Path) -> ParseResult:
        text, encoding = decode_report(path.read_bytes(), path.name)
        reader = _StlReader(self.name, path.name)
        if encoding not in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"):
            reader.warnings.append(f"not UTF-8 or UTF-16; decoded as {encoding} (check accented names)")
        for number, row in enumerate(csv_rows(text, path.name), start=1):
            reader.read_row(number, row)
        return reader.result()

    def iter_records(self, path: Path) -> Iterator[NormalizedRecord]:
        """The records one at a time, for callers that must not hold a million-row report in
        memory. What needs the whole file is left out: footer checks, warnings, and the conversion
        notes on the transactions they fund (use `parse` for those)."""
        text, _ = decode_report(path.read_bytes(), path.name)
        reader = _StlReader(self.name, path.name, keep_index=False)
        for number, row in enumerate(csv_rows(text, path.name), start=1):
            reader.read_row(number, row)
            if reader.records:
                yield from reader.records
                reader.records.clear()
        reader.result()  # raises MalformedFile when there was no column header


def _row_type(row: Sequence[str]) -> str:
    return row[0].replace("\ufeff", "").strip().strip('"').upper() if row else ""


class _StlReader:
    """One pass over an STL/TRR file: envelope state, records, footer checks."""

    def __init__(self, source_name: str, file_name: str, keep_index: bool = True) -> None:
        self.source_name = source_name
        self.file_name = file_name
        #: whether to index transactions by id, so conversions can be noted on them (parse only)
        self.keep_index = keep_index
        self.report_kind = next((kind for kind in ("STL", "TRR") if file_name.upper().startswith(kind)), None)
        self.records: list[NormalizedRecord] = []
        self.checks: list[ControlCheck] = []
        self.warnings: list[str] = []
        self.skipped = SkipTally()
        self.occurrences = Occurrences()
        self.report_account: str | None = None
        self.section_account: str | None = None
        self.section = 0
        self.positions: dict[str, int] | None = None
        self.fields: tuple[tuple[str, int], ...] = ()
        self.width = 0
        self.layout: str | None = None
        self.bodies = 0
        self.section_bodies: Counter[int] = Counter()
        self.section_totals: dict[tuple[int, str], _Totals] = {}
        self.report_totals: dict[str, _Totals] = {}
        self.primary_by_id: dict[str, NormalizedRecord] = {}
        self.conversions: list[tuple[str, str, str, Decimal | str | None]] = []
        self.seen: set[str] = set()
        self.file_sequence: str | None = None
        self.odd_widths: list[int] = []
        self.footer_widths: list[int] = []
        self.unknown_rows: list[int] = []
        self.unknown_statuses: dict[str, list[str]] = {}
        self.guessed_codes: dict[str, list[str]] = {}
        self.scopes: Counter[tuple[str, str]] = Counter()
        self.handlers = {kind: getattr(self, f"_row_{kind.lower()}") for kind in ENVELOPE_ROWS}

    # -- envelope ------------------------------------------------------------------------------

    def read_row(self, number: int, row: list[str]) -> None:
        kind = _row_type(row)
        if not kind and not any(cell.strip() for cell in row):
            return  # a blank line
        if not self.seen and kind not in ENVELOPE_ROWS:
            raise MalformedFile(
                f"{self.file_name}: the first row starts with {kind[:20]!r}, not a PayPal report row type "
                "(RH, FH, SH, CH, SB…); not an STL/TRR settlement report"
            )
        if kind not in self.seen:
            self.seen.add(kind)
        handler = self.handlers.get(kind)
        if handler is None:
            self.unknown_rows.append(number)
            return
        handler(number, row)

    def _row_rh(self, number: int, row: list[str]) -> None:
        self.report_account = text_or_none(row[3]) if len(row) > 3 else None

    def _row_fh(self, number: int, row: list[str]) -> None:
        self.file_sequence = row[1].strip() if len(row) > 1 else None

    def _row_sh(self, number: int, row: list[str]) -> None:
        self.section += 1
        self.section_account = text_or_none(row[3]) if len(row) > 3 else None

    def _row_ch(self, number: int, row: list[str]) -> None:
        positions = header_positions(row, SB_COLUMNS)
        missing = [SB_COLUMNS[field][0] for field in REQUIRED_SB if field not in positions]
        if "completed" not in positions and "initiated" not in positions:
            missing.append("Transaction Completion Date")
        if missing:
            raise MalformedFile(f"{self.file_name}: the column header (CH, line {number}) lacks {', '.join(missing)}")
        self.positions = positions
        self.fields = tuple(positions.items())
        self.width = len(row)
        self.layout = "long" if "status" in positions else "short"
        self.section = max(self.section, 1)

    def _row_sb(self, number: int, row: list[str]) -> None:
        if self.positions is None:
            raise MalformedFile(
                f"{self.file_name}: transaction row (SB, line {number}) before any column header (CH) row; "
                "the report is cut at its start — download it again"
            )
        width = len(row)
        if width != self.width:
            self.odd_widths.append(number)
        self._body(Cells.of(row, self.fields))

    def _row_sf(self, number: int, row: list[str]) -> None:
        currency = row[1].strip().upper() if len(row) > 1 else ""
        totals = self.section_totals.get((max(self.section, 1), currency), _Totals())
        self._footer_checks("paypal_section_footer", f"section {max(self.section, 1)} {currency}", row, totals)

    def _row_rf(self, number: int, row: list[str]) -> None:
        if self._split_report():
            return
        currency = row[1].strip().upper() if len(row) > 1 else ""
        self._footer_checks("paypal_report_footer", f"report {currency}", row, self.report_totals.get(currency, _Totals()))

    def _row_sc(self, number: int, row: list[str]) -> None:
        scope = self._scope("paypal_section_record_count", f"section {max(self.section, 1)}")
        self.checks.append(count_check("paypal_section_record_count", scope, row[1].strip() if len(row) > 1 else None,
                                       self.section_bodies[max(self.section, 1)]))

    def _row_rc(self, number: int, row: list[str]) -> None:
        if self._split_report():
            return
        scope = self._scope("paypal_report_record_count", "report")
        self.checks.append(count_check("paypal_report_record_count", scope, row[1].strip() if len(row) > 1 else None, self.bodies))

    def _row_ff(self, number: int, row: list[str]) -> None:
        pass

    def _split_report(self) -> bool:
        """Report footers of a report split over several files cover all its files, not this one."""
        if self.file_sequence and self.file_sequence.lstrip("0") not in ("", "1"):
            note = (f"file {self.file_sequence} of a split report: the report footers (RF/RC) cover every file "
                    "of the report and are not verified against this one")
            if note not in self.warnings:
                self.warnings.append(note)
            return True
        return False

    def _scope(self, name: str, scope: str) -> str:
        self.scopes[(name, scope)] += 1
        repeat = self.scopes[(name, scope)]
        return scope if repeat == 1 else f"{scope} #{repeat}"

    def _footer_checks(self, prefix: str, scope: str, row: list[str], totals: _Totals) -> None:
        self.footer_widths.append(len(row))
        for field, index in FOOTER_TOTALS:
            name = f"{prefix}_{field}"
            expected = _footer_amount(row[index] if len(row) > index else None)
            actual = Decimal(getattr(totals, field)).scaleb(-2)
            self.checks.append(amount_check(name, self._scope(name, scope), expected, actual))

    # -- transactions ----------------------------------------------------------------------------

    def _tally(self, cells: Cells, gross_currency: str, fee_currency: str) -> None:
        section = max(self.section, 1)
        gross_direction, gross = cells["gross_direction"].upper(), cells["gross"]
        for totals in (self._totals(section, gross_currency), self._totals(None, gross_currency)):
            totals.add_gross(gross_direction, gross)
        fee = cells["fee"]
        if fee:
            fee_direction = cells["fee_direction"].upper()
            for totals in (self._totals(section, fee_currency), self._totals(None, fee_currency)):
                totals.add_fee(fee_direction, fee)

    def _totals(self, section: int | None, currency: str) -> _Totals:
        """The section's totals of a currency, or the report's when `section` is None."""
        if section is None:
            found = self.report_totals.get(currency)
            if found is None:
                found = self.report_totals[currency] = _Totals()
            return found
        key = (section, currency)
        found = self.section_totals.get(key)
        if found is None:
            found = self.section_totals[key] = _Totals()
        return found

    def _body(self, cells: Cells) -> None:
        txn = cells["transaction_id"]
        code = cells["event_code"].upper()
        gross_currency = cells["gross_currency"].upper()
        fee_currency = cells["fee_currency"].upper() or gross_currency
        self._tally(cells, gross_currency, fee_currency)
        self.bodies += 1
        self.section_bodies[max(self.section, 1)] += 1
        status = cells["status"].upper()
        if status in NOT_BALANCE_STATUSES:
            self.skipped.add(f"Transactional Status {status} ({NOT_BALANCE_STATUSES[status]}) does not affect the balance", txn)
            return
        if status and status not in KNOWN_STATUSES:
            self.unknown_statuses.setdefault(status, []).append(txn)
        kind = event_kind(code)
        gross = _minor_units(cells["gross"], cells["gross_direction"].upper())
        if kind.kind in SKIPPED_KINDS:
            if kind.kind == CONVERSION:
                self.conversions.append((txn, cells["reference_id"] or cells["invoice_id"], gross_currency, gross))
            self.skipped.add(f"{SKIPPED_KINDS[kind.kind]} ({code})", txn)
            return
        if not kind.known:
            self.guessed_codes.setdefault(code or "(none)", []).append(txn)
        self._emit(cells, txn, code, kind, gross, gross_currency, fee_currency)

    def _emit(self, cells: Cells, txn: str, code: str, kind: EventKind, gross: Decimal | str | None,
              gross_currency: str, fee_currency: str) -> None:
        fee = _minor_units(cells["fee"], cells["fee_direction"].upper())
        if isinstance(fee, Decimal) and fee == 0:
            fee = None
        completed = cells["completed"] or cells["initiated"]
        booking_date = leading_iso_date(completed)
        account = self.section_account or self.report_account or PROVIDER
        credit = cells["gross_direction"].upper() == "CR"
        reversal = kind.reversal or (kind.kind in (CHARGEBACK, REFUND) and credit)
        identity = (account, txn, code, gross_currency, identity_amount(gross), booking_date)
        occurrence = self.occurrences.next(identity)
        same_currency = fee is None or fee_currency == gross_currency
        net = add(gross, fee) if same_currency and gross is not None else None
        # Built as pairs and filtered in one comprehension: this runs once per row of reports with
        # a million rows, where compact_extra's generality costs a tenth of the time.
        pairs = (
            ("provider", PROVIDER), ("report", self.report_kind), ("layout", self.layout),
            ("section", max(self.section, 1)), ("event_code", code), ("gross", money_text(gross)),
            ("fee", money_text(fee)), ("net", money_text(net)),
            ("fee_currency", fee_currency if fee is not None and not same_currency else None),
            ("status", cells["status"].upper()), ("reference_id", cells["reference_id"]),
            ("reference_id_type", cells["reference_id_type"]), ("invoice_id", cells["invoice_id"]),
            ("custom_field", cells["custom_field"]), ("consumer_id", cells["consumer_id"]),
            ("initiated_at", cells["initiated"]), ("completed_at", cells["completed"]), ("timezone", _timezone(completed)),
            ("bank_reference_id", cells["bank_reference_id"]), ("payout_id", txn if kind.kind == PAYOUT else None),
            ("payment_source", cells["payment_source"]), ("card_type", cells["card_type"]),
            ("store_id", cells["store_id"]), ("payment_tracking_id", cells["payment_tracking_id"]),
            ("note", text_or_none(cells["note"])), ("reversal", "true" if reversal else None),
        )
        extra = {key: value for key, value in pairs if value}
        common = dict(
            source_format=self.source_name, account=account, booking_date=booking_date, value_date=booking_date,
            counterparty_name=_payer_name(cells), counterparty_account=cells["payer_account"] or cells["consumer_id"] or None,
            counterparty_tax_id=None,
            end_to_end_id=cells["invoice_id"] or cells["custom_field"] or None, bank_ref=txn or None,
        )
        subject = text_or_none(cells["subject"])
        remittance = f"{event_text(code)} — {subject}" if subject else event_text(code)
        fee_extra = {**extra, "part": "fee"} if fee is not None else None
        extra["part"] = "gross"
        primary = NormalizedRecord(
            record_type=kind.kind, amount=money_text(gross), currency=gross_currency or None, remittance=remittance,
            line_id=make_line_id(self.source_name, *identity, occurrence, "gross"), extra=extra, **common,
        )
        self.records.append(primary)
        if txn and self.keep_index:
            self.primary_by_id.setdefault(txn, primary)
        if fee is not None:
            self.records.append(NormalizedRecord(
                record_type=FEE, amount=money_text(fee), currency=fee_currency or None, remittance=f"Fee on {remittance}",
                line_id=make_line_id(self.source_name, *identity, occurrence, "fee"), extra=fee_extra, **common,
            ))

    # -- result -----------------------------------------------------------------------------------

    def result(self) -> ParseResult:
        if self.positions is None:
            raise MalformedFile(f"{self.file_name}: no column header (CH) row; the file is empty or not an STL/TRR report")
        self._link_conversions(self.conversions, self.primary_by_id, self.warnings)
        warnings = self.warnings + self._notes() + self.skipped.warnings()
        return ParseResult(records=self.records, transactions_found=self.bodies, warnings=warnings, checks=self.checks)

    def _notes(self) -> list[str]:
        notes: list[str] = []
        if not self.bodies:
            notes.append("the report holds no transactions (no SB rows)")
        if self.odd_widths:
            notes.append(f"{len(self.odd_widths)} transaction row(s) have another number of cells than the column header "
                         f"({self.width}); missing cells read as empty: lines {_lines(self.odd_widths)}")
        if self.unknown_rows:
            notes.append(f"{len(self.unknown_rows)} row(s) of an unknown row type ignored: lines {_lines(self.unknown_rows)}")
        minimum = len(FOOTER_TOTALS) + 2  # row type, currency, the four totals
        if self.footer_widths and min(self.footer_widths) < max(max(self.footer_widths), minimum):
            notes.append(f"a footer row (SF/RF) has {min(self.footer_widths)} cells where "
                         f"{max(max(self.footer_widths), minimum)} are expected: the file may be cut off")
        for status, refs in self.unknown_statuses.items():
            notes.append(f"Transactional Status {status!r} is not one PayPal documents; {len(refs)} row(s) kept: {', '.join(refs[:5])}")
        for code, refs in self.guessed_codes.items():
            notes.append(f"event code {code} ({EVENT_LABELS.get(code, 'not in the T-code list')}) has no known balance "
                         f"meaning; {len(refs)} row(s) kept as settlement by their CR/DR direction: {', '.join(refs[:5])}")
        if "RH" in self.seen and not {"RF", "RC"} & self.seen and not self._split_report():
            notes.append("the report header (RH) has no report footer (RF/RC): the file may be cut off")
        if "SH" in self.seen and self.bodies and not {"SF", "SC"} & self.seen:
            notes.append("the sections have no footers (SF/SC): the totals cannot be verified; the file may be cut off")
        return notes

    @staticmethod
    def _link_conversions(conversions: list[tuple[str, str, str, Decimal | str | None]],
                          primary_by_id: dict[str, NormalizedRecord], warnings: list[str]) -> None:
        """Notes each conversion leg on the transaction it converts for (PayPal Reference ID)."""
        unlinked: list[str] = []
        for txn, reference, currency, amount in conversions:
            target = primary_by_id.get(reference)
            if target is None:
                unlinked.append(txn)
                continue
            leg = f"{currency} {money_text(amount)}"
            target.extra["conversion"] = f"{target.extra['conversion']}; {leg}" if "conversion" in target.extra else leg
            if currency != target.currency:
                target.extra["converted_currency"] = currency
                target.extra["converted_amount"] = money_text(amount)
        if unlinked:
            warnings.append(f"{len(unlinked)} currency conversion row(s) refer to no transaction of this file: {', '.join(unlinked[:5])}")


def _payer_name(cells: Cells) -> str | None:
    name = text_or_none(f"{cells['first_name']} {cells['last_name']}")
    return name or text_or_none(cells["business_name"]) or text_or_none(cells["payer_account"])


def _lines(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:10])) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


# --- activity download CSV ------------------------------------------------------------------------

ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Date", "Fecha", "Datum", "Data"),
    "time": ("Time", "Hora", "Uhrzeit", "Heure", "Ora"),
    "timezone": ("TimeZone", "Time Zone", "Zona horaria", "Zeitzone", "Fuseau horaire", "Fuso orario"),
    "name": ("Name", "Nombre", "Nom", "Nome"),
    "type": ("Type", "Tipo", "Typ"),
    "status": ("Status", "Estado", "Statut", "Stato"),
    "currency": ("Currency", "Divisa", "Moneda", "Währung", "Devise", "Valuta"),
    "gross": ("Gross", "Bruto", "Brutto", "Avant commission", "Brut", "Lordo"),
    "fee": ("Fee", "Tarifa", "Comisión", "Comision", "Gebühr", "Frais", "Commissione"),
    "net": ("Net", "Neto", "Netto", "Importo netto"),
    "from_email": ("From Email Address", "De la dirección de correo electrónico", "Absender E-Mail-Adresse",
                   "De l'adresse email", "Indirizzo email mittente"),
    "to_email": ("To Email Address", "A la dirección de correo electrónico", "Empfänger E-Mail-Adresse",
                 "À l'adresse email", "Indirizzo email destinatario"),
    "transaction_id": ("Transaction ID", "Id. de transacción", "Id de transacción", "ID de transacción",
                       "Transaktionscode", "Numéro de transaction", "Codice transazione"),
    "reference_txn_id": ("Reference Txn ID", "Id. de transacción de referencia", "Id de transacción de referencia",
                         "Zugehöriger Transaktionscode", "Numéro de transaction de référence", "Codice transazione di riferimento"),
    "invoice_number": ("Invoice Number", "Número de factura", "Rechnungsnummer", "Numéro de facture", "Numero fattura"),
    "custom_number": ("Custom Number", "Número personalizado", "Zollnummer", "Numéro personnalisé", "Numero personalizzato"),
    "receipt_id": ("Receipt ID", "Id. de recibo", "Empfangsnummer", "Numéro de reçu", "Codice ricevuta"),
    "balance": ("Balance", "Saldo", "Guthaben", "Solde"),
    "subject": ("Subject", "Asunto", "Betreff", "Objet", "Oggetto"),
    "note": ("Note", "Nota", "Hinweis", "Remarque"),
    "item_title": ("Item Title", "Título del artículo", "Artikelbezeichnung", "Titre de l'objet", "Titolo oggetto"),
    "event_code": ("Transaction Event Code", "Código de evento de transacción", "Transaktionsereigniscode",
                   "Code d'événement de transaction", "Codice evento transazione"),
    "balance_impact": ("Balance Impact", "Impacto en el saldo", "Auswirkung auf Guthaben", "Impact sur le solde",
                       "Impatto sul saldo"),
    "payment_source": ("Payment Source", "Origen del pago", "Zahlungsquelle", "Source de paiement", "Fonte di pagamento"),
}
REQUIRED_ACTIVITY = ("date", "currency", "gross", "transaction_id")
#: The language of a header, by how it names the gross amount; it sets the defaults for ambiguous
#: dates and numbers (English: M/D/YYYY and a decimal point; the others: D/M/YYYY and a comma).
_GROSS_LANGUAGE = {"gross": "en", "bruto": "es", "brutto": "de", "avant commission": "fr", "brut": "fr", "lordo": "it"}

_IMPACT = {
    "credit": "credit", "crédito": "credit", "credito": "credit", "abono": "credit", "haben": "credit",
    "gutschrift": "credit", "crédit": "credit", "accredito": "credit",
    "debit": "debit", "débito": "debit", "debito": "debit", "cargo": "debit", "soll": "debit",
    "belastung": "debit", "lastschrift": "debit", "débit": "debit", "addebito": "debit",
    "memo": "memo", "memorándum": "memo", "memorandum": "memo", "mémo": "memo", "promemoria": "memo",
}
_NOT_BOOKED_STATUSES = {
    "pending", "pendiente", "ausstehend", "en attente", "in sospeso", "denied", "denegado", "denegada",
    "rechazado", "rechazada", "abgelehnt", "refusé", "refusée", "rifiutato", "canceled", "cancelled",
    "cancelado", "cancelada", "storniert", "annulé", "annullato", "failed", "fallido", "fehlgeschlagen",
    "échoué", "unclaimed", "no reclamado", "nicht abgeholt", "non réclamé", "held", "retenido",
}
#: Type keywords (whole words) when the file has no Transaction Event Code column; first match wins.
_TYPE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (CONVERSION, ("currency conversion", "conversión de divisa", "conversión de moneda", "conversion de devise",
                  "währungsumrechnung", "conversione di valuta")),
    (HOLD, ("hold", "retención", "retencion", "einbehalt", "einbehaltung", "authorization", "autorización",
            "autorizacion", "autorisierung", "autorisation", "autorizzazione")),
    (CHARGEBACK, ("chargeback", "contracargo", "rückbuchung", "rétrofacturation")),
    (REFUND, ("refund", "reembolso", "rückzahlung", "erstattung", "remboursement", "rimborso")),
    (FEE, ("fee", "tarifa", "comisión", "comision", "gebühr", "frais", "commissione")),
    (PAYOUT, ("withdrawal", "retirada", "retiro", "transfer to bank", "transferencia bancaria",
              "transferencia a cuenta bancaria", "bank deposit", "depósito bancario", "abbuchung", "bankkonto",
              "virement", "prelievo", "bonifico")),
)
_TYPE_PATTERNS = tuple(
    (kind, re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)) for kind, words in _TYPE_KEYWORDS
)
_DAY_MONTH_YEAR = re.compile(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\s*$", re.ASCII)
_YEAR_FIRST = re.compile(r"\s*(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})\s*$", re.ASCII)
_COMMA_DECIMAL = re.compile(r"\d,\d{1,2}$", re.ASCII)
_POINT_DECIMAL = re.compile(r"\d\.\d{1,2}$", re.ASCII)
_LOCALIZED_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)


class PaypalActivitySource:
    """The activity download CSV of the PayPal website, name `paypal_activity`."""

    name = "paypal_activity"

    def identify(self, path: Path, head: bytes) -> bool:
        rows = head_rows(head, limit=1)
        if not rows or not rows[0]:
            return False
        header = rows[0]
        if len(header) == 1:  # a `;` or tab separated export
            line = ",".join(header)
            rows = head_rows(head, limit=1, delimiter=sniff_delimiter(line))
            header = rows[0] if rows else header
        if _row_type(header) in ENVELOPE_ROWS:
            return False
        positions = header_positions(header, ACTIVITY_COLUMNS)
        return all(field in positions for field in REQUIRED_ACTIVITY) and (
            "balance_impact" in positions or {"fee", "net"} <= positions.keys()
        )

    def parse(self, path: Path) -> ParseResult:
        text, encoding = decode_report(path.read_bytes(), path.name)
        first_line = text.split("\n", 1)[0]
        rows = [row for row in csv_rows(text, path.name, sniff_delimiter(first_line)) if any(c.strip() for c in row)]
        if not rows:
            raise MalformedFile(f"{path.name}: empty file; download the activity report again")
        header = rows[0]
        positions = header_positions(header, ACTIVITY_COLUMNS)
        missing = [ACTIVITY_COLUMNS[field][0] for field in REQUIRED_ACTIVITY if field not in positions]
        if missing:
            raise MalformedFile(f"{path.name}: the header lacks {', '.join(missing)}; not a PayPal activity download")
        reader = _ActivityReader(self.name, path.name, header, positions, rows[1:])
        if encoding not in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"):
            reader.warnings.append(f"not UTF-8 or UTF-16; decoded as {encoding} (check accented names)")
        return reader.read()


class _ActivityReader:
    def __init__(self, source_name: str, file_name: str, header: list[str], positions: dict[str, int], body: list[list[str]]):
        self.source_name = source_name
        self.file_name = file_name
        self.positions = positions
        self.width = len(header)
        self.body = body
        self.language = _GROSS_LANGUAGE.get(norm_header(header[positions["gross"]]), "en")
        self.warnings: list[str] = []
        self.skipped = SkipTally()
        self.occurrences = Occurrences()
        self.records: list[NormalizedRecord] = []
        self.primary_by_id: dict[str, NormalizedRecord] = {}
        self.conversions: list[tuple[str, str, str, Decimal | str | None]] = []
        self.net_mismatches: list[str] = []
        self.sign_mismatches: list[str] = []
        self.odd_widths: list[int] = []
        self.day_first = self._day_first()
        self.decimal_comma = self._decimal_comma()

    def cell(self, row: list[str], field: str) -> str:
        index = self.positions.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""

    # -- file-level locale decisions -----------------------------------------------------------

    def _day_first(self) -> bool:
        """D/M/Y or M/D/Y: a first part above 12 proves day-first, a second part above 12 month-first."""
        first_big = second_big = False
        for row in self.body:
            match = _DAY_MONTH_YEAR.match(self.cell(row, "date"))
            if match:
                first_big |= int(match[1]) > 12
                second_big |= int(match[2]) > 12
        if first_big and not second_big:
            return True
        if second_big and not first_big:
            return False
        default = self.language != "en"
        reason = "both orders occur" if first_big else "no day above 12"
        if any(_DAY_MONTH_YEAR.match(self.cell(row, "date")) for row in self.body):
            self.warnings.append(f"dates are ambiguous ({reason}): read as {'D/M/YYYY' if default else 'M/D/YYYY'} "
                                 f"from the {self.language} header")
        return default

    def _decimal_comma(self) -> bool:
        comma = point = 0
        for row in self.body:
            for field in ("gross", "fee", "net", "balance"):
                value = self.cell(row, field)
                comma += bool(_COMMA_DECIMAL.search(value))
                point += bool(_POINT_DECIMAL.search(value))
        if comma != point:
            return comma > point
        return self.language != "en"

    def amount(self, raw: str) -> Decimal | str | None:
        text = raw.strip().translate({0x2212: "-", 0xA0: None, 0x202F: None, 0x20: None, 0x27: None})
        if not text:
            return None
        text = text.replace(".", "").replace(",", ".") if self.decimal_comma else text.replace(",", "")
        return Decimal(text) if _LOCALIZED_NUMBER.fullmatch(text) else raw

    def booking_date(self, raw: str) -> str | None:
        if not raw:
            return None
        match = _DAY_MONTH_YEAR.match(raw)
        try:
            if match:
                first, second, year = int(match[1]), int(match[2]), int(match[3])
                year += 2000 if year < 100 else 0
                day, month = (first, second) if self.day_first else (second, first)
                return date(year, month, day).isoformat()
            match = _YEAR_FIRST.match(raw)
            if match:
                return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            pass
        return raw

    # -- rows ------------------------------------------------------------------------------------

    def read(self) -> ParseResult:
        for number, row in enumerate(self.body, start=2):
            if len(row) != self.width:
                self.odd_widths.append(number)
            self._row(row)
        _StlReader._link_conversions(self.conversions, self.primary_by_id, self.warnings)
        if self.odd_widths:
            self.warnings.append(f"{len(self.odd_widths)} row(s) have another number of cells than the header "
                                 f"({self.width}); missing cells read as empty: lines {_lines(self.odd_widths)}")
        if self.net_mismatches:
            self.warnings.append(f"gross + fee differs from net on {len(self.net_mismatches)} row(s): "
                                 f"{', '.join(self.net_mismatches[:5])}")
        if self.sign_mismatches:
            self.warnings.append(f"the sign of the gross amount contradicts Balance Impact on {len(self.sign_mismatches)} "
                                 f"row(s): {', '.join(self.sign_mismatches[:5])}")
        return ParseResult(records=self.records, transactions_found=len(self.body),
                           warnings=self.warnings + self.skipped.warnings())

    def _row(self, row: list[str]) -> None:
        txn = self.cell(row, "transaction_id")
        impact = _IMPACT.get(self.cell(row, "balance_impact").casefold())
        if impact == "memo":
            self.skipped.add("Balance Impact Memo (a hold or authorization): the balance did not move", txn)
            return
        status = self.cell(row, "status")
        if status.casefold() in _NOT_BOOKED_STATUSES:
            self.skipped.add(f"status {status}: not booked to the balance", txn)
            return
        code = self.cell(row, "event_code").upper()
        kind = event_kind(code) if code else _kind_from_type(self.cell(row, "type"))
        gross = self.amount(self.cell(row, "gross"))
        currency = self.cell(row, "currency").upper()
        if kind.kind in SKIPPED_KINDS:
            if kind.kind == CONVERSION:
                self.conversions.append((txn, self.cell(row, "reference_txn_id"), currency, gross))
            self.skipped.add(f"{SKIPPED_KINDS[kind.kind]} ({code or self.cell(row, 'type')})", txn)
            return
        self._emit(row, txn, code, kind, gross, currency, impact)

    def _emit(self, row: list[str], txn: str, code: str, kind: EventKind, gross: Decimal | str | None,
              currency: str, impact: str | None) -> None:
        fee = self.amount(self.cell(row, "fee"))
        net = self.amount(self.cell(row, "net"))
        if isinstance(fee, Decimal) and fee == 0:
            fee = None
        if isinstance(gross, Decimal) and isinstance(net, Decimal) and add(gross, fee) != net:
            self.net_mismatches.append(txn)
        if isinstance(gross, Decimal) and gross and impact and (gross > 0) != (impact == "credit"):
            self.sign_mismatches.append(txn)
        booking_date = self.booking_date(self.cell(row, "date"))
        credit = isinstance(gross, Decimal) and gross > 0
        reversal = kind.reversal or (kind.kind in (CHARGEBACK, REFUND) and credit)
        type_text = text_or_none(self.cell(row, "type"))
        identity = (PROVIDER, txn, currency, identity_amount(gross), booking_date)
        occurrence = self.occurrences.next(identity)
        base = dict(
            provider=PROVIDER, event_code=code, type=type_text, status=self.cell(row, "status"),
            balance_impact=self.cell(row, "balance_impact"), gross=gross, fee=fee, net=net,
            balance=self.amount(self.cell(row, "balance")), time=self.cell(row, "time"),
            timezone=self.cell(row, "timezone"), reference_txn_id=self.cell(row, "reference_txn_id"),
            receipt_id=self.cell(row, "receipt_id"), from_email=self.cell(row, "from_email"),
            to_email=self.cell(row, "to_email"), payment_source=self.cell(row, "payment_source"),
            custom_number=self.cell(row, "custom_number"), language=self.language,
            payout_id=txn if kind.kind == PAYOUT else None, reversal=True if reversal else None,
            note=text_or_none(self.cell(row, "note")),
        )
        described = " ".join(filter(None, (code, type_text))) or "PayPal transaction"
        detail = text_or_none(self.cell(row, "subject")) or text_or_none(self.cell(row, "item_title"))
        remittance = f"{described} — {detail}" if detail else described
        counterparty_email = self.cell(row, "from_email") if credit else self.cell(row, "to_email")
        common = dict(
            source_format=self.source_name, account=PROVIDER, booking_date=booking_date, value_date=None,
            currency=currency or None, counterparty_name=text_or_none(self.cell(row, "name")) or counterparty_email or None,
            counterparty_account=counterparty_email or None, counterparty_tax_id=None,
            end_to_end_id=self.cell(row, "invoice_number") or self.cell(row, "custom_number") or None, bank_ref=txn or None,
        )
        extra = compact_extra(**base)
        primary = NormalizedRecord(
            record_type=kind.kind, amount=money_text(gross), remittance=remittance,
            line_id=make_line_id(self.source_name, *identity, occurrence, "gross"),
            extra={**extra, "part": "gross"}, **common,
        )
        self.records.append(primary)
        if txn:
            self.primary_by_id.setdefault(txn, primary)
        if fee is not None:
            self.records.append(NormalizedRecord(
                record_type=FEE, amount=money_text(fee), remittance=f"Fee on {remittance}",
                line_id=make_line_id(self.source_name, *identity, occurrence, "fee"),
                extra={**extra, "part": "fee"}, **common,
            ))


def _kind_from_type(type_text: str) -> EventKind:
    for kind, pattern in _TYPE_PATTERNS:
        if pattern.search(type_text):
            folded = type_text.casefold()
            return EventKind(kind, reversal=kind == CHARGEBACK and ("reversal" in folded or "cancel" in folded))
    return EventKind(SETTLEMENT)
