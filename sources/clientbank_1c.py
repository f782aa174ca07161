"""1C ClientBankExchange text statement (1CClientBankExchange, format versions 1.02/1.03).

Format (../shared/fixtures/FORMATS.md §6, "1CClientBankExchange"): `key=value` lines.

    1CClientBankExchange                         first line, the format marker
    ВерсияФормата=1.03, Кодировка=Windows|DOS, Отправитель, Получатель, ДатаНачала, ДатаКонца,
    РасчСчет=<our account> (repeatable)          the header
    СекцияРасчСчет ... КонецРасчСчет             per account: ДатаНачала, ДатаКонца, РасчСчет,
                                                 НачальныйОстаток, ВсегоПоступило, ВсегоСписано,
                                                 КонечныйОстаток
    СекцияДокумент=<kind> ... КонецДокумента     one payment document: Номер, Дата, Сумма
                                                 (unsigned, dot decimal), Плательщик*/Получатель*
                                                 (Счет or РасчСчет, name, ИНН, 1..4), ДатаСписано,
                                                 ДатаПоступило, НазначениеПлатежа (+1..6)
    КонецФайла

The Ukrainian dialect (sabatex converters) writes ПлательщикОКПО/ПолучательОКПО (ЄДРПОУ),
ПлательщикМФО/ПолучательМФО and a numeric КодВалюты; Ukrainian-language keys (Платник...,
Отримувач..., ПризначенняПлатежу, Сума, СекціяДокумент...) are read through one alias table. No
public sample with Ukrainian-language keys exists, so that table is this module's best reading.

The sign is not in the file: a document is a credit when its payee account is one of ours (the
header РасчСчет or a СекцияРасчСчет account) and a debit when its payer account is. A document
between two of our accounts yields one line for each; one that touches none of our accounts is
emitted with account None (the data contract quarantines it) and a warning.

A file made by 1C *for* the bank (payment orders: no СекцияРасчСчет, no ДатаСписано/ДатаПоступило,
usually a `Документ=` header list) is not a statement and raises MalformedFile.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sources.errors import MalformedFile
from sources.monobank_json import ISO4217_NUMERIC, currency_from_code
from sources.parsing import clean, parse_date
from sources.records import NormalizedRecord, ParseResult, StatementSummary, make_line_id

MARKER = "1CClientBankExchange"
_ENCODINGS = {"windows": "cp1251", "dos": "cp866", "utf-8": "utf-8", "utf8": "utf-8"}

#: Canonical (1C's Russian) key -> other spellings: Ukrainian-language keys and dialect synonyms.
_ALIASES: dict[str, tuple[str, ...]] = {
    # header
    "ВерсияФормата": ("ВерсіяФормату",),
    "Кодировка": ("Кодування",),
    "ДатаНачала": ("ДатаПочатку",),
    "ДатаКонца": ("ДатаКінця", "ДатаЗакінчення"),
    "РасчСчет": ("РозрахРахунок", "РозрахунковийРахунок", "Рахунок"),
    # sections
    "СекцияРасчСчет": ("СекціяРозрахРахунок", "СекціяРахунок"),
    "КонецРасчСчет": ("КінецьРозрахРахунок", "КінецьРахунку", "КінецьРахунок"),
    "СекцияДокумент": ("СекціяДокумент",),
    "КонецДокумента": ("КінецьДокумента", "КінецьДокументу"),
    "КонецФайла": ("КінецьФайлу", "КінецьФайла"),
    # account section
    "НачальныйОстаток": ("ПочатковийЗалишок", "ЗалишокПочатковий", "ВхіднийЗалишок"),
    "ВсегоПоступило": ("ВсьогоНадійшло", "ВсьогоЗараховано"),
    "ВсегоСписано": ("ВсьогоСписано",),
    "КонечныйОстаток": ("КінцевийЗалишок", "ЗалишокКінцевий", "ВихіднийЗалишок"),
    # document
    "Сумма": ("Сума",),
    "КодВалюты": ("КодВалюти", "Валюта"),
    "ДокументИД": ("ДокументІД", "ІдентифікаторДокумента"),
    "ДатаСписано": ("ДатаСписання",),
    "ДатаПоступило": ("ДатаНадходження", "ДатаЗарахування", "ДатаНадійшло"),
    "НазначениеПлатежа": ("ПризначенняПлатежу", "ПризначенняПлатежа"),
    "Плательщик": ("Платник",),
    "ПлательщикСчет": ("ПлатникРахунок",),
    "ПлательщикРасчСчет": ("ПлатникРозрахРахунок",),
    "ПлательщикИНН": ("ПлатникІПН", "ПлатникІНН"),
    "ПлательщикОКПО": ("ПлатникЄДРПОУ", "ПлатникОКПО", "ПлательщикЕГРПОУ"),
    "ПлательщикМФО": ("ПлатникМФО",),
    "Получатель": ("Отримувач", "Одержувач"),
    "ПолучательСчет": ("ОтримувачРахунок", "ОдержувачРахунок"),
    "ПолучательРасчСчет": ("ОтримувачРозрахРахунок", "ОдержувачРозрахРахунок"),
    "ПолучательИНН": ("ОтримувачІПН", "ОтримувачІНН", "ОдержувачІПН"),
    "ПолучательОКПО": ("ОтримувачЄДРПОУ", "ОтримувачОКПО", "ОдержувачЄДРПОУ", "ПолучательЕГРПОУ"),
    "ПолучательМФО": ("ОтримувачМФО", "ОдержувачМФО"),
}


def _fold(key: str) -> str:
    # DOS-era Ukrainian text wrote the Latin "i" for "і", which cp866 lacks.
    return key.strip().casefold().replace("i", "і")


_CANONICAL = {_fold(alias): canonical for canonical, aliases in _ALIASES.items() for alias in (canonical, *aliases)}
_NUMBERED = re.compile(r"(.*?\D)(\d{1,2})")
#: A 1C amount: digits with a dot (a comma is tolerated), optionally signed.
_PLAIN_AMOUNT = re.compile(r"[+-]?\d{1,18}(?:[.,]\d{1,6})?")
#: "7777777777, ООО ..." — the ИНН in front of a name in Плательщик/Получатель.
_TAX_ID_PREFIX = re.compile(r"^\d{8,12}\s*,\s*")


def canonical_key(key: str) -> str:
    """The 1C (Russian) spelling of a key, numbered suffixes kept (ПризначенняПлатежу2 ->
    НазначениеПлатежа2); unknown keys as written."""
    folded = _fold(key)
    if folded in _CANONICAL:
        return _CANONICAL[folded]
    numbered = _NUMBERED.fullmatch(folded)
    if numbered and numbered.group(1) in _CANONICAL:
        return _CANONICAL[numbered.group(1)] + numbered.group(2)
    return key.strip()


@dataclasses.dataclass
class AccountSection:
    """СекцияРасчСчет: one account's balances for the period."""

    line: int
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    closed: bool = False


@dataclasses.dataclass
class DocumentSection:
    """СекцияДокумент: one payment document (its kind is the value after `=`)."""

    line: int
    kind: str | None
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    closed: bool = False

    def get(self, *keys: str) -> str | None:
        for key in keys:
            value = clean(self.fields.get(key))
            if value:
                return value
        return None


@dataclasses.dataclass
class ExchangeFile:
    """The whole file: header keys (РасчСчет may repeat), sections in order, and oddities seen."""

    header: dict[str, str] = dataclasses.field(default_factory=dict)
    header_accounts: list[str] = dataclasses.field(default_factory=list)
    accounts: list[AccountSection] = dataclasses.field(default_factory=list)
    documents: list[DocumentSection] = dataclasses.field(default_factory=list)
    ended: bool = False
    stray_lines: list[int] = dataclasses.field(default_factory=list)
    after_end: int = 0


class ClientBankExchangeSource:
    name = "1c_clientbankexchange"

    def __init__(self, default_currency: str = "UAH"):
        self.default_currency = default_currency

    def identify(self, path: Path, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return start[: len(MARKER)].lower() == MARKER.lower().encode()

    def parse(self, path: Path) -> ParseResult:
        warnings: list[str] = []
        data = path.read_bytes()
        if not self.identify(path, data[:64]):
            raise MalformedFile(f"{path.name}: the first line is not {MARKER}; not a 1C client-bank exchange file")
        lines = decode_lines(data, warnings)
        exchange = read_sections(lines)
        _note_structure(exchange, warnings)
        if not _is_statement(exchange):
            raise MalformedFile(
                f"{path.name}: a 1C payment-order file for sending to the bank ({len(exchange.documents)} document(s), "
                "no СекцияРасчСчет and no ДатаСписано/ДатаПоступило), not a bank statement; "
                "load the statement exported by the bank client instead"
            )
        return _StatementBuilder(self.name, exchange, self.default_currency, warnings).build()


def decode_lines(data: bytes, warnings: list[str]) -> list[str]:
    """The file's lines, decoded by its Кодировка (Windows -> cp1251, DOS -> cp866).

    UTF-8 is taken when the whole file is valid UTF-8 whatever the header says; a single UTF-8 line
    inside a cp1251 file (an editor appended it) is decoded as UTF-8. DOS files with Ukrainian
    letters are cp1125 (cp866 has no І/і), which shows as bytes 0xF6-0xF9."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    raw_lines = re.split(rb"\r\n|\n|\r", data)
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        return re.split(r"\r\n|\n|\r", text)[: len(raw_lines)]
    encoding = _declared_encoding(raw_lines[:40], warnings)
    if encoding == "cp866" and re.search(rb"[\xf6-\xf9]", data):
        encoding = "cp1125"
        warnings.append("Кодировка=DOS with Ukrainian letters: decoded as cp1125 (the Ukrainian DOS code page)")
    lines: list[str] = []
    utf8_lines: list[int] = []
    replaced = 0
    for number, raw in enumerate(raw_lines, start=1):
        if re.search(rb"[\x80-\xff]", raw):
            try:
                lines.append(raw.decode("utf-8"))
                utf8_lines.append(number)
                continue
            except UnicodeDecodeError:
                pass
        decoded = raw.decode(encoding, errors="replace")
        replaced += decoded.count("\ufffd")
        lines.append(decoded)
    if utf8_lines:
        warnings.append(f"line(s) {', '.join(map(str, utf8_lines[:10]))} are UTF-8 inside a {encoding} file; decoded as UTF-8")
    if replaced:
        warnings.append(f"{replaced} byte(s) are not valid {encoding}; shown as \ufffd")
    return lines


def _declared_encoding(head_lines: list[bytes], warnings: list[str]) -> str:
    """Кодировка from the header, found under each candidate code page (the key itself is Cyrillic)."""
    for candidate in ("cp1251", "cp866"):
        for raw in head_lines:
            key, _, value = raw.decode(candidate, errors="replace").partition("=")
            if canonical_key(key) == "Кодировка" and value:
                declared = _ENCODINGS.get(value.strip().casefold())
                if declared:
                    return declared
                warnings.append(f"unknown Кодировка={value.strip()}; read as Windows (cp1251)")
                return "cp1251"
    scores = {candidate: sum(canonical_key(raw.decode(candidate, errors="replace").partition("=")[0]) in _ALIASES
                             for raw in head_lines) for candidate in ("cp1251", "cp866")}
    best = max(scores, key=lambda candidate: scores[candidate])
    warnings.append(f"no Кодировка in the header; read as {best}")
    return best


def read_sections(lines: list[str]) -> ExchangeFile:
    """Split the lines into the header, СекцияРасчСчет and СекцияДокумент sections."""
    exchange = ExchangeFile()
    current: AccountSection | DocumentSection | None = None
    for number, line in enumerate(lines, start=1):
        if number == 1 or not line.strip():
            continue
        if exchange.ended:
            exchange.after_end += 1
            continue
        raw_key, has_value, value = line.partition("=")
        key = canonical_key(raw_key)
        if key in ("СекцияРасчСчет", "СекцияДокумент", "КонецФайла"):
            current = None
            if key == "СекцияРасчСчет":
                current = AccountSection(number)
                exchange.accounts.append(current)
            elif key == "СекцияДокумент":
                current = DocumentSection(number, clean(value))
                exchange.documents.append(current)
            else:
                exchange.ended = True
        elif key in ("КонецРасчСчет", "КонецДокумента"):
            if current is not None:
                current.closed = True
            current = None
        elif not has_value:
            exchange.stray_lines.append(number)
        elif current is not None:
            current.fields.setdefault(key, value.strip())
        elif key == "РасчСчет":
            exchange.header_accounts.append(value.strip())
        else:
            exchange.header.setdefault(key, value.strip())
    return exchange


def _note_structure(exchange: ExchangeFile, warnings: list[str]) -> None:
    unclosed = [f"line {section.line}" for section in (*exchange.accounts, *exchange.documents) if not section.closed]
    if unclosed:
        warnings.append(f"{len(unclosed)} section(s) not closed by КонецДокумента/КонецРасчСчет (file cut short?): "
                        f"{', '.join(unclosed[:10])}; read as they are")
    if not exchange.ended:
        warnings.append("no КонецФайла line: the file may be cut short")
    if exchange.after_end:
        warnings.append(f"{exchange.after_end} line(s) after КонецФайла ignored")
    if exchange.stray_lines:
        warnings.append(f"{len(exchange.stray_lines)} line(s) without '=' ignored: lines {', '.join(map(str, exchange.stray_lines[:10]))}")


def _is_statement(exchange: ExchangeFile) -> bool:
    """A statement from the bank has account sections or booked (ДатаСписано/ДатаПоступило) documents."""
    if exchange.accounts:
        return True
    return any(document.get("ДатаСписано", "ДатаПоступило") for document in exchange.documents)


def _compact_account(account: str | None) -> str:
    return re.sub(r"[\s\-]", "", account or "").upper()


def same_account(ours: str, theirs: str | None) -> bool:
    """Equal account numbers, or a Ukrainian IBAN and the old account number inside it
    (UAkk + 6-digit MFO + 19-digit account, zero-padded)."""
    a, b = _compact_account(ours), _compact_account(theirs)
    if not a or not b:
        return False
    if a == b:
        return True
    for iban, plain in ((a, b), (b, a)):
        if iban.startswith("UA") and len(iban) == 29 and plain.isdigit():
            return iban[10:].lstrip("0") == plain.lstrip("0")
    return False


def _amount(raw: str | None) -> Decimal | None:
    compact = re.sub(r"[\s\u00a0]", "", raw or "")
    if not _PLAIN_AMOUNT.fullmatch(compact):
        return None
    try:
        return Decimal(compact.replace(",", "."))
    except InvalidOperation:
        return None


def _text_amount(value: Decimal) -> str:
    return format(value, "f")


@dataclasses.dataclass
class _Party:
    account: str | None
    name: str | None
    tax_id: str | None
    extra: dict[str, str]


def _party(document: DocumentSection, role: str) -> _Party:
    """Плательщик*/Получатель*: account (Счет, else РасчСчет), name (the "1" line, else the main
    line without its leading ИНН), tax id (ОКПО = ЄДРПОУ in the Ukrainian dialect, else ИНН)."""
    account = document.get(f"{role}Счет", f"{role}РасчСчет")
    name = document.get(f"{role}1")
    if name is None:
        full = document.get(role)
        name = clean(_TAX_ID_PREFIX.sub("", full)) if full else None
    okpo, inn = document.get(f"{role}ОКПО"), document.get(f"{role}ИНН")
    extra = {key: value for key, value in (
        ("okpo", okpo), ("inn", inn), ("mfo", document.get(f"{role}МФО")), ("bik", document.get(f"{role}БИК")),
        ("bank", document.get(f"{role}Банк1")),
    ) if value}
    return _Party(account, name, okpo or inn, extra)


def remittance(document: DocumentSection) -> str | None:
    """НазначениеПлатежа, which 1C also writes split over НазначениеПлатежа1..6 for printing: the
    parts are added only when they are not already inside the main text."""
    main = document.get("НазначениеПлатежа")
    parts = " ".join(part for part in (document.get(f"НазначениеПлатежа{i}") for i in range(1, 7)) if part) or None
    if main and parts and re.sub(r"\s", "", parts) not in re.sub(r"\s", "", main):
        return clean(f"{main} {parts}")
    return clean(main or parts)


class _StatementBuilder:
    """Documents into signed records for our accounts, and one StatementSummary per СекцияРасчСчет."""

    def __init__(self, name: str, exchange: ExchangeFile, default_currency: str, warnings: list[str]):
        self.name = name
        self.exchange = exchange
        self.warnings = warnings
        self.default_currency = default_currency
        self.our_accounts = _unique([*exchange.header_accounts, *(s.fields.get("РасчСчет", "") for s in exchange.accounts)])
        self.records: list[NormalizedRecord] = []
        self.occurrences: Counter[tuple] = Counter()
        self.currency_guesses: Counter[str] = Counter()
        self.foreign: list[str] = []
        self.internal: list[str] = []

    def build(self) -> ParseResult:
        if not self.our_accounts:
            self.warnings.append("neither the header nor a СекцияРасчСчет names our account (РасчСчет); no line can be signed")
        for document in self.exchange.documents:
            self._read_document(document)
        self._report()
        return ParseResult(
            records=self.records,
            transactions_found=len(self.exchange.documents),
            warnings=self.warnings,
            statements=[self._summary(section) for section in self.exchange.accounts],
        )

    def _read_document(self, document: DocumentSection) -> None:
        payer, payee = _party(document, "Плательщик"), _party(document, "Получатель")
        label = f"document {document.get('Номер') or '?'} of {document.get('Дата') or '?'} (line {document.line})"
        sides = [(ours, -1, payee) for ours in self.our_accounts if same_account(ours, payer.account)]
        sides += [(ours, +1, payer) for ours in self.our_accounts if same_account(ours, payee.account)]
        if len(sides) == 2 and sides[0][0] == sides[1][0]:
            # Payer and payee are the same account of ours: which way the money went is unknowable.
            sides = []
        if len(sides) == 2:
            self.internal.append(label)
        if not sides:
            self.foreign.append(label)
            self._append(document, None, None, payer, payee)
            return
        for ours, sign, counterparty in sides:
            self._append(document, ours, sign, counterparty, None)

    def _append(self, document: DocumentSection, account: str | None, sign: int | None, counterparty: _Party, other: _Party | None) -> None:
        raw_amount = document.get("Сумма")
        value = _amount(raw_amount)
        if value is None:
            amount = raw_amount
        elif sign is None:
            amount = _text_amount(value)
        else:
            amount = _text_amount(-value if sign < 0 and value else value)
        if sign is None:
            booking_raw = document.get("ДатаПоступило", "ДатаСписано", "Дата")
        else:
            booking_raw = document.get("ДатаПоступило" if sign > 0 else "ДатаСписано", "Дата")
        booking_date = parse_date(booking_raw)
        currency = self._currency(document, account)
        extra: dict[str, str] = {
            "document_kind": document.kind or "",
            "document_number": document.get("Номер") or "",
            "document_date": parse_date(document.get("Дата")) or "",
            "debited_on": parse_date(document.get("ДатаСписано")) or "",
            "credited_on": parse_date(document.get("ДатаПоступило")) or "",
            "line": str(document.line),
        }
        if sign is None and other is not None:
            # Neither side is ours: keep both so a person can see whose payment this is.
            extra.update(side="unknown", payer_account=counterparty.account or "", payer_name=counterparty.name or "",
                         payee_account=other.account or "", payee_name=other.name or "")
            name = account_no = tax_id = None
        else:
            extra.update({f"counterparty_{key}": value for key, value in counterparty.extra.items()})
            name, account_no, tax_id = counterparty.name, counterparty.account, counterparty.tax_id
        bank_ref = document.get("ДокументИД", "Номер")
        identity = (account, document.get("ДокументИД"), document.get("Номер"), extra["document_date"], booking_date,
                    amount, account_no if sign is not None else extra.get("payer_account"))
        self.occurrences[identity] += 1
        self.records.append(NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=account,
            booking_date=booking_date,
            value_date=booking_date,
            amount=amount,
            currency=currency,
            counterparty_name=name,
            counterparty_account=account_no,
            counterparty_tax_id=tax_id,
            remittance=remittance(document),
            end_to_end_id=None,
            bank_ref=bank_ref,
            line_id=make_line_id(self.name, *identity, self.occurrences[identity]),
            extra={key: value for key, value in extra.items() if value},
        ))

    def _currency(self, document: DocumentSection, account: str | None) -> str:
        code = document.get("КодВалюты")
        if code:
            return currency_from_code(code) or code
        guess = _currency_from_account(account or (self.our_accounts[0] if self.our_accounts else None))
        source = "the account number (digits 6-8)" if guess else f"the default ({self.default_currency})"
        self.currency_guesses[source] += 1
        return guess or self.default_currency

    def _report(self) -> None:
        for source, count in self.currency_guesses.items():
            self.warnings.append(f"{count} line(s) have no КодВалюты; currency taken from {source}")
        if self.foreign:
            ours = ", ".join(self.our_accounts) or "none given"
            self.warnings.append(f"{len(self.foreign)} document(s) name none of our accounts ({ours}) "
                                 f"as payer or payee; emitted without account: {'; '.join(self.foreign[:10])}")
        if self.internal:
            self.warnings.append(f"{len(self.internal)} document(s) move money between two of our accounts; one line each side: "
                                 f"{'; '.join(self.internal[:10])}")

    def _summary(self, section: AccountSection) -> StatementSummary:
        fields = section.fields
        written = clean(fields.get("РасчСчет"))
        # The section may write our account as the old number where the header has the IBAN.
        account = next((ours for ours in self.our_accounts if same_account(ours, written)), written)
        lines = [record for record in self.records if account and record.account == account]
        opening, closing = _amount(fields.get("НачальныйОстаток")), _amount(fields.get("КонечныйОстаток"))
        self._check_totals(account, fields, lines, opening, closing)
        currencies = {record.currency for record in lines}
        currency = currencies.pop() if len(currencies) == 1 else _currency_from_account(account) or self.default_currency
        header = self.exchange.header
        return StatementSummary(
            account=account,
            currency=currency,
            statement_id=None,
            sequence=None,
            opening_balance=_text_amount(opening) if opening is not None else clean(fields.get("НачальныйОстаток")),
            opening_date=parse_date(clean(fields.get("ДатаНачала")) or clean(header.get("ДатаНачала"))),
            closing_balance=_text_amount(closing) if closing is not None else clean(fields.get("КонечныйОстаток")),
            closing_date=parse_date(clean(fields.get("ДатаКонца")) or clean(header.get("ДатаКонца"))),
            line_ids=tuple(record.line_id for record in lines),
        )

    def _check_totals(self, account: str | None, fields: dict[str, str], lines: list[NormalizedRecord],
                      opening: Decimal | None, closing: Decimal | None) -> None:
        """ВсегоПоступило/ВсегоСписано against the documents (a trimmed export disagrees), and the
        section's own arithmetic (opening + in - out = closing)."""
        credited, debited = _amount(fields.get("ВсегоПоступило")), _amount(fields.get("ВсегоСписано"))
        values = [_amount(record.amount) for record in lines]
        if any(value is None for value in values):
            return
        credits = sum((v for v in values if v is not None and v > 0), Decimal("0.00"))
        debits = -sum((v for v in values if v is not None and v < 0), Decimal("0.00"))
        for label, stated, found in (("ВсегоПоступило", credited, credits), ("ВсегоСписано", debited, debits)):
            if stated is not None and stated != found:
                self.warnings.append(f"account {account}: {label}={_text_amount(stated)} but its documents total "
                                     f"{_text_amount(found)} (the export may be trimmed)")
        if None not in (opening, credited, debited, closing) and opening + credited - debited != closing:
            self.warnings.append(f"account {account}: НачальныйОстаток + ВсегоПоступило - ВсегоСписано != КонечныйОстаток")


def _currency_from_account(account: str | None) -> str | None:
    """The currency of a 20-digit Russian-numbered account: digits 6-8 (40702 810 ...; 810 = rouble)."""
    compact = _compact_account(account)
    if len(compact) == 20 and compact.isdigit():
        code = compact[5:8]
        known = ISO4217_NUMERIC.get("643" if code == "810" else code)
        return known[0] if known else None
    return None


def _unique(accounts: list[str]) -> list[str]:
    """Our accounts once each (the header and a section may write one as IBAN and as number)."""
    seen: list[str] = []
    for account in accounts:
        account = clean(account) or ""
        if account and not any(same_account(known, account) for known in seen):
            seen.append(account)
    return seen
