"""Realistic bank statement PDFs for the tests, drawn with fpdf2 (no real PDF statement may be kept
in the repository: FORMATS.md §7 found none under a licence that allows it).

Each writer takes a `StatementSpec` (the truth: account, period, balances, transactions) and lays it
out the way a bank's PDF does, traps included: multi-line descriptions and counterparty cells,
separate Дебет/Кредит columns or one signed or CR/DR amount column, a running balance, page headers
and the table header repeated on every page, "Сторінка N з M" footers, dates without a year, balance
brought/carried forward rows. The text is real text (a DejaVuSans subset, so Cyrillic extracts), and
the output is byte-for-byte deterministic (a fixed creation date; fpdf2's /ID is a hash of the
content).

matplotlib is imported only for the path of its bundled DejaVuSans.ttf.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import matplotlib
from fpdf import FPDF

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Txn:
    """One statement line as the bank booked it; `amount` is signed (money in is positive)."""

    booking_date: date
    description: str
    amount: Decimal
    balance: Decimal
    counterparty: str | None = None
    counterparty_account: str | None = None
    counterparty_tax_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class StatementSpec:
    account: str
    currency: str
    period_start: date
    period_end: date
    opening: Decimal
    transactions: tuple[Txn, ...] = field(default_factory=tuple)

    @property
    def closing(self) -> Decimal:
        return self.transactions[-1].balance if self.transactions else self.opening


def iban(country: str, bban: str) -> str:
    """A valid IBAN (ISO 13616 check digits) for the BBAN."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


# --- the truth: transactions ----------------------------------------------------------------------

_UA_PURPOSES = (
    "Оплата за рахунком № {n} від {d}, у т.ч. ПДВ 20% {vat} грн",
    "Надходження від покупця за товар згідно видаткової накладної № {n} від {d}",
    "Комісія банку за розрахунково-касове обслуговування",
    "Повернення коштів згідно договору № {n}/26 від {d}, без ПДВ",
    "Заробітна плата за жовтень 2026 р. згідно відомості № {n}",
    "Оплата за послуги зв'язку, особовий рахунок {n}, без ПДВ",
    "Передоплата за договором поставки № {n} від {d}, у т.ч. ПДВ {vat} грн",
)
_UA_COUNTERPARTIES = (
    ("ТОВ «Ромашка-Трейд»", "32855961"),
    ("ФОП Петренко Іван Іванович", "3012345678"),
    ("ПрАТ «Київенерго» (філія «Енергозбут»)", "00131305"),
    ("ТОВ «Нова Пошта»", "31316718"),
    ("АТ КБ «ПриватБанк»", "14360570"),
    ("ТОВ «Вектор Плюс»", "41234567"),
)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) * CENT).quantize(CENT)


def ukrainian_spec(count: int = 60, seed: int = 7, start: date = date(2026, 10, 1), end: date = date(2026, 10, 31)) -> StatementSpec:
    """A month of a company's UAH account: mostly incoming payments, some bank fees and payroll."""
    rng = random.Random(seed)
    balance = Decimal("125430.17")
    opening = balance
    txns: list[Txn] = []
    for number in range(count):
        day = start + timedelta(days=number * ((end - start).days + 1) // count)
        name, tax_id = _UA_COUNTERPARTIES[rng.randrange(len(_UA_COUNTERPARTIES))]
        template = _UA_PURPOSES[rng.randrange(len(_UA_PURPOSES))]
        # Customers pay in and refunds come back; payroll, fees and services go out; invoices both ways.
        incoming = template.startswith(("Надходження", "Повернення")) or (
            template.startswith(("Оплата за рахунком", "Передоплата")) and rng.random() < 0.5
        )
        amount = _money(rng, 50, 30000) if incoming else -_money(rng, 10, 25000)
        if "Комісія" in template:
            amount, name, tax_id = -_money(rng, 5, 300), "АТ КБ «ПриватБанк»", "14360570"
        balance += amount
        text = template.format(n=rng.randint(10, 9999), d=day.strftime("%d.%m.%Y"), vat=f"{abs(amount) / 6:.2f}".replace(".", ","))
        txns.append(
            Txn(
                booking_date=day,
                description=text,
                amount=amount,
                balance=balance,
                counterparty=name,
                counterparty_account=iban("UA", f"{rng.randint(300000, 399999)}{rng.randint(0, 10**19 - 1):019d}"),
                counterparty_tax_id=tax_id,
                reference=f"{rng.randint(1000, 99999)}",
            )
        )
    return StatementSpec(
        account=iban("UA", "3052990000026007233566001"),
        currency="UAH",
        period_start=start,
        period_end=end,
        opening=opening,
        transactions=tuple(txns),
    )


_EN_PAYEES = (
    "CARD PAYMENT TO TESCO STORES 2211 ON 14 DEC",
    "BACS CREDIT FROM ACME WIDGETS LTD INVOICE INV-2026-{n} PAYMENT WITH THANKS",
    "DIRECT DEBIT BRITISH GAS ACCOUNT {n}",
    "FASTER PAYMENT RECEIVED FROM J SMITH REF RENT DEC",
    "STANDING ORDER TO SAVINGS ACCOUNT 40-11-22 {n}",
    "BANK CHARGES",
    "TRANSFER FROM CLIENT ACCOUNT {n} REFERENCE INVOICE INV-{n} AND INV-{n}B PART PAYMENT",
)


def english_spec(count: int = 45, seed: int = 11, start: date = date(2026, 12, 15), end: date = date(2027, 1, 14)) -> StatementSpec:
    """A GBP current account over a year end (15 Dec 2026 to 14 Jan 2027): yearless dates trap."""
    rng = random.Random(seed)
    balance = Decimal("2500.00")
    opening = balance
    txns: list[Txn] = []
    span = (end - start).days
    for number in range(count):
        day = start + timedelta(days=number * span // count)
        text = _EN_PAYEES[rng.randrange(len(_EN_PAYEES))].format(n=rng.randint(1000, 99999))
        incoming = text.startswith(("BACS CREDIT", "FASTER PAYMENT RECEIVED", "TRANSFER FROM"))
        amount = _money(rng, 100, 4000) if incoming else -_money(rng, 2, 900)
        balance += amount
        txns.append(Txn(booking_date=day, description=text, amount=amount, balance=balance))
    return StatementSpec(account="GB33BUKB20201555555555", currency="GBP", period_start=start, period_end=end, opening=opening, transactions=tuple(txns))


# --- the layout -----------------------------------------------------------------------------------


def _new_pdf(orientation: str) -> FPDF:
    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_creation_date(CREATED)
    pdf.set_auto_page_break(False)
    pdf.set_margins(10, 10, 10)
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=8)
    return pdf


def _wrap(pdf: FPDF, width: float, text: str) -> list[str]:
    """The lines fpdf2 would break `text` into inside a cell of this width (at the current font)."""
    if not text:
        return [""]
    return pdf.multi_cell(width, 4, text, dry_run=True, output="LINES", padding=0)


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    align: str  # of the values; headers are centred, as banks print them


def _draw_table_header(pdf: FPDF, columns: list[Column], line_h: float, body_size: float) -> None:
    pdf.set_font("DejaVu", size=body_size)
    for column in columns:
        pdf.cell(column.width, line_h + 1, column.header, border=1, align="C")
    pdf.ln()


def _draw_row(pdf: FPDF, columns: list[Column], cells: list[list[str]], line_h: float) -> None:
    """One table row: every cell starts on the row's first line; multi-line cells run downwards."""
    top = pdf.get_y()
    height = max(len(lines) for lines in cells) * line_h
    x = pdf.l_margin
    for column, lines in zip(columns, cells):
        for index, text in enumerate(lines):
            pdf.set_xy(x, top + index * line_h)
            pdf.cell(column.width, line_h, text, align=column.align)
        x += column.width
    pdf.set_xy(pdf.l_margin, top + height)
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, top + height, x, top + height)
    pdf.set_draw_color(0, 0, 0)


def _ua_number(value: Decimal) -> str:
    """1 234 567,89: a space between thousands, a decimal comma."""
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups = f"{int(whole):,}".replace(",", " ")
    return f"{sign}{groups},{cents}"


def _ua_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def write_ukrainian_statement(
    path: Path,
    spec: StatementSpec,
    *,
    repeat_table_header: bool = True,
    rows_bottom: float = 190.0,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> int:
    """A PrivatBank-style "Виписка по рахунку" (A4 landscape); returns the number of pages.

    Every page starts with the bank's running header line and, unless `repeat_table_header` is
    False, the table header again; every page ends with "Сторінка N з M".
    """
    pdf = _new_pdf("L")
    pdf.alias_nb_pages("{nb}")
    columns = [
        Column("Дата", 22, "L"),
        Column("№ док.", 16, "L"),
        Column("Призначення платежу", 86, "L"),
        Column("Контрагент", 72, "L"),
        Column("Дебет", 24, "R"),
        Column("Кредит", 24, "R"),
        Column("Залишок", 26, "R"),
    ]
    line_h = 3.6
    running_header = (
        f"АТ КБ «ПриватБанк» · Виписка по рахунку {spec.account} за період {_ua_date(spec.period_start)} - {_ua_date(spec.period_end)}"
    )

    def footer() -> None:
        pdf.set_xy(pdf.l_margin, 200)
        pdf.set_font("DejaVu", size=7)
        pdf.cell(0, 4, f"Сторінка {pdf.page_no()} з {{nb}}", align="R")
        pdf.set_font("DejaVu", size=7.5)

    def new_page(first: bool) -> None:
        if not first:
            footer()
        pdf.add_page()
        pdf.set_font("DejaVu", size=7)
        pdf.cell(0, 4, running_header)
        pdf.ln(6)
        pdf.set_font("DejaVu", size=8)
        if first:
            pdf.set_font("DejaVu", size=13)
            pdf.cell(0, 7, "Виписка по рахунку")
            pdf.ln(8)
            pdf.set_font("DejaVu", size=9)
            for text in (
                "Клієнт: ТОВ «Тестова Компанія», ЄДРПОУ 43210987",
                f"Рахунок: {spec.account}",
                "Валюта: UAH",
                f"За період з {_ua_date(spec.period_start)} по {_ua_date(spec.period_end)}",
                f"Вхідний залишок: {_ua_number(spec.opening)}",
            ):
                pdf.cell(0, 5, text)
                pdf.ln(5)
            pdf.ln(3)
            pdf.set_font("DejaVu", size=8)
        if first or repeat_table_header:
            _draw_table_header(pdf, columns, line_h, 7.5)
        pdf.set_font("DejaVu", size=7.5)

    new_page(first=True)
    for txn in spec.transactions:
        cells = [
            [_ua_date(txn.booking_date)],
            [txn.reference or ""],
            _wrap(pdf, columns[2].width - 2, txn.description),
            _wrap(pdf, columns[3].width - 2, txn.counterparty or "")
            + [f"{txn.counterparty_account} · ЄДРПОУ {txn.counterparty_tax_id}"],
            [_ua_number(-txn.amount) if txn.amount < 0 else ""],
            [_ua_number(txn.amount) if txn.amount > 0 else ""],
            [_ua_number(txn.balance)],
        ]
        height = max(len(lines) for lines in cells) * line_h
        if pdf.get_y() + height > rows_bottom:
            new_page(first=False)
        _draw_row(pdf, columns, cells, line_h)
    pdf.ln(3)
    debit = sum((-t.amount for t in spec.transactions if t.amount < 0), Decimal(0))
    credit = sum((t.amount for t in spec.transactions if t.amount > 0), Decimal(0))
    pdf.set_font("DejaVu", size=9)
    for text in (f"Обороти: дебет {_ua_number(debit)}, кредит {_ua_number(credit)}", f"Вихідний залишок: {_ua_number(spec.closing)}"):
        pdf.cell(0, 5, text)
        pdf.ln(5)
    footer()
    if user_password is not None or owner_password is not None:
        pdf.set_encryption(owner_password=owner_password or "owner-secret", user_password=user_password or "")
    pdf.output(str(path))
    return pdf.page_no()


def _en_number(value: Decimal, style: str) -> str:
    """1,234.56 signed ("-45.00") or with a CR/DR suffix ("45.00 DR")."""
    text = f"{abs(value):,.2f}"
    if style == "crdr":
        return f"{text} {'DR' if value < 0 else 'CR'}"
    return f"-{text}" if value < 0 else text


def write_english_statement(
    path: Path,
    spec: StatementSpec,
    *,
    amount_style: str = "signed",
    date_once_per_day: bool = False,
    print_period: bool = True,
    rows_bottom: float = 270.0,
) -> int:
    """A generic English "Account Statement" (A4 portrait): Date ("01 Oct", no year), Description,
    Amount (signed or CR/DR), Balance; BALANCE BROUGHT/CARRIED FORWARD rows at page breaks and
    "Page N of M" footers. With `date_once_per_day` a date is printed only on a day's first line."""
    if amount_style not in ("signed", "crdr"):
        raise ValueError(amount_style)
    pdf = _new_pdf("P")
    pdf.alias_nb_pages("{nb}")
    columns = [Column("Date", 20, "L"), Column("Description", 100, "L"), Column("Amount", 35, "R"), Column("Balance", 35, "R")]
    line_h = 4.0

    def short(day: date) -> str:
        return day.strftime("%d %b")

    def forward_row(text: str, day: date, balance: Decimal) -> None:
        _draw_row(pdf, columns, [[short(day)], [text], [""], [_en_number(balance, amount_style)]], line_h)

    def footer() -> None:
        pdf.set_xy(pdf.l_margin, 285)
        pdf.set_font("DejaVu", size=7)
        pdf.cell(0, 4, f"Page {pdf.page_no()} of {{nb}}", align="C")
        pdf.set_font("DejaVu", size=8)

    def new_page(first: bool) -> None:
        pdf.add_page()
        pdf.set_font("DejaVu", size=12)
        pdf.cell(0, 7, "Northwind Bank plc")
        pdf.ln(8)
        pdf.set_font("DejaVu", size=9)
        if first:
            period = f"{spec.period_start.strftime('%d %b %Y')} to {spec.period_end.strftime('%d %b %Y')}"
            for text in (
                "Account Statement",
                "Account name: Acme Trading Ltd",
                f"Account number: {spec.account}",
                f"Currency: {spec.currency}",
                f"Statement period: {period}" if print_period else "Sort code: 20-20-15",
                f"Opening balance: {_en_number(spec.opening, amount_style)}",
            ):
                pdf.cell(0, 5, text)
                pdf.ln(5)
            pdf.ln(3)
        _draw_table_header(pdf, columns, line_h, 8)

    new_page(first=True)
    forward_row("BALANCE BROUGHT FORWARD", spec.period_start, spec.opening)
    previous_day: date | None = None
    balance = spec.opening
    for txn in spec.transactions:
        lines = _wrap(pdf, columns[1].width - 2, txn.description)
        if pdf.get_y() + (len(lines) + 1) * line_h > rows_bottom:
            forward_row("BALANCE CARRIED FORWARD", previous_day or spec.period_start, balance)
            footer()
            new_page(first=False)
            forward_row("BALANCE BROUGHT FORWARD", previous_day or spec.period_start, balance)
            previous_day = None  # a new page prints the date again
        show_date = not date_once_per_day or txn.booking_date != previous_day
        cells = [
            [short(txn.booking_date) if show_date else ""],
            lines,
            [_en_number(txn.amount, amount_style)],
            [_en_number(txn.balance, amount_style)],
        ]
        _draw_row(pdf, columns, cells, line_h)
        previous_day, balance = txn.booking_date, txn.balance
    pdf.ln(3)
    pdf.set_font("DejaVu", size=9)
    pdf.cell(0, 5, f"Closing balance: {_en_number(spec.closing, amount_style)}")
    footer()
    pdf.output(str(path))
    return pdf.page_no()


def write_image_only_pdf(path: Path, pages: int = 2) -> None:
    """A scanned statement: each page is one picture (a Pillow PNG with ruled lines), no text."""
    from PIL import Image, ImageDraw

    pdf = _new_pdf("P")
    for page in range(pages):
        image = Image.new("RGB", (600, 840), "white")
        draw = ImageDraw.Draw(image)
        for row in range(30):
            draw.line((40, 60 + row * 24, 560, 60 + row * 24), fill=(120, 120, 120), width=1)
            draw.rectangle((50, 66 + row * 24, 50 + (row * 37 + page * 11) % 400, 76 + row * 24), fill=(30, 30, 30))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        pdf.add_page()
        pdf.rect(5, 5, 200, 287)
        pdf.image(buffer, x=10, y=10, w=190)
    pdf.output(str(path))


def write_text_pdf(path: Path, lines: list[str]) -> None:
    """A one-page PDF with plain text lines: a receipt, a letter; anything but a statement."""
    pdf = _new_pdf("P")
    pdf.add_page()
    for text in lines:
        pdf.cell(0, 5, text)
        pdf.ln(5)
    pdf.output(str(path))


def with_transactions(spec: StatementSpec, transactions: list[Txn]) -> StatementSpec:
    return replace(spec, transactions=tuple(transactions))


def tail_of(spec: StatementSpec, first: int) -> StatementSpec:
    """The statement from transaction `first` on: what a later, overlapping statement would hold."""
    txns = spec.transactions
    opening = txns[first - 1].balance if first else spec.opening
    return replace(spec, period_start=txns[first].booking_date, opening=opening, transactions=txns[first:])
