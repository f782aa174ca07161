"""Payment receipts as customers email them to sales: PDFs with a text layer (fpdf2), scans and phone
photos (Pillow), image-only PDFs, and the .eml messages that carry them (plain, forwarded, several
receipts in one message).

Three layouts, as Ukrainian banks print them: a Privat24 "Квитанція", a monobank receipt and a
generic "Платіжна інструкція" (payment order). All text is Cyrillic in DejaVuSans, the font
matplotlib ships (imported only for its path). Output is deterministic: fixed dates, fixed seeds.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.pdf_factory import CREATED, FONT

_MONTHS = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня", "жовтня",
           "листопада", "грудня")


@dataclass(frozen=True)
class ReceiptSpec:
    """The truth a receipt shows; tests compare what extraction finds against it."""

    layout: str  # privat24 | monobank | payment_order
    doc_number: str
    paid_at: datetime
    amount: Decimal
    currency: str
    payer_name: str
    payer_iban: str
    payer_tax_id: str
    payee_name: str
    payee_iban: str
    payee_tax_id: str
    purpose: str
    bank_name: str

    def expected(self) -> dict[str, str]:
        """The fields extraction must find, as strings."""
        return {
            "amount": str(self.amount), "currency": self.currency, "paid_on": self.paid_at.date().isoformat(),
            "payer_name": self.payer_name, "payer_iban": self.payer_iban, "payer_tax_id": self.payer_tax_id,
            "payee": self.payee_name, "purpose": self.purpose, "bank_doc_number": self.doc_number,
            "bank_name": self.bank_name,
        }

    def with_(self, **changes) -> "ReceiptSpec":
        return replace(self, **changes)


def ua_amount(value: Decimal, decimal: str = ",") -> str:
    whole, cents = f"{value:.2f}".split(".")
    return f"{int(whole):,}".replace(",", " ") + decimal + cents


def _currency_word(currency: str) -> str:
    return {"UAH": "грн", "USD": "USD", "EUR": "EUR"}[currency]


def receipt_lines(spec: ReceiptSpec) -> list[tuple[str, int]]:
    """(text, size) lines in the order the layout prints them; size 0 is a blank gap."""
    day = spec.paid_at
    if spec.layout == "privat24":
        return [
            ("ПриватБанк", 16), ("КВИТАНЦІЯ № " + spec.doc_number, 13), ("", 0),
            (f"Дата операції: {day:%d.%m.%Y %H:%M}", 10),
            (f"Платник: {spec.payer_name}", 10),
            (f"Рахунок платника: {spec.payer_iban}", 10),
            (f"Код ЄДРПОУ платника: {spec.payer_tax_id}", 10),
            (f"Отримувач: {spec.payee_name}", 10),
            (f"Рахунок отримувача: {spec.payee_iban}", 10),
            (f"Код ЄДРПОУ отримувача: {spec.payee_tax_id}", 10),
            (f"Банк платника: {spec.bank_name}", 10),
            (f"Сума: {ua_amount(spec.amount)} {spec.currency}", 12),
            (f"Призначення платежу: {spec.purpose}", 10), ("", 0),
            ("Статус: Проведено", 10),
        ]
    if spec.layout == "monobank":
        return [
            ("monobank", 16), (f"Квитанція № {spec.doc_number}", 13), ("", 0),
            (f"Дата та час: {day.day} {_MONTHS[day.month - 1]} {day.year}, {day:%H:%M}", 10),
            (f"Сума: {ua_amount(spec.amount, '.')} {_currency_word(spec.currency)}", 12),
            (f"Відправник: {spec.payer_name}", 10),
            (f"IBAN відправника: {spec.payer_iban}", 10),
            (f"ЄДРПОУ відправника: {spec.payer_tax_id}", 10),
            (f"Отримувач: {spec.payee_name}", 10),
            (f"IBAN отримувача: {spec.payee_iban}", 10),
            (f"ЄДРПОУ отримувача: {spec.payee_tax_id}", 10),
            (f"Призначення: {spec.purpose}", 10),
            (f"Банк: {spec.bank_name}", 10),
        ]
    if spec.layout == "payment_order":
        return [
            (f"ПЛАТІЖНА ІНСТРУКЦІЯ № {spec.doc_number}", 13),
            (f"від {day.day} {_MONTHS[day.month - 1]} {day.year} р.", 10), ("", 0),
            (f"Платник: {spec.payer_name}", 10),
            (f"Код платника: {spec.payer_tax_id}", 10),
            (f"IBAN платника: {spec.payer_iban}", 10),
            (f"Банк платника: {spec.bank_name}", 10),
            (f"Отримувач: {spec.payee_name}", 10),
            (f"Код отримувача: {spec.payee_tax_id}", 10),
            (f"IBAN отримувача: {spec.payee_iban}", 10),
            (f"Сума: {ua_amount(spec.amount)}", 12),
            (f"Валюта: {spec.currency}", 10),
            (f"Призначення платежу: {spec.purpose}", 10), ("", 0),
            (f"Дата проведення: {day:%d.%m.%Y}", 10), ("ПРОВЕДЕНО", 10),
        ]
    raise ValueError(spec.layout)


def receipt_pdf(spec: ReceiptSpec) -> bytes:
    """A receipt PDF with a text layer, as the bank's app exports it."""
    pdf = FPDF(orientation="P", unit="mm", format=(148, 210))
    pdf.set_creation_date(CREATED)
    pdf.set_margins(10, 10, 10)
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.add_page()
    for text, size in receipt_lines(spec):
        if not size:
            pdf.ln(4)
            continue
        pdf.set_font("DejaVu", size=size)
        pdf.multi_cell(0, size * 0.55, text)
        pdf.ln(1)
    return bytes(pdf.output())


def receipt_image(spec: ReceiptSpec, fmt: str = "PNG", photo: bool = False, seed: int = 1) -> bytes:
    """A scan (clean, white) or a phone photo (grey paper, slight tilt, blur, JPEG) of the receipt."""
    scale = 3  # pixels per point: about 216 dpi, what a phone or scanner gives
    width = 1250
    lines = receipt_lines(spec)
    fonts = {size: ImageFont.truetype(str(FONT), size * scale) for size in {s for _, s in lines if s}}
    probe = ImageDraw.Draw(Image.new("L", (10, 10)))
    rows: list[tuple[str, int]] = []
    for text, size in lines:
        if not size:
            rows.append(("", 0))
            continue
        rows.extend((part, size) for part in _wrap(probe, text, fonts[size], width - 120))
    height = 80 + sum(int(size * scale * 1.6) if size else 30 for _, size in rows) + 60
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = 60
    for text, size in rows:
        if not size:
            y += 30
            continue
        draw.text((60, y), text, font=fonts[size], fill=20)
        y += int(size * scale * 1.6)
    if photo:
        rng = random.Random(seed)
        paper = Image.new("L", (width + 120, height + 120), 200)
        paper.paste(image, (60, 60))
        image = paper.rotate(rng.uniform(-1.2, 1.2), resample=Image.Resampling.BICUBIC, fillcolor=150, expand=False)
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        import numpy as np

        grain = np.random.default_rng(seed).normal(128, 40, (image.height, image.width)).clip(0, 255).astype("uint8")
        image = Image.blend(image, Image.fromarray(grain, mode="L"), 0.06)
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=80 if photo else 92)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    words, lines, current = text.split(" "), [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def image_only_pdf(spec: ReceiptSpec) -> bytes:
    """A scanned receipt saved as PDF: one page that is a picture, no text layer."""
    pdf = FPDF(orientation="P", unit="mm", format=(148, 210))
    pdf.set_creation_date(CREATED)
    pdf.add_page()
    pdf.image(io.BytesIO(receipt_image(spec, "PNG")), x=5, y=5, w=138)
    return bytes(pdf.output())


# --- the emails -----------------------------------------------------------------------------------

MEDIA = {"pdf": ("application", "pdf"), "png": ("image", "png"), "jpg": ("image", "jpeg")}


def receipt_email(
    sender: str,
    attachments: list[tuple[str, bytes]],
    *,
    to: str = "sales@payrecon.test",
    subject: str = "Квитанція про оплату",
    sent_at: datetime = datetime(2026, 11, 16, 9, 30, tzinfo=timezone.utc),
    body: str = "Доброго дня! Надсилаю квитанцію про оплату, прошу зарахувати кошти якнайшвидше.",
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A raw message (as SES inbound stores it) with each (file name, bytes) attached."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id or _message_id(sender, subject, sent_at, attachments)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data in attachments:
        maintype, subtype = MEDIA[name.rsplit(".", 1)[-1].lower()]
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(message)


def forwarded_email(forwarder: str, original: bytes, *, to: str = "sales@payrecon.test",
                    sent_at: datetime = datetime(2026, 11, 16, 10, 5, tzinfo=timezone.utc)) -> bytes:
    """A salesperson forwards the customer's message as an attachment (message/rfc822)."""
    from email import message_from_bytes, policy

    message = EmailMessage()
    message["From"] = forwarder
    message["To"] = to
    message["Subject"] = "Fwd: Квитанція про оплату"
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = _message_id(forwarder, "fwd", sent_at, [("original", original)])
    message.set_content("Пересилаю квитанцію клієнта.")
    message.add_attachment(message_from_bytes(original, policy=policy.default))
    return bytes(message)


def _message_id(sender: str, subject: str, sent_at: datetime, attachments) -> str:
    import hashlib

    digest = hashlib.sha256(f"{sender}|{subject}|{sent_at.isoformat()}".encode() + b"".join(d for _, d in attachments)).hexdigest()
    return f"<{digest[:24]}@payrecon.test>"


def write_eml(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


# --- a small world: three customers, their invoices, our bank statement --------------------------

from payrecon.demo import OUR_EDRPOU, OUR_IBAN, _PRIVAT24_HEADER  # noqa: E402
from reconcilers.evidence import edrpou_with_check_digit, make_iban  # noqa: E402

OUR_NAME = "ТОВ «Пейрекон Сервіс»"
SALES = "sales@payrecon.test"


@dataclass(frozen=True)
class Customer:
    org_id: str
    name: str
    legal_name: str
    tax_id: str
    iban: str
    email: str
    currency: str
    bank: str


CUSTOMERS = (
    Customer("org-sun", "ТОВ «Сонячна Долина»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «СОНЯЧНА ДОЛИНА»",
             edrpou_with_check_digit("3712345"), make_iban("UA", "305299" + "0000026001234567890"), "buh@sonyachna.example.com",
             "UAH", "АТ КБ «ПРИВАТБАНК»"),
    Customer("org-kyiv", "ТОВ «Київ Маркет Груп»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «КИЇВ МАРКЕТ ГРУП»",
             edrpou_with_check_digit("4123456"), make_iban("UA", "322001" + "0000026009876543210"), "finance@kyivmarket.example.com",
             "UAH", "АТ «УНІВЕРСАЛ БАНК»"),
    Customer("org-media", "ТОВ «Чернігів Медіа»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ЧЕРНІГІВ МЕДІА»",
             edrpou_with_check_digit("3811122"), make_iban("UA", "300465" + "0000026005555512345"), "office@chmedia.example.com",
             "EUR", "АТ «Ощадбанк»"),
)
BY_ID = {c.org_id: c for c in CUSTOMERS}
#: invoice number -> (org_id, issued_on, currency, amount)
INVOICES = {
    "2026-00101": ("org-sun", "2026-11-05", "UAH", Decimal("4800.99")),
    "2026-00102": ("org-kyiv", "2026-11-06", "UAH", Decimal("7200.00")),
    "2026-00103": ("org-sun", "2026-11-09", "UAH", Decimal("12000.00")),
    "2026-00104": ("org-sun", "2026-11-10", "UAH", Decimal("64000.00")),
    "2026-00105": ("org-media", "2026-11-10", "EUR", Decimal("1200.00")),
    "2026-00106": ("org-kyiv", "2026-11-12", "UAH", Decimal("2400.50")),
    "2026-00107": ("org-sun", "2026-12-01", "UAH", Decimal("3600.00")),
}


def write_exports(folder: Path) -> dict[str, Path]:
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    paths = {"organizations": folder / "organizations.csv", "invoices": folder / "invoices.csv"}
    with open(paths["organizations"], "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["org_id", "name", "legal_name", "tax_id", "ibans", "currency", "notify_emails"])
        writer.writerows([c.org_id, c.name, c.legal_name, c.tax_id, c.iban, c.currency, c.email] for c in CUSTOMERS)
    with open(paths["invoices"], "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"])
        writer.writerows([n, org, issued, "", cur, str(amount), "open"] for n, (org, issued, cur, amount) in INVOICES.items())
    return paths


def spec_for(invoice: str, layout: str = "privat24", paid_at: datetime = datetime(2026, 11, 16, 11, 23),
             doc_number: str = "4523786190", **changes) -> ReceiptSpec:
    """The receipt the invoice's organization would send for it."""
    org_id, issued, currency, amount = INVOICES[invoice]
    payer = BY_ID[org_id]
    issued_text = f"{issued[8:10]}.{issued[5:7]}.{issued[:4]}"
    spec = ReceiptSpec(
        layout=layout, doc_number=doc_number, paid_at=paid_at, amount=amount, currency=currency, payer_name=payer.name,
        payer_iban=payer.iban, payer_tax_id=payer.tax_id, payee_name=OUR_NAME, payee_iban=OUR_IBAN, payee_tax_id=OUR_EDRPOU,
        purpose=f"Оплата за рахунком № {invoice} від {issued_text}, у т.ч. ПДВ 20% {ua_amount(amount / 6)} грн",
        bank_name=payer.bank,
    )
    return spec.with_(**changes) if changes else spec


def privat24_statement(path: Path, rows: list[tuple[datetime, str, Decimal, str, str]]) -> Path:
    """Our Privat24 statement (the format `privat24_csv` reads): (day, org_id, amount, purpose, doc number)."""
    import csv

    lines = []
    for day, org_id, amount, purpose, doc in rows:
        payer = BY_ID[org_id]
        lines.append([OUR_EDRPOU, "305299", OUR_IBAN, "UAH", doc, day.strftime("%d.%m.%Y"), payer.iban[4:10], payer.bank,
                      payer.iban, payer.tax_id, payer.legal_name, f"{amount:.2f}".replace(".", ","), purpose])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="cp1251", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(_PRIVAT24_HEADER)
        writer.writerows(lines)
    return path
