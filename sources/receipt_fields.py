"""The fields of a payment receipt, each with a confidence, from its text (receipt_text.py).

Layouts: a Privat24 "Квитанція", a monobank receipt, a Ukrainian payment order ("Платіжна
інструкція" / "Платіжне доручення"), and anything else labelled the same way (generic). All three
print "Label: value" lines; the payer's and the payee's details follow their role line
("Платник:", "Відправник:" / "Отримувач:", "Одержувач:"), so an unqualified "IBAN:" or "Код:"
belongs to the role above it.

Confidence of a field = the confidence of the line it was read from (1.0 for a PDF's text layer,
Tesseract's mean word confidence for OCR), raised when a check digit proves the value (an IBAN's
mod-97, an ЄДРПОУ's or РНОКПП's check digit) and cut to 0.3 when a check digit disproves it, and
lowered for values found without their label. OCR's usual confusions are undone first: "№" read
as "Ne"/"Ме", "IBAN" as "ІВАМ", "UA" as "ЦА", "UAH" as "ДАН".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sources.receipt_text import TextLine

FIELDS = ("amount", "currency", "paid_on", "payer_name", "payer_iban", "payer_tax_id", "payee", "purpose",
          "invoice_number", "bank_doc_number", "bank_name")
LAYOUT_BANKS = {"privat24": "АТ КБ «ПРИВАТБАНК»", "monobank": "АТ «УНІВЕРСАЛ БАНК»"}
_MONTHS = {m: n for n, names in enumerate((
    ("січня", "січень", "января", "jan"), ("лютого", "лютий", "февраля", "feb"), ("березня", "березень", "марта", "mar"),
    ("квітня", "квітень", "апреля", "apr"), ("травня", "травень", "мая", "may"), ("червня", "червень", "июня", "jun"),
    ("липня", "липень", "июля", "jul"), ("серпня", "серпень", "августа", "aug"), ("вересня", "вересень", "сентября", "sep"),
    ("жовтня", "жовтень", "октября", "oct"), ("листопада", "листопад", "ноября", "nov"), ("грудня", "грудень", "декабря", "dec"),
), start=1) for m in names}


@dataclass(frozen=True)
class Field:
    value: str | None
    confidence: float = 0.0  # float-ok: 0..1


@dataclass
class ReceiptFields:
    layout: str  # privat24 | monobank | payment_order | generic
    fields: dict[str, Field] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        return self.fields.get(name, Field(None)).value

    def confidence(self, name: str) -> float:  # float-ok
        return self.fields.get(name, Field(None)).confidence

    def amount(self) -> Decimal | None:
        value = self.value("amount")
        return Decimal(value) if value else None

    def paid_on(self) -> date | None:
        value = self.value("paid_on")
        return date.fromisoformat(value) if value else None

    def as_json(self) -> dict:
        return {"layout": self.layout,
                "fields": {name: {"value": f.value, "confidence": round(f.confidence, 3)} for name, f in self.fields.items()}}


# --- OCR clean-up ------------------------------------------------------------------------------------

_FIXES = (
    (re.compile(r"(?<![\w])(?:N[eoº°]|М[еeoо»°]|Nº|N\.)\s*(?=[A-ZА-Я]{0,6}[-\d])"), "№ "),
    (re.compile(r"(?<![\w])[IІ1l][BВ][AА][NМНИ](?![\w])"), "IBAN"),
    (re.compile(r"(?<![\w])[UЦУ][AА](?=\s?\d{2}(?:\s?\d){20,})"), "UA"),
    (re.compile(r"(?<![\w])[UЦДУ][AА][HН](?![\w])"), "UAH"),
    (re.compile(r"[ЄЕСE]ДРПОУ"), "ЄДРПОУ"),
    (re.compile(r"(?<![\w])З(?=[ \u00a0]\d{3}(?:[ \u00a0]\d{3})*[,.]\d{2}\b)"), "3"),
    (re.compile(r"(?<=ПДВ )(\d{1,2})(?:96|95|9о|Уо)(?![\w])"), r"\1%"),
)


def clean_ocr(text: str) -> str:
    for pattern, replacement in _FIXES:
        text = pattern.sub(replacement, text)
    return text.strip(" |")


# --- check digits ------------------------------------------------------------------------------------


def iban_ok(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    return int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


def edrpou_ok(code: str) -> bool:
    if not re.fullmatch(r"\d{8}", code):
        return False
    digits = [int(c) for c in code]
    weights = (7, 1, 2, 3, 4, 5, 6) if 30_000_000 < int(code) < 60_000_000 else (1, 2, 3, 4, 5, 6, 7)
    check = sum(d * w for d, w in zip(digits, weights)) % 11
    if check == 10:
        check = sum(d * (w + 2) for d, w in zip(digits, weights)) % 11 % 10
    return check == digits[7]


def rnokpp_ok(code: str) -> bool:
    if not re.fullmatch(r"\d{10}", code):
        return False
    digits = [int(c) for c in code]
    return sum(d * w for d, w in zip(digits, (-1, 5, 7, 9, 4, 6, 10, 5, 7))) % 11 % 10 == digits[9]


# --- reading -----------------------------------------------------------------------------------------

_LABEL = re.compile(r"^\s*([^:]{2,60}?)\s*:\s*(.*)$")
_PAYER = re.compile(r"^(платник|відправник|платильщик|плательщик|payer|sender|from)$")
_PAYEE = re.compile(r"^(отримувач|одержувач|получатель|recipient|payee|beneficiary|to)$")
_AMOUNT_LABEL = re.compile(r"^(сума|сумма|amount|total|до сплати)(,? ?(грн|uah|usd|eur|₴))?$")
_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](\d{2}))?(?![\d])")
_DOC = re.compile(r"(квитанці[яї]|інструкці[яї]|доручення|документа?|операції|receipt|квитанция|поручение)\s*№\s*([A-ZА-ЯІЇЄҐ0-9][A-ZА-ЯІЇЄҐ0-9/-]*)", re.I)
_DATE_NUMERIC = re.compile(r"(?<!\d)(\d{2})\.(\d{2})\.(\d{4})(?!\d)")
_DATE_WORDS = re.compile(r"(?<!\d)(\d{1,2})\s+([a-zа-яіїєґ]+)\s+(\d{4})", re.I)
_IBAN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30})(?![A-Z0-9])")
_TAX = re.compile(r"(?<!\d)(\d{8}|\d{10})(?!\d)")
_INVOICE = re.compile(
    r"(?:рахун\w*|рах\.|сч[её]т\w*|сч\.|invoice|inv\.?|інвойс\w*)\s*(?:№|#|N)?\s*"
    r"([A-ZА-ЯІЇЄҐ0-9][A-ZА-ЯІЇЄҐ0-9/-]*\d[A-ZА-ЯІЇЄҐ0-9/-]*)", re.I)
_DATE_LABELS = ("дата проведення", "дата операції", "дата та час", "дата і час", "дата платежу", "дата валютування",
                "дата", "date")
_STOP = re.compile(r"^(статус|дата проведення|проведено|підпис|м\.п\.|мп|status)\b", re.I)


def _lower(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


_LATIN_LOOKALIKES = str.maketrans("ABCEHIKMOPTXYacekimopxy", "АВСЕНІКМОРТХУасекіморху")
_ENGLISH_LABELS = {"amount", "bank", "date", "payer", "sender", "total", "purpose", "currency", "account", "receipt", "to", "from"}


def _label(text: str) -> str:
    """A label as lower-case Cyrillic when OCR spelled a Cyrillic word with Latin look-alikes ("Cyma")."""
    words = []
    for word in text.split():
        latin = any("a" <= ch.lower() <= "z" for ch in word)
        if latin and word.lower() not in _ENGLISH_LABELS and all(not ("a" <= ch.lower() <= "z") or ch in "ABCEHIKMOPTXYacekimopxy" for ch in word):
            word = word.translate(_LATIN_LOOKALIKES)
        words.append(word)
    return _lower(" ".join(words))


def detect_layout(text: str) -> str:
    head = _lower(text[:400])
    if re.search(r"платіжн\w* (інструкці|доручен)", head):
        return "payment_order"
    if "monobank" in head or "монобанк" in head:
        return "monobank"
    if "приватбанк" in head or "privat24" in head or "приват24" in head:
        return "privat24"
    return "generic"


def read_fields(lines: list[TextLine], ocr: bool = False) -> ReceiptFields:
    """The receipt's fields from its lines (cleaned of OCR's confusions when `ocr`)."""
    lines = [TextLine(clean_ocr(l.text) if ocr else l.text.strip(), min(l.confidence, 0.99)) for l in lines if l.text.strip()]
    text = "\n".join(l.text for l in lines)
    result = ReceiptFields(detect_layout(text))
    found = result.fields
    role = None
    dates: dict[str, Field] = {}
    purpose_at = None

    def put(name: str, value: str | None, confidence: float) -> None:  # float-ok
        if value and (name not in found or found[name].confidence < confidence):
            found[name] = Field(value, confidence)

    for index, line in enumerate(lines):
        conf = line.confidence
        doc = _DOC.search(line.text)
        if doc:
            put("bank_doc_number", _code(doc.group(2)), conf)
        labelled = _LABEL.match(line.text)
        if not labelled:
            if index < 6:
                for value in _dates(line.text):
                    dates.setdefault("header", Field(value, conf * 0.9))
            continue
        label, value = _label(labelled.group(1)), labelled.group(2).strip()
        words = label.split()
        if _PAYER.match(label):
            role = "payer"
            put("payer_name", value, conf)
            continue
        if _PAYEE.match(label):
            role = "payee"
            put("payee", value, conf)
            continue
        who = "payer" if re.search(r"платник\w*|відправник\w*|payer|sender", label) else (
            "payee" if re.search(r"отримувач\w*|одержувач\w*|recipient|payee|beneficiary", label) else role)
        if label.startswith("банк") or label == "bank" or label.startswith("назва банку"):
            if label in ("банк", "bank"):
                who = None  # the receipt's own bank, whatever role came before
            put("bank_name", value, conf * (0.8 if who == "payee" else 1.0))
        elif any(w in ("iban", "рахунок", "рахунку", "account", "счет", "счёт") for w in words) or label.startswith("рахунок"):
            iban = _iban(value)
            if iban and who in ("payer", "payee"):
                put(f"{who}_iban" if who == "payer" else "payee_iban", iban, _checked(conf, iban_ok(iban)))
        elif any(w in ("єдрпоу", "код", "рнокпп", "іпн", "edrpou", "инн", "окпо") for w in words):
            tax = _TAX.search(value.replace(" ", ""))
            if tax and who in ("payer", "payee"):
                code = tax.group(1)
                put(f"{who}_tax_id", code, _checked(conf, edrpou_ok(code) or rnokpp_ok(code)))
        elif _AMOUNT_LABEL.match(label):
            amount, currency = _amount(value)
            currency = currency or _currency(label)
            if amount:
                put("amount", amount, conf)
            if currency:
                put("currency", currency, conf)
        elif label in ("валюта", "currency"):
            currency = _currency(value)
            if currency:
                put("currency", currency, conf)
        elif label.startswith("призначення") or label in ("purpose", "назначение платежа", "призначення платежу"):
            purpose_at = index
            put("purpose", value, conf)
        elif label.startswith("дата") or label == "date" or label == "від":
            for value_date in _dates(value):
                key = next((d for d in _DATE_LABELS if label.startswith(d)), "дата")
                dates.setdefault(key, Field(value_date, conf))
        elif label.startswith("номер документа") or label.startswith("№ документа") or label.startswith("номер операції"):
            put("bank_doc_number", _code(value.split()[0]) if value else None, conf)

    if purpose_at is not None:
        # The purpose wraps onto the following unlabelled lines.
        parts, confs = [found["purpose"].value], [found["purpose"].confidence]
        for line in lines[purpose_at + 1:]:
            if _LABEL.match(line.text) or _STOP.match(line.text):
                break
            parts.append(line.text)
            confs.append(line.confidence)
        found["purpose"] = Field(" ".join(parts), min(confs))
    for key in _DATE_LABELS + ("header",):
        if key in dates:
            found["paid_on"] = dates[key]
            break
    if "purpose" in found:
        invoice = _INVOICE.search(found["purpose"].value or "")
        if invoice:
            found["invoice_number"] = Field(invoice.group(1).rstrip("/-").upper(), found["purpose"].confidence)
    if "currency" not in found:
        currency = _currency(text)
        found["currency"] = Field(currency or "UAH", 0.6 if currency else 0.4)
    if "bank_name" not in found and result.layout in LAYOUT_BANKS:
        found["bank_name"] = Field(LAYOUT_BANKS[result.layout], 0.9)
    return result


_LOOKALIKES = str.maketrans("АВЕКМНОРСТХІ", "ABEKMHOPCTXI")


def _code(value: str) -> str:
    """A bank's document number: upper case; in a code mixing scripts, Cyrillic look-alikes as Latin."""
    value = value.upper().rstrip(".,;")
    if any("A" <= ch <= "Z" for ch in value) and any("А" <= ch <= "Я" for ch in value):
        value = value.translate(_LOOKALIKES)
    return value


def _checked(confidence: float, valid: bool) -> float:  # float-ok
    return max(confidence, 0.97) if valid else min(confidence, 0.3)


def _iban(value: str) -> str | None:
    match = _IBAN.search(value.upper())
    return match.group(1).replace(" ", "") if match else None


def _currency(text: str) -> str | None:
    low = text.lower()
    if re.search(r"\buah\b|грн|₴|гривн|гривень", low):
        return "UAH"
    if re.search(r"\busd\b|\$|долар", low):
        return "USD"
    if re.search(r"\beur\b|€|євро|евро", low):
        return "EUR"
    return None


def _amount(value: str) -> tuple[str | None, str | None]:
    match = _NUMBER.search(value)
    if not match:
        return None, _currency(value)
    whole = re.sub(r"[ \u00a0\u202f]", "", match.group(1))
    amount = Decimal(whole) + (Decimal(match.group(2)) / 100 if match.group(2) else Decimal(0))
    return f"{amount:.2f}", _currency(value[match.end():] or value)


def _dates(text: str) -> list[str]:
    found = []
    for d, m, y in _DATE_NUMERIC.findall(text):
        try:
            found.append(date(int(y), int(m), int(d)).isoformat())
        except ValueError:
            continue
    for d, month, y in _DATE_WORDS.findall(text):
        number = _MONTHS.get(month.lower()[:3] if month.isascii() else month.lower())
        if number:
            try:
                found.append(date(int(y), number, int(d)).isoformat())
            except ValueError:
                continue
    return found
