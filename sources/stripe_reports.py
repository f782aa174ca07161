"""Stripe itemized report CSVs: balance change from activity and payout reconciliation.

Format (FORMATS.md §5 "Stripe"; Stripe Docs, "Report types", balance_change_from_activity.itemized.N
and payout_reconciliation.itemized.N): one header row, then one row per balance transaction with

    balance_transaction_id, created(_utc), available_on(_utc), currency, gross, fee, net,
    reporting_category, source_id, charge_id, payment_intent_id, description,
    customer_facing_amount/currency, automatic_payout_id, automatic_payout_effective_at(_utc),
    payment_method_type, card_brand/country/funding, payment_metadata[...], refund_metadata[...]

Columns are taken by name (the metadata columns are chosen by the user). Amounts are decimal major
units, signed from the Stripe balance's side: refunds and disputes have a negative gross, a fee is
positive in `fee` and `net = gross - fee`. A row with a fee becomes a gross record and a fee
record (-fee), so the records of a row sum to its net. `reporting_category` decides the record type
(charge -> settlement, refund -> refund, dispute -> chargeback, dispute_reversal -> chargeback with
extra.reversal, fee -> fee, payout -> payout); reserved funds and issuing holds do not move the
available balance and are skipped with a warning; a category Stripe may add later is kept as a
settlement, by its sign, with a warning. Dates are the report's timezone (a report parameter, UTC
for the *_utc columns); the booking date is `created`, the value date `available_on`.

When a payout's own row is in the file (an activity report, or the test data of SmashPig), the
net of the rows carrying its automatic_payout_id must equal what it paid out: a ControlCheck
`stripe_payout_total` per payout.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from sources.errors import MalformedFile
from sources.records import ControlCheck, NormalizedRecord, ParseResult, make_line_id
from sources.settlement_common import (
    Cells,
    Occurrences,
    SkipTally,
    add,
    amount_check,
    compact_extra,
    csv_rows,
    decode_report,
    head_rows,
    identity_amount,
    header_positions,
    leading_iso_date,
    money_text,
    norm_header,
    plain_decimal,
    text_or_none,
)

PROVIDER = "stripe"

COLUMNS: dict[str, tuple[str, ...]] = {
    "balance_transaction_id": ("balance_transaction_id",),
    "created": ("created_utc", "created", "balance_transaction_created_at", "activity_at_utc", "activity_at"),
    "available_on": ("available_on_utc", "available_on"),
    "currency": ("currency",),
    "gross": ("gross", "amount"),
    "fee": ("fee",),
    "net": ("net",),
    "reporting_category": ("reporting_category", "balance_transaction_reporting_category"),
    "source_id": ("source_id",),
    "charge_id": ("charge_id",),
    "payment_intent_id": ("payment_intent_id",),
    "description": ("description",),
    "customer_facing_amount": ("customer_facing_amount",),
    "customer_facing_currency": ("customer_facing_currency",),
    "payout_id": ("automatic_payout_id",),
    "payout_effective_at": ("automatic_payout_effective_at_utc", "automatic_payout_effective_at"),
    "payment_method_type": ("payment_method_type",),
    "card_brand": ("card_brand",),
    "card_country": ("card_country",),
    "card_funding": ("card_funding",),
    "customer_name": ("customer_name", "shipping_address_name"),
    "customer_email": ("customer_email",),
    "customer_id": ("customer_id",),
    "invoice_id": ("invoice_id",),
    "account": ("connected_account_id", "connected_account", "gateway_account"),
    "trace_id_status": ("trace_id_status",),
    "dispute_reason": ("dispute_reason",),
}
REQUIRED = ("balance_transaction_id", "created", "currency", "gross", "reporting_category")

SETTLEMENT, FEE, REFUND, CHARGEBACK, PAYOUT = "settlement", "fee", "refund", "chargeback", "payout"
#: reporting_category -> (record type, reversal). The list is stripe-go's ReportingCategory values.
CATEGORIES: dict[str, tuple[str, bool]] = {
    "charge": (SETTLEMENT, False),
    "charge_failure": (SETTLEMENT, True),
    "partial_capture_reversal": (SETTLEMENT, True),
    "platform_earning": (SETTLEMENT, False),
    "platform_earning_refund": (SETTLEMENT, True),
    "connect_collection_transfer": (SETTLEMENT, False),
    "advance": (SETTLEMENT, False),
    "advance_funding": (SETTLEMENT, False),
    "issuing_transaction": (SETTLEMENT, False),
    "refund": (REFUND, False),
    "refund_failure": (REFUND, True),
    "dispute": (CHARGEBACK, False),
    "dispute_reversal": (CHARGEBACK, True),
    "fee": (FEE, False),
    "tax": (FEE, False),
    "other_adjustment": (FEE, False),
    "payout": (PAYOUT, False),
    "payout_reversal": (PAYOUT, True),
    "topup": (PAYOUT, False),
    "topup_reversal": (PAYOUT, True),
    "transfer": (PAYOUT, False),
    "transfer_reversal": (PAYOUT, True),
}
#: Categories that set funds aside inside Stripe: no money moves to or from the merchant.
HOLD_CATEGORIES = {
    "risk_reserved_funds": "reserved funds (a hold inside Stripe)",
    "connect_reserved_funds": "reserved funds (a hold inside Stripe)",
    "issuing_authorization_hold": "card-issuing authorization hold",
    "issuing_authorization_release": "card-issuing authorization release",
}


class StripeReportSource:
    """Stripe itemized balance-change and payout-reconciliation report CSVs, name `stripe`."""

    name = "stripe"

    def identify(self, path: Path, head: bytes) -> bool:
        rows = head_rows(head, limit=1)
        if not rows:
            return False
        names = {norm_header(cell) for cell in rows[0]}
        return "balance_transaction_id" in names and bool(
            names & {"reporting_category", "balance_transaction_reporting_category"}
        ) and bool(names & {"gross", "net", "amount"})

    def parse(self, path: Path) -> ParseResult:
        text, _ = decode_report(path.read_bytes(), path.name)
        rows = [row for row in csv_rows(text, path.name) if any(cell.strip() for cell in row)]
        if not rows:
            raise MalformedFile(f"{path.name}: empty file; download the Stripe report again")
        header = rows[0]
        positions = header_positions(header, COLUMNS)
        missing = [COLUMNS[field][0] for field in REQUIRED if field not in positions]
        if missing:
            raise MalformedFile(f"{path.name}: the header lacks {', '.join(missing)}; not a Stripe itemized report")
        return _StripeReader(self.name, header, positions, rows[1:]).read()


class _StripeReader:
    def __init__(self, source_name: str, header: list[str], positions: dict[str, int], body: list[list[str]]) -> None:
        self.source_name = source_name
        self.header = header
        self.positions = positions
        self.body = body
        self.metadata_columns = [(i, name.strip()) for i, name in enumerate(header) if "_metadata[" in name]
        self.timezone = "UTC" if norm_header(header[positions["created"]]).endswith("_utc") else "report timezone"
        self.records: list[NormalizedRecord] = []
        self.warnings: list[str] = []
        self.skipped = SkipTally()
        self.occurrences = Occurrences()
        self.account = self._file_account()
        self.net_mismatches: list[str] = []
        self.sign_fixes: list[str] = []
        self.unknown: dict[str, list[str]] = {}
        self.odd_widths: list[int] = []
        #: payout id -> (currency, Σ net of the rows it pays out); payout id -> (currency, amount paid)
        self.payout_items: dict[tuple[str, str], Decimal] = {}
        self.payouts: dict[tuple[str, str], list[Decimal | str | None]] = {}

    def cell(self, row: list[str], field: str) -> str:
        index = self.positions.get(field)
        return row[index].strip() if index is not None and index < len(row) else ""


    def _file_account(self) -> str:
        """One report belongs to one Stripe account: the account column's value if all rows agree."""
        values = Counter(value for value in (self.cell(row, "account") for row in self.body) if value)
        if len(values) == 1:
            return next(iter(values))
        if len(values) > 1:
            self.warnings.append(f"rows name {len(values)} different accounts ({', '.join(sorted(values))}); each row keeps its own")
        return PROVIDER

    def read(self) -> ParseResult:
        fields = tuple(self.positions.items())
        for number, raw in enumerate(self.body, start=2):
            if len(raw) != len(self.header):
                self.odd_widths.append(number)
            self._row(Cells.of(raw, fields), raw)
        return ParseResult(records=self.records, transactions_found=len(self.body), warnings=self._warnings(),
                           checks=self._payout_checks())

    def _row(self, row: Cells, raw: list[str]) -> None:
        txn = row["balance_transaction_id"]
        category = row["reporting_category"].lower()
        currency = row["currency"].upper()
        gross, fee, net = (plain_decimal(row[f]) for f in ("gross", "fee", "net"))
        net_computed = add(gross, -fee if isinstance(fee, Decimal) else fee)
        if net is None:
            net = net_computed
        elif isinstance(net, Decimal) and isinstance(net_computed, Decimal) and net != net_computed:
            self.net_mismatches.append(f"{txn} ({money_text(gross)} − {money_text(fee) or '0'} ≠ {money_text(net)})")
        payout_id = row["payout_id"]
        if category in HOLD_CATEGORIES:
            self.skipped.add(HOLD_CATEGORIES[category], txn)
            self._add_payout_item(payout_id, currency, net)
            return
        record_type, reversal = CATEGORIES.get(category, (SETTLEMENT, False))
        if category not in CATEGORIES:
            self.unknown.setdefault(category or "(empty)", []).append(txn)
        if record_type == PAYOUT and category in ("payout", "payout_reversal"):
            self._payout(row, raw, txn, category, reversal, currency, gross, fee, net)
            return
        self._add_payout_item(payout_id, currency, net)
        self._emit(row, raw, txn, category, record_type, reversal, currency, gross, fee, net)

    def _add_payout_item(self, payout_id: str, currency: str, net: Decimal | str | None) -> None:
        if payout_id and isinstance(net, Decimal):
            key = (payout_id, currency)
            self.payout_items[key] = self.payout_items.get(key, Decimal(0)) + net

    def _payout(self, row: Cells, raw: list[str], txn: str, category: str, reversal: bool, currency: str,
                gross: Decimal | str | None, fee: Decimal | str | None, net: Decimal | str | None) -> None:
        """A payout leaves the balance (negative), its reversal comes back (positive), whatever sign
        the row was written with; the net is what moved (a payout has no separate fee)."""
        amount = net
        if isinstance(net, Decimal) and net and (net > 0) != reversal:
            self.sign_fixes.append(txn)
            amount = -net
        payout_id = row["payout_id"] or row["source_id"]
        self.payouts.setdefault((payout_id, currency), []).append(amount)
        self._emit(row, raw, txn, category, PAYOUT, reversal, currency, amount, None, amount, payout_id=payout_id,
                   written=(gross, fee, net))

    def _emit(self, row: Cells, raw: list[str], txn: str, category: str, record_type: str, reversal: bool, currency: str,
              gross: Decimal | str | None, fee: Decimal | str | None, net: Decimal | str | None,
              payout_id: str | None = None, written: tuple | None = None) -> None:
        """`written`: the row's own gross, fee and net for extra, when the amount was derived."""
        account = self.account if self.account != PROVIDER else (row["account"] or PROVIDER)
        booking_date = leading_iso_date(row["created"])
        identity = (account, txn, currency, identity_amount(gross), booking_date)
        occurrence = self.occurrences.next(identity)
        description = text_or_none(row["description"])
        remittance = f"{category}: {description}" if description else (category or None)
        written_gross, written_fee, written_net = written or (gross, fee, net)
        base = dict(
            provider=PROVIDER, reporting_category=category, gross=written_gross, fee=written_fee, net=written_net,
            source_id=row["source_id"], charge_id=row["charge_id"],
            payment_intent_id=row["payment_intent_id"], created_at=row["created"],
            available_on=row["available_on"], timezone=self.timezone,
            payout_id=payout_id or row["payout_id"], payout_effective_at=row["payout_effective_at"],
            customer_facing_amount=row["customer_facing_amount"],
            customer_facing_currency=row["customer_facing_currency"].upper(),
            payment_method_type=row["payment_method_type"], card_brand=row["card_brand"],
            card_country=row["card_country"], card_funding=row["card_funding"],
            dispute_reason=row["dispute_reason"], invoice_id=row["invoice_id"],
            trace_id_status=row["trace_id_status"], reversal=True if reversal else None,
            **{name: raw[i].strip() for i, name in self.metadata_columns if i < len(raw) and raw[i].strip()},
        )
        common = dict(
            source_format=self.source_name, account=account, booking_date=booking_date,
            value_date=leading_iso_date(row["available_on"]), currency=currency or None,
            counterparty_name=text_or_none(row["customer_name"]) or row["customer_email"] or None,
            counterparty_account=row["customer_id"] or None, counterparty_tax_id=None,
            end_to_end_id=row["payment_intent_id"] or row["charge_id"] or None, bank_ref=txn or None,
        )
        extra = compact_extra(**base)
        self.records.append(NormalizedRecord(
            record_type=record_type, amount=money_text(gross), remittance=remittance,
            line_id=make_line_id(self.source_name, *identity, occurrence, "gross"),
            extra={**extra, "part": "gross"}, **common,
        ))
        if fee is not None and not (isinstance(fee, Decimal) and fee == 0):
            self.records.append(NormalizedRecord(
                record_type=FEE, amount=money_text(-fee if isinstance(fee, Decimal) else f"-({fee})"),
                remittance=f"Stripe fee on {remittance}",
                line_id=make_line_id(self.source_name, *identity, occurrence, "fee"),
                extra={**extra, "part": "fee"}, **common,
            ))

    def _payout_checks(self) -> list[ControlCheck]:
        """Each payout row in the file against the net of the rows it paid out."""
        checks = []
        for (payout_id, currency), amounts in self.payouts.items():
            paid: Decimal | str | None = Decimal(0)
            for amount in amounts:
                paid = add(paid, -amount if isinstance(amount, Decimal) else amount)
            actual = self.payout_items.get((payout_id, currency), Decimal(0))
            checks.append(amount_check("stripe_payout_total", f"payout {payout_id or '(no id)'} {currency}", paid, actual))
        return checks

    def _warnings(self) -> list[str]:
        notes = list(self.warnings)
        if self.odd_widths:
            notes.append(f"{len(self.odd_widths)} row(s) have another number of cells than the header; missing cells "
                         f"read as empty: lines {', '.join(map(str, self.odd_widths[:10]))}")
        if self.net_mismatches:
            notes.append(f"gross − fee differs from net on {len(self.net_mismatches)} row(s): {'; '.join(self.net_mismatches[:5])}")
        if self.sign_fixes:
            notes.append(f"{len(self.sign_fixes)} payout row(s) written with the sign of money coming in; taken as "
                         f"money leaving the Stripe balance: {', '.join(self.sign_fixes[:5])}")
        for category, refs in self.unknown.items():
            notes.append(f"reporting_category {category!r} is not one Stripe documents; {len(refs)} row(s) kept as "
                         f"settlement by their sign: {', '.join(refs[:5])}")
        return notes + self.skipped.warnings()
