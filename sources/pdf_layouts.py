"""Layout profiles for PDF bank statements (FORMATS.md §7): where a bank prints what.

A PDF statement has no schema: each bank lays out its table its own way. A `LayoutProfile` says, for
one layout, how to recognise it on the first page, which header texts name each column of the
transaction table, how dates and amounts are written, which lines are page furniture (headers and
footers repeated inside the table), and where the account, currency, period and balances are
printed. The source (sources/pdf_statement.py) finds the columns from the header words' positions
on each page, so a profile never holds coordinates.

Profiles are plain data: two are built in (`BUILTIN_PROFILES`) and more can be loaded from JSON
(`load_profiles`), one object per profile with the field names below, lists for the tuples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: The columns a profile can name, in the order a reader thinks of them. A column a layout lacks has
#: no header aliases (an empty tuple).
COLUMN_FIELDS = (
    "date",
    "value_date",
    "description",
    "counterparty",
    "reference",
    "debit",
    "credit",
    "amount",
    "balance",
)
MONEY_COLUMNS = ("debit", "credit", "amount")

#: Regex fields and the named groups each must define.
_PATTERN_GROUPS = {
    "identify": (),
    "account_pattern": ("account",),
    "currency_pattern": ("currency",),
    "opening_balance_pattern": ("amount",),
    "closing_balance_pattern": ("amount",),
    "period_pattern": ("start", "end"),
    "statement_id_pattern": ("statement_id",),
    "counterparty_account_pattern": (),
    "counterparty_tax_id_pattern": ("tax_id",),
    "page_count_pattern": ("total",),
}
_PATTERN_LISTS = ("drop_lines", "table_end", "carried_balance")

#: A money figure inside a line of text, for the balance patterns: digits with group and decimal
#: separators, an optional sign and an optional CR/DR suffix.
MONEY = r"[-+\u2212]?\d[\d \u00a0\u202f.,']*\d(?:[ \u00a0]?(?:CR|DR|Cr|Dr))?"


@dataclass(frozen=True)
class LayoutProfile:
    """One statement layout. Header aliases are compared word by word, case-insensitively."""

    name: str
    #: Regex searched in the first page's text; the profile applies when it matches and the page
    #: also carries the profile's table header row.
    identify: str
    date: tuple[str, ...]
    description: tuple[str, ...]
    value_date: tuple[str, ...] = ()
    counterparty: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    #: Separate Debit/Credit columns (unsigned figures: debit is money out) ...
    debit: tuple[str, ...] = ()
    credit: tuple[str, ...] = ()
    #: ... or one Amount column, signed or with a CR/DR suffix.
    amount: tuple[str, ...] = ()
    #: The running balance after each line, when the layout prints one.
    balance: tuple[str, ...] = ()
    #: strptime formats of the date column; a format without %Y/%y ("%d %b" for "01 Oct") takes its
    #: year from the statement period.
    date_formats: tuple[str, ...] = ("%d.%m.%Y",)
    #: strptime formats of the period's start and end dates.
    period_date_formats: tuple[str, ...] = ("%d.%m.%Y",)
    #: "," or "."; the other one, spaces and apostrophes are group separators.
    decimal_separator: str = ","
    #: Amounts and balances may carry a CR (money in) or DR (money out) suffix.
    amount_suffixes: bool = False
    #: Lines inside the table area that are page furniture: repeated page headers and footers.
    drop_lines: tuple[str, ...] = ()
    #: A line that ends the table on its page (totals, the closing balance line).
    table_end: tuple[str, ...] = ()
    #: A table row whose description matches is a balance brought/carried forward, not a payment.
    carried_balance: tuple[str, ...] = ()
    #: Regexes over the whole text of the statement (first match wins, the last one for the closing
    #: balance), with the named groups listed in _PATTERN_GROUPS.
    account_pattern: str | None = None
    currency_pattern: str | None = None
    opening_balance_pattern: str | None = None
    closing_balance_pattern: str | None = None
    period_pattern: str | None = None
    statement_id_pattern: str | None = None
    #: The page count printed in the footer ("Сторінка 2 з 3"), to notice pages that did not read.
    page_count_pattern: str | None = None
    #: Used when the statement prints no currency (a single-currency bank); None means unknown.
    default_currency: str | None = None
    #: Regexes over the counterparty cell: its account (whole match) and tax id (group tax_id); what
    #: is left is the counterparty's name.
    counterparty_account_pattern: str | None = r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"
    counterparty_tax_id_pattern: str | None = None
    _compiled: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in COLUMN_FIELDS + ("date_formats", "period_date_formats") + _PATTERN_LISTS:
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"layout profile {self.name!r}: {name} must be a list of strings")
            object.__setattr__(self, name, tuple(value))
        if not self.date or not self.description:
            raise ValueError(f"layout profile {self.name!r}: needs header aliases for date and description")
        if not (self.amount or (self.debit and self.credit)):
            raise ValueError(f"layout profile {self.name!r}: needs an amount column or both debit and credit columns")
        if self.decimal_separator not in (",", "."):
            raise ValueError(f"layout profile {self.name!r}: decimal_separator must be ',' or '.'")
        compiled: dict[str, Any] = {}
        for name, groups in _PATTERN_GROUPS.items():
            compiled[name] = _compile(self.name, name, getattr(self, name), groups)
        for name in _PATTERN_LISTS:
            compiled[name] = tuple(_compile(self.name, name, text, ()) for text in getattr(self, name))
        object.__setattr__(self, "_compiled", compiled)

    def pattern(self, name: str) -> re.Pattern[str] | None:
        return self._compiled[name]

    def patterns(self, name: str) -> tuple[re.Pattern[str], ...]:
        return self._compiled[name]

    def aliases(self) -> dict[str, tuple[str, ...]]:
        """Column field -> its header aliases, for the columns this layout has."""
        return {name: getattr(self, name) for name in COLUMN_FIELDS if getattr(self, name)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayoutProfile":
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"layout profile {data.get('name')!r}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        try:
            return cls(**values)
        except TypeError as exc:  # a missing required key
            raise ValueError(f"layout profile {data.get('name')!r}: {exc}") from None


def _compile(profile: str, name: str, text: str | None, groups: tuple[str, ...]) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise ValueError(f"layout profile {profile!r}: {name} is not a valid regex: {exc}") from None
    missing = [g for g in groups if g not in pattern.groupindex]
    if missing:
        raise ValueError(f"layout profile {profile!r}: {name} needs the named group(s) {', '.join(missing)}")
    return pattern


def load_profiles(path: str | Path) -> list[LayoutProfile]:
    """Profiles from a JSON file: a list of profile objects, or {"profiles": [...]}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"layout profiles {path}: cannot read: {exc}") from None
    if isinstance(data, dict):
        data = data.get("profiles")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError(f"layout profiles {path}: expected a list of profile objects (or {{\"profiles\": [...]}})")
    return [LayoutProfile.from_dict(item) for item in data]


# --- built-in profiles ------------------------------------------------------------------------------

_UA_DATE = r"\d{2}\.\d{2}\.\d{4}"

#: A PrivatBank-style Ukrainian statement: "Виписка по рахунку", separate Дебет/Кредит columns with
#: unsigned figures, a running balance (Залишок), the counterparty's name, IBAN and ЄДРПОУ in one
#: cell, and "Сторінка N з M" at the foot of each page.
PRIVATBANK_UA = LayoutProfile(
    name="privatbank_ua",
    identify=r"Виписка\s+по\s+рахунку",
    date=("Дата", "Дата операції", "Дата проводки"),
    value_date=("Дата валютування",),
    description=("Призначення платежу", "Призначення", "Опис операції"),
    counterparty=("Контрагент", "Кореспондент"),
    reference=("№ док.", "№ документа", "Номер документа", "Референс"),
    debit=("Дебет",),
    credit=("Кредит",),
    balance=("Залишок",),
    date_formats=("%d.%m.%Y", "%d.%m.%y"),
    period_date_formats=("%d.%m.%Y",),
    decimal_separator=",",
    # The page footer, and the bank's running page header (tight, so that a counterparty line
    # "АТ КБ «ПриватБанк»" inside a row is never taken for it).
    drop_lines=(r"^Сторінка\s+\d+\s+з\s+\d+$", r"^АТ\s+КБ\s+«?ПриватБанк»?\W+Виписка\s+по\s+рахунку\b"),
    table_end=(r"^(Вихідний\s+залишок|Обороти|Разом)\b",),
    carried_balance=(r"^(Вхідний|Вихідний)\s+залишок$",),
    account_pattern=r"(?:Рахунок|рахунку)[:\s]+(?P<account>UA\d{27})\b",
    currency_pattern=r"Валюта[:\s]+(?P<currency>[A-Z]{3})\b",
    opening_balance_pattern=rf"Вхідний\s+залишок[:\s]+(?P<amount>{MONEY})",
    closing_balance_pattern=rf"Вихідний\s+залишок[:\s]+(?P<amount>{MONEY})",
    page_count_pattern=r"Сторінка\s+\d+\s+з\s+(?P<total>\d+)",
    period_pattern=rf"[Зз]а\s+період\s+(?:з\s+)?(?P<start>{_UA_DATE})\s*(?:-|–|—|по)\s*(?P<end>{_UA_DATE})",
    counterparty_tax_id_pattern=r"(?:ЄДРПОУ|ЕДРПОУ|ІПН|РНОКПП)[:\s№]*(?P<tax_id>\d{8}|\d{10})\b",
)

_EN_DATE = r"\d{1,2}\s+[A-Za-z]{3,9}\s+\d{4}|\d{2}/\d{2}/\d{4}"

#: A generic English statement: Date, Description, one Amount column (signed, or with CR/DR) or
#: Debit/Credit (Paid out/Paid in) columns, Balance; dates may lack the year ("01 Oct"), which then
#: comes from the statement period printed on top.
GENERIC_EN = LayoutProfile(
    name="generic_en",
    identify=r"(?i)\bstatement\b",
    date=("Date", "Transaction date", "Posting date", "Booking date"),
    value_date=("Value date",),
    description=("Description", "Details", "Transaction details", "Particulars", "Narrative"),
    counterparty=("Payee", "Counterparty"),
    reference=("Reference", "Ref", "Ref."),
    debit=("Debit", "Debits", "Paid out", "Withdrawals", "Money out"),
    credit=("Credit", "Credits", "Paid in", "Deposits", "Money in"),
    amount=("Amount",),
    balance=("Balance",),
    date_formats=("%d %b %Y", "%d %B %Y", "%d/%m/%Y", "%d %b", "%d %B"),
    period_date_formats=("%d %b %Y", "%d %B %Y", "%d/%m/%Y"),
    decimal_separator=".",
    amount_suffixes=True,
    drop_lines=(r"(?i)^Page\s+\d+\s+of\s+\d+$", r"(?i)^continued(\s+on\s+next\s+page)?$"),
    table_end=(r"(?i)^(closing\s+balance|totals?)\b",),
    carried_balance=(r"(?i)^(balance\s+)?(brought|carried)\s+forward$", r"(?i)^(opening|closing)\s+balance$"),
    account_pattern=r"(?i)\b(?:account\s+(?:number|no\.?)|IBAN)[:\s]+(?P<account>[A-Z]{2}\d{2}[A-Z0-9]{10,30}|\d[\d-]{5,}\d)",
    currency_pattern=r"(?i)\bcurrency[:\s]+(?P<currency>[A-Z]{3})\b",
    opening_balance_pattern=rf"(?i)opening\s+balance[:\s]+(?P<amount>{MONEY})",
    closing_balance_pattern=rf"(?i)closing\s+balance[:\s]+(?P<amount>{MONEY})",
    page_count_pattern=r"(?i)\bPage\s+\d+\s+of\s+(?P<total>\d+)",
    period_pattern=rf"(?i)period[:\s]+(?P<start>{_EN_DATE})\s*(?:to|-|–)\s*(?P<end>{_EN_DATE})",
)

#: Most specific first: the first profile that matches the first page is used.
BUILTIN_PROFILES: tuple[LayoutProfile, ...] = (PRIVATBANK_UA, GENERIC_EN)
