"""LiqPay (PrivatBank acquiring) payment reports: the `reports` / `reports_compensation` archive and
the daily `register`, as JSON or CSV.

Format (FORMATS.md §5 "Ukrainian acquirers"; liqpay.ua/documentation, API v3 "Архів платежів",
"Реєстр платежів" and the callback's payment fields). No public sample file exists, so the fields are
the documented payment ones:

    payment_id, order_id, liqpay_order_id, status, action, type, paytype, amount, currency,
    sender_commission, receiver_commission, agent_commission, amount_debit, amount_credit,
    currency_debit, currency_credit, commission_debit, commission_credit, create_date, end_date
    (milliseconds since the epoch), description, sender_first_name, sender_last_name,
    sender_card_mask2, public_key, transaction_id, ...

Accepted shapes: a JSON list of payments, an object `{"data": [...]}` (the API's answer; an error
answer `{"result": "error", "err_description": ...}` raises MalformedFile quoting it), and CSV with
these names as its header (`,` or `;` separated, UTF-8 or cp1251).

Amounts are major units. Only `status: success` rows moved money to us: a payment is a settlement,
a successful `action: refund` a refund; every other status (failure, error, reversed, sandbox,
wait_accept, processing, ...) is skipped with a warning. `receiver_commission` is the fee LiqPay
kept from us; when the payment was credited in another currency (`currency_credit`), the credited
`amount_credit` and `commission_credit` are what moved our balance and are used instead. Dates are
epoch milliseconds: the booking date is `end_date` (else `create_date`) as a Europe/Kyiv calendar
date, LiqPay's business day.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sources.errors import MalformedFile
from sources.parsing import parse_date
from sources.records import NormalizedRecord, ParseResult, make_line_id
from sources.settlement_common import (
    Occurrences,
    SkipTally,
    compact_extra,
    csv_rows,
    decode_report,
    head_rows,
    identity_amount,
    head_text,
    money_text,
    norm_header,
    plain_decimal,
    sniff_delimiter,
    text_or_none,
)

PROVIDER = "liqpay"
SETTLEMENT, FEE, REFUND = "settlement", "fee", "refund"
_JSON_SIGNATURE = ('"liqpay_order_id"', '"receiver_commission"', '"sender_commission"', '"acq_id"')
_CSV_REQUIRED = {"payment_id", "order_id", "status", "amount", "currency"}
_EPOCH = re.compile(r"\d{9,13}", re.ASCII)
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+", re.ASCII)
#: Statuses documented for a payment that is not (or no longer) money credited to us.
STATUS_REASONS = {
    "failure": "failed", "error": "failed", "reversed": "refunded (reversed)", "sandbox": "a test (sandbox) payment",
    "wait_accept": "waiting for the merchant's confirmation", "processing": "still processing",
    "hold_wait": "an authorization hold", "wait_secure": "under review", "3ds_verify": "waiting for 3-D Secure",
    "cash_wait": "waiting for a cash payment", "invoice_wait": "an unpaid invoice", "prepared": "not completed",
    "wait_compensation": "success, waiting for the daily compensation",
}


def _kyiv() -> ZoneInfo:
    for name in ("Europe/Kyiv", "Europe/Kiev"):
        try:
            return ZoneInfo(name)
        except ZoneInfoNotFoundError:
            continue
    raise RuntimeError("no Europe/Kyiv time zone data: install the tzdata package")


KYIV = _kyiv()


class LiqpayReportSource:
    """LiqPay `reports` / `register` output, JSON or CSV, name `liqpay`."""

    name = "liqpay"

    def identify(self, path: Path, head: bytes) -> bool:
        text = head_text(head).lstrip("\ufeff \t\r\n")
        if text[:1] in ("[", "{"):
            return '"payment_id"' in text and '"order_id"' in text and any(key in text for key in _JSON_SIGNATURE)
        rows = head_rows(head, limit=1)
        if not rows or not rows[0]:
            return False
        if len(rows[0]) == 1:
            rows = head_rows(head, limit=1, delimiter=sniff_delimiter(rows[0][0]))
        names = {norm_header(cell) for cell in rows[0]}
        return _CSV_REQUIRED <= names and bool(names & {"receiver_commission", "liqpay_order_id"})

    def parse(self, path: Path) -> ParseResult:
        text, encoding = decode_report(path.read_bytes(), path.name, fallbacks=("cp1251",))
        warnings = [f"decoded as {encoding}"] if encoding == "cp1251" else []
        start = text.lstrip("\ufeff \t\r\n")[:1]
        payments = _json_payments(path.name, text) if start in ("[", "{") else _csv_payments(path.name, text, warnings)
        return _LiqpayReader(self.name, warnings).read(payments)


def _json_payments(file_name: str, text: str) -> list[Any]:
    try:
        # Numbers as Decimal, never float; NaN/Infinity stay words (not amounts the contract accepts).
        document = json.loads(text, parse_float=Decimal, parse_constant=str)
    except json.JSONDecodeError as error:
        raise MalformedFile(f"{file_name}: broken JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except (ValueError, RecursionError) as error:  # an integer too long, or nesting too deep, to read
        raise MalformedFile(f"{file_name}: unreadable JSON ({type(error).__name__}: {str(error)[:80]})") from None
    if isinstance(document, dict):
        if str(document.get("result", "")).lower() == "error" or "err_description" in document and "data" not in document:
            reason = document.get("err_description") or document.get("err_code") or "no description"
            raise MalformedFile(f"{file_name}: LiqPay answered with an error, not a report: {reason}")
        document = document.get("data")
    if not isinstance(document, list):
        raise MalformedFile(f'{file_name}: expected a list of payments or {{"data": [...]}}; not a LiqPay report')
    return document


def _csv_payments(file_name: str, text: str, warnings: list[str]) -> list[dict[str, str]]:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    rows = [row for row in csv_rows(text.lstrip("\ufeff"), file_name, sniff_delimiter(first_line)) if any(c.strip() for c in row)]
    if not rows:
        raise MalformedFile(f"{file_name}: empty file; download the LiqPay register again")
    header = [norm_header(cell) for cell in rows[0]]
    missing = sorted(_CSV_REQUIRED - set(header))
    if missing:
        raise MalformedFile(f"{file_name}: the header lacks {', '.join(missing)}; not a LiqPay report")
    short = [number for number, row in enumerate(rows[1:], start=2) if len(row) != len(header)]
    if short:
        warnings.append(f"{len(short)} row(s) have another number of cells than the header ({len(header)}); missing "
                        f"cells read as empty: lines {', '.join(map(str, short[:10]))}")
    return [dict(zip(header, (cell.strip() for cell in row))) for row in rows[1:]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape: not text we can store
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _amount(value: Any) -> Decimal | str | None:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, Decimal)):
        value = Decimal(value)
        # 1e999999999 is valid JSON; written out in full it would exhaust memory.
        return value if value.is_finite() and -30 < value.adjusted() < 30 else _text(value)
    text = _text(value)
    if _COMMA_DECIMAL.fullmatch(text):
        text = text.replace(",", ".")
    return plain_decimal(text)


def kyiv_date(value: Any) -> tuple[str | None, str | None]:
    """(Kyiv calendar date, Kyiv local timestamp) of epoch milliseconds (or seconds, or a written date)."""
    text = _text(value)
    if not text:
        return None, None
    if _EPOCH.fullmatch(text):
        seconds = Decimal(text) / (1000 if len(text) > 10 else 1)
        moment = datetime.fromtimestamp(int(seconds), tz=timezone.utc).astimezone(KYIV)
        return moment.date().isoformat(), moment.isoformat(timespec="seconds")
    return parse_date(text), text


class _LiqpayReader:
    def __init__(self, source_name: str, warnings: list[str]) -> None:
        self.source_name = source_name
        self.warnings = warnings
        self.skipped = SkipTally()
        self.occurrences = Occurrences()
        self.records: list[NormalizedRecord] = []
        self.not_objects = 0

    def read(self, payments: list[Any]) -> ParseResult:
        for payment in payments:
            if not isinstance(payment, dict):
                self.not_objects += 1
                continue
            self._payment(payment)
        if self.not_objects:
            self.warnings.append(f"{self.not_objects} list element(s) are not payment objects; skipped")
        if not payments:
            self.warnings.append("the report holds no payments")
        return ParseResult(records=self.records, transactions_found=len(payments), warnings=self.warnings + self.skipped.warnings())

    def _payment(self, payment: dict[str, Any]) -> None:
        def get(key: str) -> str:
            return _text(payment.get(key))

        payment_id = get("payment_id")
        status = get("status").lower()
        action = get("action").lower()
        if status != "success":
            reason = STATUS_REASONS.get(status, "not a documented status")
            self.skipped.add(f"status {status or '(empty)'} ({reason}): no money credited", payment_id)
            return
        record_type = REFUND if action == "refund" else SETTLEMENT
        credited_in_other_currency = bool(get("currency_credit")) and get("currency_credit").upper() != get("currency").upper()
        if credited_in_other_currency:
            amount, currency, commission = _amount(payment.get("amount_credit")), get("currency_credit").upper(), _amount(payment.get("commission_credit"))
        else:
            amount, currency, commission = _amount(payment.get("amount")), get("currency").upper(), _amount(payment.get("receiver_commission"))
        if record_type == REFUND and isinstance(amount, Decimal):
            amount = -abs(amount)
        fee = -commission if isinstance(commission, Decimal) else commission
        booking_date, completed_at = kyiv_date(payment.get("end_date") or payment.get("create_date"))
        account = get("public_key") or PROVIDER
        identity = (account, payment_id, action, currency, identity_amount(amount), booking_date)
        occurrence = self.occurrences.next(identity)
        net = amount + fee if isinstance(amount, Decimal) and isinstance(fee, Decimal) else (amount if fee is None else None)
        base = dict(
            provider=PROVIDER, status=status, action=action, net=net, type=get("type"), paytype=get("paytype"),
            liqpay_order_id=get("liqpay_order_id"), transaction_id=get("transaction_id"),
            amount=money_text(_amount(payment.get("amount"))), currency=get("currency").upper(),
            sender_commission=money_text(_amount(payment.get("sender_commission"))),
            receiver_commission=money_text(_amount(payment.get("receiver_commission"))),
            agent_commission=money_text(_amount(payment.get("agent_commission"))),
            amount_credit=money_text(_amount(payment.get("amount_credit"))), currency_credit=get("currency_credit").upper(),
            commission_credit=money_text(_amount(payment.get("commission_credit"))),
            original_amount=money_text(_amount(payment.get("amount"))) if credited_in_other_currency else None,
            original_currency=get("currency").upper() if credited_in_other_currency else None,
            created_at=kyiv_date(payment.get("create_date"))[1], completed_at=completed_at, timezone="Europe/Kyiv",
            card_mask=get("sender_card_mask2"), card_type=get("sender_card_type"), card_bank=get("sender_card_bank"),
            card_country=get("sender_card_country"), compensation_id=get("compensation_id"), acq_id=get("acq_id"),
        )
        common = dict(
            source_format=self.source_name, account=account, booking_date=booking_date, value_date=None,
            currency=currency or None,
            counterparty_name=text_or_none(f"{get('sender_first_name')} {get('sender_last_name')}"),
            counterparty_account=None, counterparty_tax_id=None, end_to_end_id=get("order_id") or None,
            bank_ref=payment_id or None,
        )
        remittance = text_or_none(get("description"))
        extra = compact_extra(**base)
        self.records.append(NormalizedRecord(
            record_type=record_type, amount=money_text(amount), remittance=remittance,
            line_id=make_line_id(self.source_name, *identity, occurrence, "gross"),
            extra={**extra, "part": "gross"}, **common,
        ))
        if fee is not None and not (isinstance(fee, Decimal) and fee == 0):
            self.records.append(NormalizedRecord(
                record_type=FEE, amount=money_text(fee) if isinstance(fee, Decimal) else f"-({fee})",
                remittance=f"Комісія LiqPay: {remittance}" if remittance else "Комісія LiqPay",
                line_id=make_line_id(self.source_name, *identity, occurrence, "fee"),
                extra={**extra, "part": "fee"}, **common,
            ))
