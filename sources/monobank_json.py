"""monobank statement (JSON) from the open API `GET /personal/statement/{account}/{from}/{to}`.

Format (../shared/fixtures/FORMATS.md §6, "Monobank"): a JSON list of StatementItem objects:

    id, time (unix seconds, UTC), description, mcc, originalMcc, hold, amount, operationAmount,
    currencyCode, commissionRate, cashbackAmount, balance, comment, receiptId, invoiceId,
    counterEdrpou, counterIban, counterName

* `amount` is signed from the account holder's side, in minor units of the *account's* currency
  ("Сума у валюті рахунку в мінімальних одиницях валюти"); `operationAmount` is in the
  operation's currency. `currencyCode` is documented as the account's currency, but on real
  statements it names the *operation's* currency: a dollar purchase on a hryvnia card carries 840
  while `amount` is in hryvnia. So the account currency is taken from the wrapper when given, else
  from the items whose amount equals their operationAmount (no conversion happened).
* `time` is a UTC epoch; the booking date is the calendar date in Europe/Kyiv (monobank's
  business day), so 23:30 UTC on 11 November is 12 November.
* `hold: true` items are authorisations that can still change or disappear: never bank lines.

The item carries no account. Accepted shapes: the bare list (account left None, with a warning;
the data contract decides), a wrapper `{"account": "...", "currencyCode": 980, "items": [...]}`
(`currencyCode` optional, numeric or alpha), and a webhook body `{"type": "StatementItem",
"data": {"account": "...", "statementItem": {...}}}`. An API error body `{"errorDescription": ...}`
raises MalformedFile quoting it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sources.errors import MalformedFile
from sources.parsing import clean
from sources.records import NormalizedRecord, ParseResult, StatementSummary, make_line_id

#: ISO 4217 numeric code -> (alpha code, minor-unit exponent). Codes not listed stay raw.
ISO4217_NUMERIC: dict[str, tuple[str, int]] = {
    "008": ("ALL", 2), "036": ("AUD", 2), "048": ("BHD", 3), "051": ("AMD", 2), "124": ("CAD", 2),
    "152": ("CLP", 0), "156": ("CNY", 2), "191": ("HRK", 2), "203": ("CZK", 2), "208": ("DKK", 2),
    "344": ("HKD", 2), "348": ("HUF", 2), "352": ("ISK", 0), "356": ("INR", 2), "360": ("IDR", 2),
    "368": ("IQD", 3), "376": ("ILS", 2), "392": ("JPY", 0), "398": ("KZT", 2), "400": ("JOD", 3),
    "410": ("KRW", 0), "414": ("KWD", 3), "417": ("KGS", 2), "434": ("LYD", 3), "458": ("MYR", 2),
    "484": ("MXN", 2), "498": ("MDL", 2), "512": ("OMR", 3), "554": ("NZD", 2), "578": ("NOK", 2),
    "608": ("PHP", 2), "634": ("QAR", 2), "643": ("RUB", 2), "682": ("SAR", 2), "702": ("SGD", 2),
    "704": ("VND", 0), "710": ("ZAR", 2), "752": ("SEK", 2), "756": ("CHF", 2), "764": ("THB", 2),
    "784": ("AED", 2), "788": ("TND", 3), "807": ("MKD", 2), "818": ("EGP", 2), "826": ("GBP", 2),
    "840": ("USD", 2), "860": ("UZS", 2), "901": ("TWD", 2), "933": ("BYN", 2), "934": ("TMT", 2),
    "941": ("RSD", 2), "944": ("AZN", 2), "946": ("RON", 2), "949": ("TRY", 2), "950": ("XAF", 0),
    "952": ("XOF", 0), "953": ("XPF", 0), "972": ("TJS", 2), "975": ("BGN", 2), "977": ("BAM", 2),
    "978": ("EUR", 2), "980": ("UAH", 2), "981": ("GEL", 2), "985": ("PLN", 2), "986": ("BRL", 2),
}
_ALPHA_EXPONENT = {alpha: exponent for alpha, exponent in ISO4217_NUMERIC.values()}

#: Most items one statement request returns; a list of exactly this many is probably cut off.
API_PAGE_LIMIT = 500
#: Keys of a StatementItem that `identify` requires in the first bytes.
_SIGNATURE_KEYS = (b'"operationAmount"', b'"currencyCode"', b'"time"')


def _kyiv() -> ZoneInfo:
    for name in ("Europe/Kyiv", "Europe/Kiev"):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    raise RuntimeError("no Europe/Kyiv time zone data: install the tzdata package")


KYIV = _kyiv()


def currency_from_code(raw: Any) -> str | None:
    """An ISO 4217 code (numeric 980 or alpha "UAH") as the alpha code; an unknown code as written."""
    if raw is None or isinstance(raw, bool):
        return None
    text = clean(str(raw))
    if text is None:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 3:
        known = ISO4217_NUMERIC.get(text.zfill(3))
        return known[0] if known else text
    return text.upper()


def minor_to_decimal(raw: Any, currency: str | None) -> str | None:
    """Integer minor units as a decimal string by the currency's exponent (-95000 UAH -> "-950.00").

    None when that cannot be done (not an integer, or a currency whose exponent is unknown): a raw
    minor-unit figure would read as a hundred times the money, so callers keep it in extra."""
    exponent = _ALPHA_EXPONENT.get(currency or "")
    if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)) or exponent is None:
        return None
    value = Decimal(raw)
    if not value.is_finite() or value != value.to_integral_value() or abs(value) >= Decimal(10) ** 18:
        return None
    return format(value.scaleb(-exponent), "f")


def _raw(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return clean(value if isinstance(value, str) else _raw(value))


@dataclasses.dataclass
class _Statement:
    """What the file says besides the items: the account and its currency, when it says them."""

    account: str | None
    currency: str | None
    items: list[Any]


class MonobankJsonSource:
    name = "monobank_json"

    def identify(self, path: Path, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return start[:1] in (b"[", b"{") and all(key in head for key in _SIGNATURE_KEYS)

    def parse(self, path: Path) -> ParseResult:
        warnings: list[str] = []
        statement = _read_statement(path)
        if statement.account is None:
            warnings.append("the file does not name the account (a bare StatementItem list); account left empty — "
                            'wrap it as {"account": "<IBAN>", "items": [...]} to load it')
        items = statement.items
        if len(items) == API_PAGE_LIMIT:
            warnings.append(f"exactly {API_PAGE_LIMIT} items, the API's limit per request: older items of the window are "
                            "probably missing — request again with `to` set to the oldest item's time")
        dicts = [item for item in items if isinstance(item, dict)]
        if len(dicts) != len(items):
            warnings.append(f"{len(items) - len(dicts)} list element(s) are not StatementItem objects; skipped")
        currency = statement.currency or _infer_account_currency(dicts, warnings)
        reader = _ItemReader(self.name, statement.account, currency, warnings)
        for item in dicts:
            reader.read(item)
        statements = reader.summary()
        return ParseResult(records=reader.records, transactions_found=len(items), warnings=reader.finish(), statements=statements)


def _read_statement(path: Path) -> _Statement:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFile(f"{path.name}: not UTF-8 text; the monobank API answers in UTF-8 JSON, save it unchanged") from None
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=int, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise MalformedFile(f"{path.name}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except (RecursionError, ValueError) as error:
        raise MalformedFile(f"{path.name}: not a usable JSON document ({type(error).__name__})") from None
    if isinstance(document, list):
        return _Statement(None, None, document)
    if not isinstance(document, dict):
        raise MalformedFile(f"{path.name}: expected a list of StatementItem objects, found a JSON {type(document).__name__}")
    if "errorDescription" in document:
        raise MalformedFile(f"{path.name}: a monobank API error, not a statement: {_text(document.get('errorDescription'))}")
    if isinstance(document.get("items"), list):
        currency = currency_from_code(document.get("currencyCode") or document.get("currency"))
        return _Statement(_text(document.get("account")), currency, document["items"])
    data_part = document.get("data")
    if isinstance(data_part, dict) and isinstance(data_part.get("statementItem"), dict):
        return _Statement(_text(data_part.get("account")), None, [data_part["statementItem"]])
    raise MalformedFile(f"{path.name}: a JSON object without an 'items' list; expected a StatementItem list or "
                        '{"account": ..., "items": [...]}')


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _infer_account_currency(items: list[dict], warnings: list[str]) -> str | None:
    """The account's currency: the currencyCode of items that involved no conversion.

    currencyCode names the operation's currency; where amount == operationAmount the operation
    was in the account's currency, so those items tell it."""
    unconverted = Counter(
        currency_from_code(item.get("currencyCode"))
        for item in items
        if "amount" in item and item.get("amount") == item.get("operationAmount")
    )
    unconverted.pop(None, None)
    if len(unconverted) == 1:
        return next(iter(unconverted))
    if unconverted:
        listed = ", ".join(f"{code} ({count})" for code, count in unconverted.most_common())
        warnings.append(f"items without conversion name different currencies ({listed}); the account currency is "
                        "unknown, so converted items get no currency")
    elif items:
        warnings.append("every item was converted from another currency; the account currency is unknown — "
                        'add "currencyCode" to the wrapper')
    return None


class _ItemReader:
    """StatementItems into records: holds skipped, repeats dropped, balances chained."""

    def __init__(self, name: str, account: str | None, currency: str | None, warnings: list[str]):
        self.name = name
        self.account = account
        self.currency = currency
        self.warnings = warnings
        self.records: list[NormalizedRecord] = []
        self.booked: list[dict] = []
        self.holds: list[str] = []
        self.repeats: list[str] = []
        self.seen: dict[tuple, dict] = {}
        self.occurrences: Counter[tuple] = Counter()
        self.unscaled: list[str] = []

    def read(self, item: dict) -> None:
        item_id = _text(item.get("id"))
        if item.get("hold") is True:
            self.holds.append(item_id or "?")
            return
        record = self._record(item)
        identity = (record.account, item_id, record.booking_date, record.amount)
        if identity in self.seen:
            if self.seen[identity] == item:
                # The same item from two overlapping requests (pages are cut by moving `to`).
                self.repeats.append(item_id or "?")
                return
            self.warnings.append(f"item {item_id}: appears twice with different content; kept both")
        self.seen.setdefault(identity, item)
        self.occurrences[identity] += 1
        self.booked.append(item)
        self.records.append(dataclasses.replace(record, line_id=make_line_id(self.name, *identity, self.occurrences[identity])))

    def _record(self, item: dict) -> NormalizedRecord:
        operation_currency = currency_from_code(item.get("currencyCode"))
        currency = self.currency
        if currency is None and item.get("amount") == item.get("operationAmount"):
            currency = operation_currency
        amount = minor_to_decimal(item.get("amount"), currency)
        if amount is None:
            self.unscaled.append(_text(item.get("id")) or "?")
        description, comment = _text(item.get("description")), _text(item.get("comment"))
        remittance = "; ".join(part for part in (description, comment) if part) or None
        booking_date, utc_time = _kyiv_date(item.get("time"))
        extra = {
            "time_utc": utc_time,
            "mcc": _text(item.get("mcc")),
            "original_mcc": _text(item.get("originalMcc")),
            "operation_amount": minor_to_decimal(item.get("operationAmount"), operation_currency),
            "operation_currency": operation_currency,
            "commission": minor_to_decimal(item.get("commissionRate"), currency),
            "cashback_minor_units": _text(item.get("cashbackAmount")),
            "balance": minor_to_decimal(item.get("balance"), currency),
            "receipt_id": _text(item.get("receiptId")),
            "invoice_id": _text(item.get("invoiceId")),
            "amount_minor_units": _text(item.get("amount")) if amount is None else None,
        }
        return NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=self.account,
            booking_date=booking_date,
            value_date=booking_date,
            amount=amount,
            currency=currency,
            counterparty_name=_text(item.get("counterName")),
            counterparty_account=_text(item.get("counterIban")),
            counterparty_tax_id=_text(item.get("counterEdrpou")),
            remittance=remittance,
            end_to_end_id=None,
            bank_ref=_text(item.get("id")),
            line_id="",
            extra={key: value for key, value in extra.items() if value is not None},
        )

    def finish(self) -> list[str]:
        if self.holds:
            self.warnings.append(f"skipped {len(self.holds)} hold (not yet booked) item(s): {', '.join(self.holds[:10])}")
        if self.repeats:
            self.warnings.append(f"dropped {len(self.repeats)} item(s) repeated identically (overlapping requests): "
                                 f"{', '.join(self.repeats[:10])}")
        if self.unscaled:
            self.warnings.append(f"{len(self.unscaled)} item(s) have an amount that cannot be read as money (not an integer, or "
                                 f"no known account currency); amount left empty, raw value in extra: {', '.join(self.unscaled[:10])}")
        return self.warnings

    def summary(self) -> list[StatementSummary]:
        """Opening and closing balances from the items' running `balance`, when it can be trusted.

        Holds move `balance` without being lines, so a statement with holds gets no summary."""
        if self.holds or not self.records:
            return []
        pairs = list(zip(self.booked, self.records))
        if _epoch(pairs[0][0].get("time")) > _epoch(pairs[-1][0].get("time")):
            # The API lists newest first; reversing keeps same-second items in booking order.
            pairs.reverse()
        chain = sorted(pairs, key=lambda pair: _epoch(pair[0].get("time")))
        amounts = [_minor(item.get("amount")) for item, _ in chain]
        balances = [_minor(item.get("balance")) for item, _ in chain]
        if None in amounts or None in balances or self.currency is None:
            return []
        for index in range(1, len(chain)):
            if balances[index - 1] + amounts[index] != balances[index]:
                record = chain[index][1]
                self.warnings.append(f"balance chain breaks at item {record.bank_ref} ({record.booking_date}): the balance "
                                     "before it does not add up, an item is missing or out of order")
                break
        opening = balances[0] - amounts[0]
        return [StatementSummary(
            account=self.account,
            currency=self.currency,
            statement_id=None,
            sequence=None,
            opening_balance=minor_to_decimal(opening, self.currency),
            opening_date=chain[0][1].booking_date,
            closing_balance=minor_to_decimal(balances[-1], self.currency),
            closing_date=chain[-1][1].booking_date,
            line_ids=tuple(record.line_id for record in self.records),
        )]


def _minor(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _epoch(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _kyiv_date(value: Any) -> tuple[str | None, str | None]:
    """(Kyiv calendar date, UTC timestamp) of a unix time; the raw value when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return _raw(value), None
    try:
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(value), None
    return moment.astimezone(KYIV).date().isoformat(), moment.isoformat()
