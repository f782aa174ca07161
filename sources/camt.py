"""ISO 20022 bank-to-customer cash management messages: camt.052, camt.053 and camt.054.

Format (../shared/fixtures/FORMATS.md §2; ISO 20022 message definitions, versions .001.01 to .001.08):

    Document / BkToCstmrAcctRpt        (camt.052, "BankToCustomerAccountReport")     / Rpt
    Document / BkToCstmrStmt           (camt.053, "BankToCustomerStatement")         / Stmt
    Document / BkToCstmrDbtCdtNtfctn   (camt.054, "BankToCustomerDebitCreditNotification") / Ntfctn

Version .01 names the message elements with a `V01` suffix (`BkToCstmrStmtV01`). Each statement
(Stmt/Rpt/Ntfctn) carries `Id`, `ElctrncSeqNb`/`LglSeqNb`, `Acct` and `Bal` (balances), then the
entries `Ntry`. An entry ("ReportEntry") has `Amt@Ccy` (always positive), `CdtDbtInd` (CRDT/DBIT,
the sign), `RvslInd`, `Sts` (BOOK/PDNG/INFO; v8+ `Sts/Cd`), `BookgDt`/`ValDt` (`Dt` or `DtTm`),
`AcctSvcrRef`, `NtryRef`, `BkTxCd`, `AddtlNtryInf`, and its transaction details
`NtryDtls/TxDtls` (v1: `Ntry/TxDtls`), each with `Refs`, `Amt`/`AmtDtls`, `RltdPties`, `RmtInf`.

Only booked entries become bank lines. A batched entry (`NtryDtls/Btch`, several `TxDtls`) gives
one record per transaction detail when every detail carries its own amount in the entry currency;
otherwise one record for the entry.

The file is streamed with `lxml.etree.iterparse` and every entry is cleared once read, so memory
for the XML stays flat whatever the file size; child lookups are direct paths, never `.//`.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from lxml import etree

from sources.errors import MalformedFile
from sources.fast_common import Occurrences
from sources.parsing import clean, parse_date
from sources.records import NormalizedRecord, ParseResult, RecordStream, StatementSummary, make_line_id

#: Message element (Document's child) -> message name. Version .01 appends "V01".
MESSAGE_ELEMENTS = {
    "BkToCstmrAcctRpt": "camt.052",
    "BkToCstmrStmt": "camt.053",
    "BkToCstmrDbtCdtNtfctn": "camt.054",
}
#: The statement-level element of each message: AccountReport, AccountStatement, AccountNotification.
STATEMENT_ELEMENTS = ("Rpt", "Stmt", "Ntfctn")
#: Statements that carry balances worth a StatementSummary (a camt.054 notification has none).
BALANCED_STATEMENTS = ("Rpt", "Stmt")

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.(\d{2})$")
#: Versions the reader was checked against; newer ones are read the same way, with a warning.
CHECKED_VERSIONS = range(1, 9)

_HEAD_MARKER = re.compile(
    rb"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.|<(?:[\w.-]+:)?BkToCstmr(?:Stmt|AcctRpt|DbtCdtNtfctn)(?:V\d\d)?[\s>/]"
)

BOOKED = "BOOK"
CREDIT, DEBIT = "CRDT", "DBIT"
NOT_PROVIDED = "NOTPROVIDED"
#: RemittanceInformation/Ustrd is Max140Text: a part this long was cut by length, not by meaning.
USTRD_MAX_LENGTH = 140
#: xs:decimal as ActiveOrHistoricCurrencyAndAmount allows it (no sign, no exponent).
_DECIMAL = re.compile(r"^\+?(?:\d+(?:\.\d*)?|\.\d+)$")
#: Balance types (BalanceType12Code): opening booked, previously closed booked, closing booked.
OPENING_BALANCES = ("OPBD", "PRCD")
CLOSING_BALANCE = "CLBD"
EXAMPLES_PER_WARNING = 3


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    """The namespace of a '{ns}name' tag (by hand: lxml's QName rejects odd namespace text)."""
    return tag[1 : tag.index("}")] if tag.startswith("{") else ""


def _decimal(text: str | None) -> Decimal | None:
    """An ISO 20022 amount as Decimal, or None when it is not one."""
    if text is None:
        return None
    text = text.strip()
    return Decimal(text) if _DECIMAL.match(text) else None


def _identity_amount(amount: Decimal) -> str:
    """The amount as it takes part in a line id: 8.85 and 8.850 are the same money."""
    return format(amount.normalize(), "f")


def _text(element: etree._Element | None) -> str | None:
    """An element's text, stripped, inner whitespace runs as one space; None when empty or absent."""
    if element is None:
        return None
    return text_value(element.text)


def text_value(text: str | None) -> str | None:
    """What _text makes of an element's text (shared with the fast reader)."""
    if not text:
        return None
    text = text.strip()
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def _first_child_text(element: etree._Element | None) -> str | None:
    """The text of a choice element's one child (`Sts/Cd`, `Rsn/Cd` or `Rsn/Prtry`)."""
    if element is not None:
        for child in element:
            if child.tag.__class__ is str:
                return clean(child.text)
    return None


def _shared(text: str | None) -> str | None:
    """One string object for values that repeat on every line (currency, dates, codes): a
    200k-line statement then holds each once instead of 200k copies."""
    return sys.intern(text) if text is not None else None


def _currency(amount: etree._Element | None) -> str | None:
    if amount is None:
        return None
    return _shared((amount.get("Ccy") or "").strip().upper() or None)


def _iso_date(text: str | None) -> str | None:
    """An ISODate or the date part of an ISODateTime, as written (the bank's local date)."""
    text = clean(text)
    if text is None:
        return None
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            return text  # left raw: the data contract quarantines the line
    return parse_date(text)


def _choice_date(element: etree._Element | None) -> str | None:
    """DateAndDateTimeChoice (`BookgDt`, `ValDt`, `Bal/Dt`): its one child, `Dt` or `DtTm`."""
    if element is None:
        return None
    for child in element:
        if child.tag.__class__ is str:
            return _shared(_iso_date(child.text))
    return None


class _Names:
    """Qualified child paths for one message namespace ('RltdPties/Dbtr/Nm' -> '{ns}RltdPties/...')."""

    def __init__(self, namespace: str):
        self.prefix = f"{{{namespace}}}" if namespace else ""
        self._paths: dict[str, str] = {}
        self.id_tag = self("Id")

    def __call__(self, path: str) -> str:
        qualified = self._paths.get(path)
        if qualified is None:
            qualified = "/".join(self.prefix + step for step in path.split("/"))
            self._paths[path] = qualified
        return qualified


@dataclass(slots=True)
class Party:
    """PartyIdentification (v8: Party40Choice `Pty` or `Agt`) with its account (`DbtrAcct`/`CdtrAcct`)."""

    name: str | None = None
    account: str | None = None
    tax_id: str | None = None


@dataclass(slots=True)
class TransactionDetails:
    """EntryTransaction (`TxDtls`): one payment inside an entry."""

    index: int
    line: int | None
    end_to_end_id: str | None = None
    acct_svcr_ref: str | None = None
    tx_id: str | None = None
    instr_id: str | None = None
    pmt_inf_id: str | None = None
    mandate_id: str | None = None
    uetr: str | None = None
    credit_debit: str | None = None
    #: The amount in the entry's currency (TxAmt, else Amt, else InstdAmt), when there is one.
    split_amount: Decimal | None = None
    tx_amount: str | None = None
    instructed_amount: str | None = None
    debtor: Party | None = None
    creditor: Party | None = None
    ultimate_debtor: str | None = None
    ultimate_creditor: str | None = None
    remittance: str | None = None
    creditor_reference: str | None = None
    bank_tx_code: str | None = None
    bank_tx_code_proprietary: str | None = None
    return_reason: str | None = None
    charges: str | None = None


@dataclass(slots=True)
class Entry:
    """ReportEntry (`Ntry`)."""

    line: int | None
    amount_text: str | None
    amount: Decimal | None
    currency: str | None
    credit_debit: str | None
    reversal: bool
    status: str | None
    booking_date: str | None
    value_date: str | None
    acct_svcr_ref: str | None
    entry_ref: str | None
    bank_tx_code: str | None
    bank_tx_code_proprietary: str | None
    additional_info: str | None
    charges: str | None
    batch_size: int | None
    details: list[TransactionDetails] = field(default_factory=list)
    #: The entry amount signed from our side (as emitted for an unsplit entry).
    signed_amount: str | None = None

    def where(self) -> str:
        return f"line {self.line}" + (f" ({self.acct_svcr_ref})" if self.acct_svcr_ref else "")


@dataclass
class Balance:
    """CashBalance (`Bal`): type code, signed amount, currency, date."""

    code: str | None
    amount: str | None
    currency: str | None
    date: str | None


@dataclass
class Statement:
    """AccountStatement / AccountReport / AccountNotification: the context of its entries."""

    element: etree._Element | None
    kind: str
    message: str | None
    reader: _EntryReader | None = None
    statement_id: str | None = None
    sequence: str | None = None
    account: str | None = None
    account_currency: str | None = None
    header_read: bool = False
    balances: list[Balance] = field(default_factory=list)
    line_ids: list[str] = field(default_factory=list)
    first_currency: str | None = None
    #: the index its StatementSummary will have (statements with balances only), else -1
    index: int = -1


class _Warnings:
    """Warnings grouped by kind with a count and a few examples, so a 200k-entry file stays readable."""

    def __init__(self) -> None:
        self._kinds: dict[str, list[Any]] = {}

    def add(self, kind: str, example: str | None = None, count: int = 1) -> None:
        slot = self._kinds.setdefault(kind, [0, []])
        slot[0] += count
        if example and len(slot[1]) < EXAMPLES_PER_WARNING:
            slot[1].append(example)

    def lines(self) -> list[str]:
        out = []
        for kind, (count, examples) in self._kinds.items():
            more = f" (e.g. {'; '.join(examples)})" if examples else ""
            out.append(f"{kind}: {count}{more}")
        return out


def _join_unstructured(parts: list[str]) -> str | None:
    """RmtInf/Ustrd parts as one text.

    Banks cut long purposes into 140-character Ustrd elements, often mid-word: a part of full
    length continues in the next one and is joined as is; shorter parts are joined with a space.
    """
    text = ""
    for number, part in enumerate(parts):
        if number and len(parts[number - 1]) < USTRD_MAX_LENGTH:
            text += " "
        text += part
    return clean(text)


class _EntryReader:
    """Reads one `Ntry` element (and its `TxDtls`) into an Entry.

    Each element's children are looked up once into a dict by local name (`kids`), which is
    several times faster than one `find()` per optional element, most of which miss.
    """

    def __init__(self, names: _Names):
        self.q = names
        self._cut = len(names.prefix)

    def kids(self, element: etree._Element | None) -> dict[str, etree._Element]:
        """The element's children by local name (the first of each name)."""
        found: dict[str, etree._Element] = {}
        if element is None:
            return found
        cut = self._cut
        for child in element:
            tag = child.tag
            if tag.__class__ is str:  # not a comment, PI or entity
                name = tag[cut:]
                if name not in found:
                    found[name] = child
        return found

    def entry(self, element: etree._Element) -> Entry:
        k = self.kids(element)
        amount = k.get("Amt")
        amount_text = amount.text if amount is not None else None
        status_element = k.get("Sts")
        status = None
        if status_element is not None:
            # v2-v7: <Sts>BOOK</Sts>; v8+: <Sts><Cd>BOOK</Cd></Sts> (or <Prtry>).
            status = clean(status_element.text) or _first_child_text(status_element)
        tx_elements, batch = self._details(k)
        batch_size = _text(batch.find(self.q("NbOfTxs"))) if batch is not None else None
        code, proprietary = self._bank_tx_code(k.get("BkTxCd"))
        entry = Entry(
            line=element.sourceline,
            amount_text=amount_text,
            amount=_decimal(amount_text),
            currency=_currency(amount),
            credit_debit=_shared(_text(k.get("CdtDbtInd"))),
            reversal=(_text(k.get("RvslInd")) or "").lower() in ("true", "1"),
            status=status.upper() if status else None,
            booking_date=_choice_date(k.get("BookgDt")),
            value_date=_choice_date(k.get("ValDt")),
            acct_svcr_ref=_text(k.get("AcctSvcrRef")),
            entry_ref=_text(k.get("NtryRef")),
            bank_tx_code=code,
            bank_tx_code_proprietary=proprietary,
            additional_info=_text(k.get("AddtlNtryInf")),
            charges=self._charges(k.get("Chrgs")),
            batch_size=int(batch_size) if batch_size and batch_size.isascii() and batch_size.isdigit() else None,
        )
        if entry.status == BOOKED:
            entry.details = [
                self.transaction(tx, index, entry.currency) for index, tx in enumerate(tx_elements)
            ]
        return entry

    def _details(self, k: dict[str, etree._Element]) -> tuple[list[etree._Element], etree._Element | None]:
        """The TxDtls and the Btch of an entry: Ntry/NtryDtls/{Btch,TxDtls}, NtryDtls repeating
        (one per batch); v1 puts both directly in Ntry."""
        tx_tag, batch_tag, details_tag = self.q("TxDtls"), self.q("Btch"), self.q("NtryDtls")
        if "NtryDtls" not in k:
            first = k.get("TxDtls")
            return (first.getparent().findall(tx_tag) if first is not None else []), k.get("Btch")
        found: list[etree._Element] = []
        batch = None
        details = k["NtryDtls"]
        while details is not None and details.tag == details_tag:
            for child in details:
                if child.tag == tx_tag:
                    found.append(child)
                elif child.tag == batch_tag and batch is None:
                    batch = child
            details = details.getnext()
        return found, batch

    def transaction(self, element: etree._Element, index: int, entry_currency: str | None) -> TransactionDetails:
        k = self.kids(element)
        tx = TransactionDetails(index=index, line=element.sourceline)
        refs = k.get("Refs")
        if refs is not None:
            r = self.kids(refs)
            end_to_end = _text(r.get("EndToEndId"))
            tx.end_to_end_id = None if end_to_end is None or end_to_end.upper() == NOT_PROVIDED else end_to_end
            tx.acct_svcr_ref = _text(r.get("AcctSvcrRef"))
            tx.tx_id = _text(r.get("TxId"))
            tx.instr_id = _text(r.get("InstrId"))
            tx.pmt_inf_id = _text(r.get("PmtInfId"))
            tx.mandate_id = _text(r.get("MndtId"))
            tx.uetr = _text(r.get("UETR"))
        tx.credit_debit = _shared(_text(k.get("CdtDbtInd")))
        self._amounts(k, tx, entry_currency)
        parties = k.get("RltdPties")
        if parties is not None:
            p = self.kids(parties)
            tx.debtor = self._party(p.get("Dbtr"), p.get("DbtrAcct"))
            tx.creditor = self._party(p.get("Cdtr"), p.get("CdtrAcct"))
            tx.ultimate_debtor = self._party_name(p.get("UltmtDbtr"))
            tx.ultimate_creditor = self._party_name(p.get("UltmtCdtr"))
        self._remittance(k, tx)
        if "BkTxCd" in k:
            tx.bank_tx_code, tx.bank_tx_code_proprietary = self._bank_tx_code(k["BkTxCd"])
        if "RtrInf" in k:
            reason = k["RtrInf"].find(self.q("Rsn"))
            tx.return_reason = _first_child_text(reason)
        if "Chrgs" in k:
            tx.charges = self._charges(k["Chrgs"])
        return tx

    def _amounts(self, k: dict[str, etree._Element], tx: TransactionDetails, entry_currency: str | None) -> None:
        """The split amount: AmtDtls/TxAmt, else TxDtls/Amt, else AmtDtls/InstdAmt, in the entry currency."""
        details = self.kids(k.get("AmtDtls"))
        amount_tag = self.q("Amt")
        candidates = (
            ("TxAmt", details["TxAmt"].find(amount_tag) if "TxAmt" in details else None),
            ("Amt", k.get("Amt")),
            ("InstdAmt", details["InstdAmt"].find(amount_tag) if "InstdAmt" in details else None),
        )
        for kind, amount in candidates:
            if amount is None:
                continue
            currency = _currency(amount)
            shown = f"{_text(amount) or ''} {currency or ''}".strip()
            if kind == "InstdAmt":
                tx.instructed_amount = shown
            elif tx.tx_amount is None:
                tx.tx_amount = shown
            if tx.split_amount is None and entry_currency and currency == entry_currency:
                tx.split_amount = _decimal(amount.text)

    def _party(self, element: etree._Element | None, account: etree._Element | None) -> Party | None:
        """Dbtr/Cdtr (v8: `Pty` or `Agt`) with its DbtrAcct/CdtrAcct; the tax id from Id/OrgId or PrvtId."""
        if element is None and account is None:
            return None
        party = Party()
        if element is not None:
            k = self.kids(element)
            if "Pty" in k:  # v8: Party40Choice
                k = self.kids(k["Pty"])
            if "Nm" in k:
                party.name = _text(k["Nm"])
            elif "Agt" in k:
                party.name = _text(k["Agt"].find(self.q("FinInstnId/Nm")))
            identification = k.get("Id")
            if identification is not None:
                for scheme in identification:  # OrgId or PrvtId
                    if scheme.tag.__class__ is not str:
                        continue
                    party.tax_id = _text(scheme.find(self.q("Othr/Id")))
                    if party.tax_id:
                        break
        if account is not None:
            party.account = self.account_id(account)
        return party

    def _party_name(self, element: etree._Element | None) -> str | None:
        """`Nm`, v8 `Pty/Nm`, or for a financial institution v8 `Agt/FinInstnId/Nm`."""
        if element is None:
            return None
        name = element.find(self.q("Nm"))
        if name is None:
            name = element.find(self.q("Pty/Nm"))
        if name is None:
            name = element.find(self.q("Agt/FinInstnId/Nm"))
        return _text(name)

    def account_id(self, account: etree._Element) -> str | None:
        """CashAccount `Id`: IBAN, else Othr/Id (v1: PrtryAcct/Id, BBAN)."""
        identification = account[0] if len(account) else None  # Id comes first in CashAccount
        if identification is None or identification.tag != self.q.id_tag:
            identification = account.find(self.q.id_tag)
        if identification is None:
            return None
        for choice in identification:  # AccountIdentification is a choice: one child
            name = choice.tag[self._cut:] if choice.tag.__class__ is str else None
            if name in ("IBAN", "BBAN"):
                return _text(choice)
            if name in ("Othr", "PrtryAcct"):
                return _text(choice.find(self.q("Id")))
        return None

    def _remittance(self, k: dict[str, etree._Element], tx: TransactionDetails) -> None:
        """RmtInf/Ustrd (joined), else Strd/CdtrRefInf/Ref with Strd/AddtlRmtInf, else AddtlTxInf."""
        unstructured_parts: list[str] = []
        references: list[str] = []
        structured_text: list[str] = []
        info = k.get("RmtInf")
        if info is not None:
            cut = self._cut
            for child in info:
                tag = child.tag
                if tag.__class__ is not str:
                    continue
                name = tag[cut:]
                if name == "Ustrd":
                    unstructured_parts.append(child.text or "")
                elif name == "Strd":
                    s = self.kids(child)
                    reference = _text(s["CdtrRefInf"].find(self.q("Ref"))) if "CdtrRefInf" in s else None
                    if reference:
                        references.append(reference)
                    for additional in child.iterchildren(self.q("AddtlRmtInf")):
                        if _text(additional):
                            structured_text.append(_text(additional))
        tx.creditor_reference = " ".join(references) or None
        tx.remittance = (
            _join_unstructured(unstructured_parts)
            or clean(" ".join(references + structured_text))
            or _text(k.get("AddtlTxInf"))
        )

    def _bank_tx_code(self, element: etree._Element | None) -> tuple[str | None, str | None]:
        """BkTxCd as 'Domn/Fmly/SubFmly' (e.g. PMNT/RCDT/DMCT) and its proprietary code (e.g. NMSC+051)."""
        if element is None:
            return None, None
        k = self.kids(element)
        domain = None
        if "Domn" in k:
            # Domn's leaves in document order are exactly Cd, Fmly/Cd, Fmly/SubFmlyCd.
            leaves = (clean(leaf.text) for leaf in k["Domn"].iter() if not len(leaf))
            domain = _shared("/".join(filter(None, leaves)) or None)
        proprietary = _shared(_text(k["Prtry"].find(self.q("Cd")))) if "Prtry" in k else None
        return domain, proprietary

    def _charges(self, element: etree._Element | None) -> str | None:
        """Chrgs/TtlChrgsAndTaxAmt (v3+), else the first Chrgs/Rcrd/Amt (v2: Chrgs/Amt)."""
        if element is None:
            return None
        for path in ("TtlChrgsAndTaxAmt", "Rcrd/Amt", "Amt"):
            amount = element.find(self.q(path))
            if amount is not None:
                return f"{_text(amount) or ''} {_currency(amount) or ''}".strip() or None
        return None


@dataclass(slots=True)
class _Line:
    """One bank line to emit from an entry: its amount and the transaction it stands for."""

    amount: str | None
    identity_amount: str | None
    credit_debit: str | None
    details: TransactionDetails | None
    index: int | None
    tx_count: int


class CamtSource:
    """camt.052 / camt.053 / camt.054, versions .001.01 to .001.08 (newer read the same way)."""

    name = "camt"

    def __init__(self, reversal_flips_sign: bool = True):
        # RvslInd=true: German banks (DK) keep the original CdtDbtInd on a reversal entry, so
        # the booking goes the other way (OCA/bank-statement-import#375). ISO's usage note reads
        # CdtDbtInd as the reversal's own direction; a bank that follows it needs False here.
        self.reversal_flips_sign = reversal_flips_sign

    def identify(self, path: Path, head: bytes) -> bool:
        text = head.replace(b"\x00", b"")  # UTF-16 files: the ASCII markers survive without NULs
        if not text.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").startswith(b"<"):
            return False
        return _HEAD_MARKER.search(text) is not None

    def parse(self, path: Path) -> ParseResult:
        reader = _CamtReader(self, path)
        records = list(reader.records())
        return ParseResult(
            records=records,
            transactions_found=len(records) + reader.skipped_entries,
            warnings=reader.warnings.lines(),
            statements=reader.statements,
        )

    def iter_records(self, path: Path) -> Iterator[NormalizedRecord]:
        """The records one at a time, for callers that must not hold a large file's lines in memory."""
        return _CamtReader(self, path).records()

    def stream(self, path: Path, batch_size: int = 50_000) -> RecordStream:
        """The records in columnar batches, through the fast reader (sources/fast_camt.py), which
        gives exactly what parse() gives and falls back to this reader for what it does not know."""
        from sources.fast_camt import CamtStream

        return CamtStream(self, path, batch_size)


class _CamtReader:
    """One pass over one file: statement context, entries, warnings and summaries."""

    WATCHED = tuple("{*}" + tag for tag in (*STATEMENT_ELEMENTS, "Acct", "Bal", "Ntry"))

    def __init__(self, source: CamtSource, path: Path, keep_line_ids: bool = True):
        self.source = source
        self.path = path
        self.name = source.name
        #: False when streaming: a statement's line ids are not collected (the records carry its index)
        self.keep_line_ids = keep_line_ids
        self.warnings = _Warnings()
        self.statements: list[StatementSummary] = []
        self.balanced_statements = 0
        self.skipped_entries = 0
        self.skipped_by_status: Counter[str] = Counter()
        #: occurrences of each line identity, by the first line id it gets (see _record)
        self.seen = Occurrences()
        self.statement: Statement | None = None
        self.statement_count = 0
        self.readers: dict[str, _EntryReader] = {}

    # -- the streaming loop -------------------------------------------------------------------

    def records(self) -> Iterator[NormalizedRecord]:
        events = etree.iterparse(
            str(self.path),
            events=("start", "end"),
            tag=self.WATCHED,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            for event, element in events:
                yield from self.handle(event, element)
            root = events.root
        except etree.LxmlError as error:
            raise MalformedFile(self._syntax_message(error)) from None
        self.finish(root)

    def handle(self, event: str, element: etree._Element) -> Iterator[NormalizedRecord]:
        """One parser event: a statement opens or closes, its account or a balance is complete, or
        an entry is complete (its records)."""
        local = _local(element.tag)
        if event == "start":
            if local in STATEMENT_ELEMENTS and self._is_statement(element):
                self._open_statement(element, local)
            return
        if local == "Ntry":
            yield from self._entry(element)
        elif local == "Acct":
            if self._belongs_to_statement(element):
                self._read_header(self.statement)
        elif local == "Bal":
            if self._belongs_to_statement(element):
                self._read_balance(element)
        elif self.statement is not None and element is self.statement.element:
            self._close_statement(element)

    def finish(self, root: etree._Element | None) -> None:
        """After the last event: a file without statements is refused; the summary warnings."""
        self._check_message(root)
        self._finish_warnings()

    def _syntax_message(self, error: etree.LxmlError) -> str:
        position = getattr(error, "position", None) or (getattr(error, "lineno", None), None)
        line, column = position
        where = f" at line {line}" + (f", column {column}" if column else "") if line else ""
        reason = " ".join(str(getattr(error, "msg", None) or error).split())
        return (
            f"{self.path.name}: not well-formed XML{where} ({reason}); "
            "the file is damaged or cut short, ask the bank to send it again"
        )

    def _check_message(self, root: etree._Element | None) -> None:
        if self.statement_count:
            return
        message = None
        if root is not None:
            first = next((child for child in root if isinstance(child.tag, str)), None)
            message = _local(first.tag) if first is not None else None
        kind = MESSAGE_ELEMENTS.get((message or "").removesuffix("V01"))
        if kind is None:
            found = _local(root.tag) if root is not None else "nothing"
            raise MalformedFile(
                f"{self.path.name}: not a camt.052/053/054 message (root {found!r}, "
                f"first element {message!r}); expected BkToCstmrStmt, BkToCstmrAcctRpt or BkToCstmrDbtCdtNtfctn"
            )
        expected = STATEMENT_ELEMENTS[list(MESSAGE_ELEMENTS.values()).index(kind)]
        raise MalformedFile(
            f"{self.path.name}: the {kind} message {message} holds no {expected} element, so there is "
            f"nothing to import (the standard requires at least one); ask the bank to send it again"
        )

    # -- statements ---------------------------------------------------------------------------

    def _is_statement(self, element: etree._Element) -> bool:
        parent = element.getparent()
        return parent is not None and _local(parent.tag).startswith("BkToCstmr")

    def _belongs_to_statement(self, element: etree._Element) -> bool:
        return self.statement is not None and element.getparent() is self.statement.element

    def _open_statement(self, element: etree._Element, kind: str) -> None:
        self.statement_count += 1
        namespace = _namespace(element.tag)
        message_element = _local(element.getparent().tag)
        match = NAMESPACE.match(namespace)
        if match:
            message = f"{match.group(1)}.001.{match.group(2)}"
            if int(match.group(2)) not in CHECKED_VERSIONS:
                self.warnings.add(
                    f"{message} is newer than the versions this reader was checked against (.01-.08); check the lines",
                )
        else:
            message = MESSAGE_ELEMENTS.get(message_element.removesuffix("V01"))
            self.warnings.add(
                f"{message_element} without an ISO 20022 camt namespace (found {namespace or 'none'}); read as {message}"
            )
        self.statement = Statement(element=element, kind=kind, message=message, reader=self._reader_for(element))
        if kind in BALANCED_STATEMENTS:
            self.statement.index = self.balanced_statements
            self.balanced_statements += 1

    def _read_header(self, statement: Statement | None) -> None:
        """Statement Id, ElctrncSeqNb/LglSeqNb and Acct (Id/IBAN or Othr/Id, Ccy): they precede the entries."""
        if statement is None or statement.element is None:
            return
        element = statement.element
        reader = statement.reader or self._reader_for(element)
        q = reader.q
        statement.statement_id = clean(element.findtext(q("Id")))
        statement.sequence = clean(element.findtext(q("ElctrncSeqNb")) or element.findtext(q("LglSeqNb")))
        account = element.find(q("Acct"))
        if account is not None:
            statement.account = reader.account_id(account)
            statement.account_currency = (clean(account.findtext(q("Ccy"))) or "").upper() or None
        statement.header_read = True

    def _read_balance(self, element: etree._Element) -> None:
        statement = self.statement
        q = statement.reader.q
        code = clean(element.findtext(q("Tp/CdOrPrtry/Cd")) or element.findtext(q("Tp/Cd")))
        if code not in (*OPENING_BALANCES, CLOSING_BALANCE):
            return
        amount_element = element.find(q("Amt"))
        text = amount_element.text if amount_element is not None else None
        currency = (amount_element.get("Ccy") or "").upper() or None if amount_element is not None else None
        value = _decimal(text)
        indicator = clean(element.findtext(q("CdtDbtInd")))
        if value is None or indicator not in (CREDIT, DEBIT):
            amount = clean(text)
            self.warnings.add(
                "balances whose amount or CdtDbtInd cannot be read (kept as written)",
                f"{code} line {element.sourceline}",
            )
        else:
            amount = format(-value if indicator == DEBIT and value else value, "f")
        statement.balances.append(Balance(code, amount, currency, _choice_date(element.find(q("Dt")))))

    def _close_statement(self, element: etree._Element) -> None:
        statement = self.statement
        if not statement.header_read:
            self._read_header(statement)
        if statement.kind in BALANCED_STATEMENTS:
            self.statements.append(self._summary(statement))
        self.statement = None
        self._release(element)

    def _summary(self, statement: Statement) -> StatementSummary:
        by_code = {b.code: b for b in reversed(statement.balances)}  # first of each type wins
        opening = by_code.get("OPBD") or by_code.get("PRCD")
        closing = by_code.get(CLOSING_BALANCE)
        currency = (
            statement.account_currency
            or (opening.currency if opening else None)
            or (closing.currency if closing else None)
            or statement.first_currency
        )
        for balance in (opening, closing):
            if balance and balance.currency and currency and balance.currency != currency:
                self.warnings.add(
                    "statement balances in another currency than the account (kept as written; the balance check will flag them)",
                    f"{statement.statement_id} {balance.code} in {balance.currency}, account in {currency}",
                )
        return StatementSummary(
            account=statement.account,
            currency=currency,
            statement_id=statement.statement_id,
            sequence=statement.sequence,
            opening_balance=opening.amount if opening else None,
            opening_date=opening.date if opening else None,
            closing_balance=closing.amount if closing else None,
            closing_date=closing.date if closing else None,
            line_ids=tuple(statement.line_ids),
        )

    @staticmethod
    def _release(element: etree._Element) -> None:
        """Free what was read: the element's content and the siblings before it."""
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]

    # -- entries ------------------------------------------------------------------------------

    def _reader_for(self, element: etree._Element) -> _EntryReader:
        namespace = _namespace(element.tag)
        reader = self.readers.get(namespace)
        if reader is None:
            reader = self.readers[namespace] = _EntryReader(_Names(namespace))
        return reader

    def _entry(self, element: etree._Element) -> Iterator[NormalizedRecord]:
        statement = self.statement
        if statement is None:
            self.warnings.add("entries (Ntry) outside any Stmt/Rpt/Ntfctn, read without account", f"line {element.sourceline}")
            statement = Statement(element=None, kind="?", message=None, header_read=True)
        elif not statement.header_read:
            self._read_header(statement)
        entry = (statement.reader or self._reader_for(element)).entry(element)
        self._release(element)
        if entry.status != BOOKED:
            self.skipped_entries += 1
            self.skipped_by_status[entry.status or "no Sts"] += 1
            return
        if statement.first_currency is None:
            statement.first_currency = entry.currency
        for line in self._lines(entry):
            record = self._record(statement, entry, line)
            if self.keep_line_ids:
                statement.line_ids.append(record.line_id)
            yield record

    def _signed(self, amount: Decimal, credit_debit: str | None, reversal: bool) -> Decimal | None:
        """Signed from our side: CRDT is money in; RvslInd=true turns it around (see __init__)."""
        if credit_debit not in (CREDIT, DEBIT):
            return None
        outgoing = (credit_debit == DEBIT) != (reversal and self.source.reversal_flips_sign)
        return -amount if outgoing and amount else amount

    def _entry_amount(self, entry: Entry) -> tuple[str | None, str | None]:
        """(amount as emitted, amount as identity) of the whole entry."""
        if entry.amount is None:
            self.warnings.add("entries whose Amt is not a number (kept as written for review)", entry.where())
            raw = clean(entry.amount_text)
            return raw, raw
        signed = self._signed(entry.amount, entry.credit_debit, entry.reversal)
        if signed is None:
            self.warnings.add(
                "entries whose CdtDbtInd is neither CRDT nor DBIT (amount left empty for review)",
                f"{entry.where()}: {entry.credit_debit!r}",
            )
            return None, f"?{entry.amount_text}"
        return format(signed, "f"), _identity_amount(signed)

    def _lines(self, entry: Entry) -> list[_Line]:
        details = entry.details
        if entry.batch_size is not None and entry.batch_size != len(details):
            self.warnings.add(
                "batches whose NbOfTxs differs from the TxDtls given (lines follow the TxDtls)",
                f"{entry.where()}: NbOfTxs {entry.batch_size}, TxDtls {len(details)}",
            )
        if entry.booking_date is None:
            self.warnings.add("booked entries without a booking date (BookgDt)", entry.where())
        amount, identity = self._entry_amount(entry)
        entry.signed_amount = amount
        if len(details) <= 1:
            only = details[0] if details else None
            return [_Line(amount, identity, entry.credit_debit, only, 0 if only else None, len(details))]
        split = self._split(entry)
        if split is None:
            return [_Line(amount, identity, entry.credit_debit, _merge(details), None, len(details))]
        return split

    def _split(self, entry: Entry) -> list[_Line] | None:
        """One line per TxDtls from its own amount; None (with a warning) when the amounts are missing."""
        details = entry.details
        if any(tx.split_amount is None for tx in details):
            self.warnings.add(
                "batched entries whose TxDtls carry no amount in the entry currency, kept as one line for the entry amount",
                f"{entry.where()}: {len(details)} TxDtls",
            )
            return None
        lines = []
        total = Decimal(0)
        for tx in details:
            indicator = tx.credit_debit if tx.credit_debit in (CREDIT, DEBIT) else entry.credit_debit
            signed = self._signed(tx.split_amount, indicator, entry.reversal)
            if signed is None:
                lines.append(_Line(None, f"?{tx.split_amount}", indicator, tx, tx.index, len(details)))
                continue
            total += signed
            lines.append(_Line(format(signed, "f"), _identity_amount(signed), indicator, tx, tx.index, len(details)))
        entry_signed = (
            self._signed(entry.amount, entry.credit_debit, entry.reversal) if entry.amount is not None else None
        )
        if entry_signed is None or total != entry_signed:
            self.warnings.add(
                "batched entries whose TxDtls amounts do not add up to the entry amount (lines keep the TxDtls amounts)",
                f"{entry.where()}: entry {entry_signed if entry_signed is not None else entry.amount_text}, TxDtls sum {total}",
            )
        return lines

    def _record(self, statement: Statement, entry: Entry, line: _Line) -> NormalizedRecord:
        tx = line.details
        incoming = line.credit_debit == CREDIT  # the original direction decides who the counterparty is
        counterparty = _counterparty(tx, incoming, statement.account)
        bank_ref = (tx.acct_svcr_ref if tx else None) or entry.acct_svcr_ref or entry.entry_ref
        end_to_end = tx.end_to_end_id if tx else None
        identity = (
            statement.account,
            entry.acct_svcr_ref,
            tx.acct_svcr_ref if tx else None,
            end_to_end,
            tx.tx_id if tx else None,
            line.index,
            entry.booking_date,
            line.identity_amount,
            entry.currency,
        )
        # Identical lines inside one file are distinct payments: the second and later ones are
        # numbered, so each keeps its id (the first one's id is the identity alone).
        line_id = make_line_id(self.name, *identity)
        occurrence = self.seen.add(bytes.fromhex(line_id))
        if occurrence > 1:
            line_id = make_line_id(self.name, *identity, occurrence)
        remittance = (tx.remittance if tx else None) or entry.additional_info
        return NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=statement.account,
            booking_date=entry.booking_date,
            value_date=entry.value_date,
            amount=line.amount,
            currency=entry.currency,
            counterparty_name=counterparty.name if counterparty else None,
            counterparty_account=counterparty.account if counterparty else None,
            counterparty_tax_id=counterparty.tax_id if counterparty else None,
            remittance=remittance,
            end_to_end_id=end_to_end,
            bank_ref=bank_ref,
            line_id=line_id,
            extra=_extra(statement, entry, line),
        )

    def _finish_warnings(self) -> None:
        if self.skipped_entries:
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.skipped_by_status.items()))
            self.warnings.add(
                f"entries not booked, skipped (only BOOK entries are bank lines; {statuses})",
                count=self.skipped_entries,
            )


def _merge(details: list[TransactionDetails]) -> TransactionDetails:
    """Several TxDtls without their own amounts, as the one transaction the entry line stands for."""

    def common(values: list[Any]) -> Any:
        return values[0] if values and all(v == values[0] for v in values) else None

    merged = TransactionDetails(index=-1, line=details[0].line)
    merged.end_to_end_id = common([tx.end_to_end_id for tx in details])
    merged.debtor = common([tx.debtor for tx in details])
    merged.creditor = common([tx.creditor for tx in details])
    merged.ultimate_debtor = common([tx.ultimate_debtor for tx in details])
    merged.ultimate_creditor = common([tx.ultimate_creditor for tx in details])
    merged.bank_tx_code = common([tx.bank_tx_code for tx in details])
    merged.bank_tx_code_proprietary = common([tx.bank_tx_code_proprietary for tx in details])
    texts: list[str] = []
    for tx in details:
        if tx.remittance and tx.remittance not in texts:
            texts.append(tx.remittance)
    merged.remittance = " | ".join(texts) or None
    references = [tx.creditor_reference for tx in details if tx.creditor_reference]
    merged.creditor_reference = " ".join(references) or None
    if any(tx.tx_amount for tx in details):
        # Amounts in another currency than the entry: shown for review, not used for the line.
        merged.tx_amount = " | ".join(tx.tx_amount or "?" for tx in details)
    return merged


def _counterparty(tx: TransactionDetails | None, incoming: bool, own_account: str | None) -> Party | None:
    """For a credit the debtor paid us; for a debit we paid the creditor.

    When the chosen side's account is our own (banks that fill both sides, or a reversal written
    the other way) and the other side is someone else, the other side is the counterparty.
    """
    if tx is None:
        return None
    chosen, other = (tx.debtor, tx.creditor) if incoming else (tx.creditor, tx.debtor)
    if chosen is not None and own_account and chosen.account == own_account:
        if other is not None and other.account != own_account and (other.name or other.account):
            return other
    return chosen


def _extra(statement: Statement, entry: Entry, line: _Line) -> dict[str, Any]:
    tx = line.details
    split = line.index is not None and line.tx_count > 1
    values: dict[str, Any] = {
        "message": statement.message,
        "statement_id": statement.statement_id,
        "source_line": tx.line if split else entry.line,
        "entry_ref": entry.entry_ref,
        "entry_bank_ref": entry.acct_svcr_ref,
        "credit_debit": line.credit_debit,
        "reversal": "true" if entry.reversal else None,
        "entry_amount": f"{entry.signed_amount} {entry.currency}" if split else None,
        "tx_index": line.index if split else None,
        "tx_count": line.tx_count if line.tx_count > 1 else None,
        "batch_size": entry.batch_size,
        "bank_tx_code": (tx.bank_tx_code if tx else None) or entry.bank_tx_code,
        "bank_tx_code_proprietary": (tx.bank_tx_code_proprietary if tx else None) or entry.bank_tx_code_proprietary,
        "entry_info": entry.additional_info,
        "charges": (tx.charges if tx else None) or entry.charges,
    }
    if tx is not None:
        values.update(
            tx_id=tx.tx_id,
            instr_id=tx.instr_id,
            pmt_inf_id=tx.pmt_inf_id,
            mandate_id=tx.mandate_id,
            uetr=tx.uetr,
            tx_amount=tx.tx_amount,
            instructed_amount=tx.instructed_amount,
            creditor_reference=tx.creditor_reference,
            ultimate_debtor=tx.ultimate_debtor,
            ultimate_creditor=tx.ultimate_creditor,
            return_reason=tx.return_reason,
        )
    return {key: value for key, value in values.items() if value is not None}
