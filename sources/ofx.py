"""OFX / QFX bank and credit-card statements: OFX 1.x (SGML) and OFX 2.x (XML).

Specification: Open Financial Exchange 1.0.2 / 2.1.1. What this source reads (FORMATS.md §1):

* Headers: the 1.x `KEY:VALUE` header (`CHARSET`, `ENCODING`) or the 2.x `<?xml encoding?>`
  declaration and `<?OFX ...?>` processing instruction.
* Bank statements `STMTTRNRS/STMTRS` (`CURDEF`, `BANKACCTFROM` BANKID/BRANCHID/ACCTID/
  ACCTTYPE, `BANKTRANLIST` DTSTART/DTEND + `STMTTRN`*, `LEDGERBAL` BALAMT/DTASOF) and
  credit-card statements `CCSTMTTRNRS/CCSTMTRS` (`CCACCTFROM`).
* `STMTTRN` (spec 11.4.2.3.1): TRNTYPE, DTPOSTED, DTUSER, DTAVAIL, TRNAMT, FITID,
  CORRECTFITID/CORRECTACTION, SRVRTID, CHECKNUM, REFNUM, NAME | PAYEE/NAME, EXTDNAME,
  BANKACCTTO | CCACCTTO, MEMO, CURRENCY | ORIGCURRENCY (each CURRATE + CURSYM).
* OFX 2.x `BANKTRANLISTP/STMTTRNP` are pending (not booked) transactions: counted, never bank lines.
* Investment statements `INVSTMTRS` are not bank statements: skipped with a warning.

Why a reader of our own, and ofxparse only as a test oracle: ofxparse 0.21 raises on real files
(an empty BALAMT, a STMTTRN without TRNAMT), with `fail_fast=False` drops transactions without a
word, and decodes by the header's CHARSET even when it lies (bb.ofx is UTF-8 under CHARSET:1252).
So this module decodes the bytes itself and reads SGML and XML alike with the small tolerant tag
reader below; the unit tests compare its output with ofxparse on every fixture ofxparse can read.
Independently of the reader, the `<STMTTRN>` tags in the raw text are counted; a file is never
accepted with fewer lines than it holds: every line not kept (a pending entry, an exact duplicate,
an investment statement's cash line) is named in a warning, and a disagreement between the count
and the reader raises MalformedFile.

Mapping to the normalized record: account = ACCTID (a credit-card number is masked to its first six
and last four digits: full card numbers are never stored), booking_date = DTPOSTED, value_date =
DTAVAIL or DTPOSTED, amount = TRNAMT as written (spec 3.2.9: signed from the account holder's
side; TRNTYPE is not trusted for the sign), currency = CURDEF, or CURRENCY/CURSYM when the
transaction carries one (its amounts are then in that currency; ORIGCURRENCY only reports the
original currency, in `extra`), counterparty_name = NAME or PAYEE/NAME, remittance = MEMO (NAME
when there is no MEMO), bank_ref = FITID. Dates `YYYYMMDD[HHMMSS[.XXX]][[+-h:TZ]]` keep the date part as written, which is
the date in the stated offset. LEDGERBAL is the closing balance; OFX carries no opening balance.

FITIDs repeat in real files (Chase, Banco do Brasil), so duplicates are keyed on (account, FITID,
amount, date), never on FITID alone: the exact same key twice is dropped with a warning.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterator

from sources.errors import MalformedFile
from sources.parsing import clean, parse_amount
from sources.records import NormalizedRecord, ParseResult, StatementSummary, make_line_id

# --------------------------------------------------------------------------------------------
# Decoding (1.x header CHARSET/ENCODING; 2.x XML declaration)
# --------------------------------------------------------------------------------------------

_HEADER_CHARSET = re.compile(rb"CHARSET\s*:\s*([A-Za-z0-9_.\-]+)", re.I)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_.\-]+)[\"']", re.I)

#: 1.x CHARSET values and 2.x encodings -> Python codecs; NONE means the 1252 default.
_CHARSET_CODECS = {
    "1252": "cp1252",
    "WINDOWS-1252": "cp1252",
    "NONE": "cp1252",
    "USASCII": "cp1252",
    "US-ASCII": "cp1252",
    "8859-1": "latin-1",
    "ISO-8859-1": "latin-1",
    "ISO8859-1": "latin-1",
    "LATIN1": "latin-1",
    "LATIN-1": "latin-1",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
}


def _declared_charset(data: bytes) -> str | None:
    """The charset the file says it uses: 1.x `CHARSET:` or the XML declaration's encoding."""
    head = data[:4096]
    match = _XML_ENCODING.search(head) or _HEADER_CHARSET.search(head)
    return match.group(1).decode("ascii").upper() if match else None


def _text_codec(name: str | None) -> str | None:
    """A Python text codec for a charset name the table does not know (e.g. ISO-8859-15)."""
    try:
        info = codecs.lookup(name or "")
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_ofx(data: bytes) -> tuple[str, list[str]]:
    """The file as text, and warnings. UTF-8 is tried first because headers lie (bb.ofx)."""
    warnings: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), warnings
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    declared = _declared_charset(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        codec = _CHARSET_CODECS.get(declared or "", "utf-8")
        if codec != "utf-8" and not data.isascii():
            warnings.append(f"the header declares charset {declared} but the text is UTF-8; read as UTF-8")
        return text, warnings
    codec = _CHARSET_CODECS.get(declared or "NONE") or _text_codec(declared)
    if codec is None or codec == "utf-8":
        warnings.append(f"the header declares charset {declared} but the text is not that; read as Windows-1252")
        codec = "cp1252"
    try:
        return data.decode(codec), warnings
    except (UnicodeDecodeError, LookupError):
        # cp1252 leaves five byte values undefined; latin-1 maps every byte.
        warnings.append(f"the text is not valid {codec}; read as ISO-8859-1")
        return data.decode("latin-1"), warnings


# --------------------------------------------------------------------------------------------
# Tolerant tag reader for 1.x SGML and 2.x XML
# --------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"<!--.*?-->"
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<[?!][^<>]*>"
    r"|<(?P<close>/)?(?P<tag>[A-Za-z][\w.:\-]*)(?P<rest>[^<>]*)>",
    re.S,
)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|nbsp|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}

#: Aggregates that hold the statement structure. They are never read as leaves (text in them is
#: stray), and none nests inside itself: opening one while one is open closes the open one first,
#: which is how a missing `</STMTTRN>` is tolerated.
STRUCTURE = frozenset(
    {
        "OFX", "SIGNONMSGSRSV1", "SONRS", "BANKMSGSRSV1", "CREDITCARDMSGSRSV1", "INVSTMTMSGSRSV1",
        "STMTTRNRS", "CCSTMTTRNRS", "INVSTMTTRNRS", "STMTRS", "CCSTMTRS", "INVSTMTRS",
        "BANKACCTFROM", "CCACCTFROM", "BANKTRANLIST", "BANKTRANLISTP", "STMTTRN", "STMTTRNP",
        "LEDGERBAL", "AVAILBAL", "INVTRANLIST", "INVBANKTRAN",
    }
)


def _unescape(text: str) -> str:
    """XML/SGML character entities, applied twice because some banks escape `&` twice."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name[0] != "#":
            return _NAMED_ENTITIES[name]
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code)
        return match.group(0)

    for _ in range(2):
        if "&" not in text:
            break
        text = _ENTITY.sub(replace, text)
    return text


@dataclass(eq=False, slots=True)
class Element:
    """One OFX element: a leaf (`text` is its value, possibly "") or an aggregate (`text` None)."""

    tag: str
    text: str | None = None
    children: list[Element] = field(default_factory=list)
    #: text found directly inside an aggregate (e.g. '*snipped*' in place of a STMTTRN's fields)
    stray: list[str] = field(default_factory=list)
    closed: bool = False

    _first: dict[str, Element] | None = field(default=None, repr=False)

    @property
    def first_children(self) -> dict[str, Element]:
        """The first child of each tag (built on first use, once the tree is complete)."""
        if self._first is None:
            self._first = {}
            for child in self.children:
                self._first.setdefault(child.tag, child)
        return self._first

    def find(self, path: str) -> Element | None:
        node: Element | None = self
        for tag in path.split("/"):
            node = node.first_children.get(tag) if node is not None else None
        return node

    def value(self, path: str) -> str | None:
        """A leaf's text, stripped; None when absent or empty."""
        node = self.find(path)
        return node.text.strip() or None if node is not None and node.text is not None else None

    def iter(self, stop: frozenset[str] = frozenset()) -> Iterator[Element]:
        """Descendants in document order, not looking inside elements whose tag is in `stop`."""
        pending = list(reversed(self.children))
        while pending:
            node = pending.pop()
            yield node
            if node.tag not in stop:
                pending.extend(reversed(node.children))


@dataclass
class ReaderNotes:
    unclosed: Counter[str] = field(default_factory=Counter)
    stray_end_tags: int = 0


def _events(text: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, value, self_closing): kind is text, cdata, start or end; comments are dropped."""
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() > position:
            yield "text", _unescape(text[position : match.start()]), False
        position = match.end()
        if match.group("cdata") is not None:
            yield "cdata", match.group("cdata"), False
        elif match.group("tag"):
            tag = match.group("tag").upper()
            if match.group("close"):
                yield "end", tag, False
            else:
                yield "start", tag, match.group("rest").rstrip().endswith("/")
    if position < len(text):
        yield "text", _unescape(text[position:]), False


def _close_implicitly(node: Element, parent: Element, notes: ReaderNotes) -> None:
    """An element ended without its own end tag. Structure aggregates stay aggregates (SGML
    tolerance); anything else was an empty SGML leaf (`<BALAMT>` then `<DTASOF>`), so what it
    seemed to hold goes back to its parent, where it belongs."""
    if node.tag in STRUCTURE:
        notes.unclosed[node.tag] += 1
        return
    node.text = " ".join(node.stray)
    node.stray = []
    parent.children.extend(node.children)  # node is the parent's last child while it is open
    node.children = []


_NOTHING = ()


def _leaf(tag: str, text: str, closed: bool) -> Element:
    """A leaf element: never on the reader's stack, so it shares one empty tuple for children and
    stray text instead of two lists of its own (a statement holds millions of leaves)."""
    return Element(tag, text, _NOTHING, _NOTHING, closed)  # type: ignore[arg-type]


def read_elements(text: str) -> tuple[Element, ReaderNotes]:
    """Read OFX 1.x SGML (leaf end tags optional) or 2.x XML into a tree of Elements.

    A start tag followed by text is a leaf; a start tag followed directly by its end tag, or a
    self-closed tag, is an empty leaf; any other start tag opens an aggregate.
    """
    events = _events(text)  # read as they come, one ahead: a list of them took ~2 KB per transaction
    document = Element("#document")
    stack = [document]
    notes = ReaderNotes()
    open_tags: Counter[str] = Counter()  # tags on the stack, for O(1) "is it open?"

    def push(node: Element) -> None:
        stack[-1].children.append(node)
        stack.append(node)
        open_tags[node.tag] += 1

    def pop() -> Element:
        node = stack.pop()
        open_tags[node.tag] -= 1
        return node

    ahead = next(events, None)
    while ahead is not None:
        kind, value, self_closing = ahead
        ahead = next(events, None)
        if kind == "end":
            if open_tags[value]:
                while (node := pop()).tag != value:
                    _close_implicitly(node, stack[-1], notes)
                node.closed = True
            else:
                notes.stray_end_tags += 1
            continue
        if kind != "start":
            if value.strip() and len(stack) > 1:
                stack[-1].stray.append(value.strip())
            continue
        tag = value
        if self_closing:
            stack[-1].children.append(_leaf(tag, "", True))
            continue
        pieces = []
        while ahead is not None and ahead[0] in ("text", "cdata"):
            pieces.append(ahead[1])
            ahead = next(events, None)
        content = "".join(pieces).strip()
        ends_here = ahead is not None and ahead[0] == "end" and ahead[1] == tag
        if tag in STRUCTURE:
            if open_tags[tag]:
                while (node := pop()).tag != tag:
                    _close_implicitly(node, stack[-1], notes)
                _close_implicitly(node, stack[-1], notes)
            push(Element(tag, stray=[content] if content else []))
        elif content or ends_here:
            stack[-1].children.append(_leaf(tag, content, ends_here))
            if ends_here:
                ahead = next(events, None)
        else:
            push(Element(tag))
    while len(stack) > 1:
        _close_implicitly(pop(), stack[-1], notes)
    return document, notes


# --------------------------------------------------------------------------------------------
# Values: dates and amounts (spec 3.2.9: signed, '.' or ',' as the radix point)
# --------------------------------------------------------------------------------------------

_OFX_DATETIME = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?"
    r"\s*(?:\[\s*[+-]?\d{1,2}(?:\.\d+)?(?::[^\]]*)?\])?"
)
_CURRENCY_MARKS = re.compile(r"R\$|[$€£¥₴₽¢]|\b[A-Z]{3}\b")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d\s.,]*|[+-]?[.,]\d+")


def ofx_date(raw: str | None) -> str | None:
    """`YYYYMMDD[HHMMSS[.XXX]][[+-h:TZ]]` -> ISO date as written (the date in the stated offset).

    A value that is not such a date is returned unchanged for the data contract to quarantine.
    """
    text = (raw or "").strip()
    if not text:
        return None
    match = _OFX_DATETIME.fullmatch(text)
    if not match:
        return text
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
    except ValueError:
        return text


def ofx_amount(raw: str | None) -> str | None:
    """TRNAMT/BALAMT as a canonical signed decimal string ('-200,00' -> '-200.00', '$120' -> '120').

    Anything else (letters, exponents) is returned unchanged for the data contract to quarantine.
    """
    text = (raw or "").strip()
    if not text:
        return None
    unsigned = _CURRENCY_MARKS.sub("", text.replace("\u2212", "-")).replace(" ", "")
    sign = ""
    if unsigned.endswith("-") and not unsigned.startswith(("-", "+")):
        sign, unsigned = "-", unsigned[:-1]  # trailing minus: '120.00-'
    if not _PLAIN_NUMBER.fullmatch(unsigned):
        return text
    parsed = parse_amount(sign + unsigned)
    try:
        value = Decimal(parsed or "")
    except InvalidOperation:
        return text
    return format(abs(value) if value == 0 else value, "f")


_CANONICAL_AMOUNT = re.compile(r"-?\d+(\.\d+)?")
_CARD_NUMBER = re.compile(r"\d{13,19}")


def mask_card_number(account: str | None) -> str | None:
    """A credit-card ACCTID that is a card number, as its first six and last four digits."""
    if account is None:
        return None
    digits = re.sub(r"[\s\-]", "", account)
    if _CARD_NUMBER.fullmatch(digits):
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return account


# --------------------------------------------------------------------------------------------
# Models named after the specification's aggregates
# --------------------------------------------------------------------------------------------


@dataclass
class StmtTrn:
    """STMTTRN (a statement transaction), values as written (stripped)."""

    trntype: str | None
    dtposted: str | None
    dtuser: str | None
    dtavail: str | None
    trnamt: str | None
    fitid: str | None
    correctfitid: str | None
    correctaction: str | None
    srvrtid: str | None
    checknum: str | None
    refnum: str | None
    name: str | None
    extdname: str | None
    memo: str | None
    acct_to: str | None
    acct_to_is_card: bool
    currency_cursym: str | None
    currency_currate: str | None
    origcurrency_cursym: str | None
    origcurrency_currate: str | None
    stray: str | None

    @classmethod
    def from_element(cls, node: Element) -> StmtTrn:
        bank_to, card_to = node.value("BANKACCTTO/ACCTID"), node.value("CCACCTTO/ACCTID")
        stray = " ".join(node.stray + [" ".join(c.stray) for c in node.children if c.stray]).strip()
        return cls(
            trntype=node.value("TRNTYPE"),
            dtposted=node.value("DTPOSTED"),
            dtuser=node.value("DTUSER"),
            dtavail=node.value("DTAVAIL"),
            trnamt=node.value("TRNAMT"),
            fitid=node.value("FITID"),
            correctfitid=node.value("CORRECTFITID"),
            correctaction=node.value("CORRECTACTION"),
            srvrtid=node.value("SRVRTID"),
            checknum=node.value("CHECKNUM"),
            refnum=node.value("REFNUM"),
            name=node.value("NAME") or node.value("PAYEE/NAME"),
            extdname=node.value("EXTDNAME"),
            memo=node.value("MEMO"),
            acct_to=bank_to or card_to,
            acct_to_is_card=bank_to is None and card_to is not None,
            currency_cursym=node.value("CURRENCY/CURSYM"),
            currency_currate=node.value("CURRENCY/CURRATE"),
            origcurrency_cursym=node.value("ORIGCURRENCY/CURSYM"),
            origcurrency_currate=node.value("ORIGCURRENCY/CURRATE"),
            stray=stray or None,
        )


_TRANSACTIONS = frozenset({"STMTTRN", "STMTTRNP"})


@dataclass
class StmtRs:
    """STMTRS (bank) or CCSTMTRS (credit card): one account's statement response."""

    tag: str
    curdef: str | None
    bankid: str | None
    branchid: str | None
    acctid: str | None
    accttype: str | None
    dtstart: str | None
    dtend: str | None
    ledgerbal_balamt: str | None
    ledgerbal_dtasof: str | None
    has_ledgerbal: bool
    transactions: list[StmtTrn]
    pending: int

    @property
    def is_credit_card(self) -> bool:
        return self.tag == "CCSTMTRS"

    @classmethod
    def from_element(cls, node: Element) -> StmtRs:
        def part(tag: str) -> Element | None:
            # Direct child first; a missing end tag (say </BANKTRANLIST>) pushes it one level down.
            return node.find(tag) or next((n for n in node.iter(_TRANSACTIONS) if n.tag == tag), None)

        own = "CCACCTFROM" if node.tag == "CCSTMTRS" else "BANKACCTFROM"
        account = part(own) or part("BANKACCTFROM") or part("CCACCTFROM")
        tranlist = part("BANKTRANLIST")
        ledgerbal = part("LEDGERBAL")
        curdef = part("CURDEF")
        transactions = [StmtTrn.from_element(n) for n in node.iter(frozenset({"STMTTRN"})) if n.tag == "STMTTRN"]
        return cls(
            tag=node.tag,
            curdef=curdef.text.strip() or None if curdef is not None and curdef.text else None,
            bankid=account.value("BANKID") if account else None,
            branchid=account.value("BRANCHID") if account else None,
            acctid=account.value("ACCTID") if account else None,
            accttype=account.value("ACCTTYPE") if account else None,
            dtstart=tranlist.value("DTSTART") if tranlist else None,
            dtend=tranlist.value("DTEND") if tranlist else None,
            ledgerbal_balamt=ledgerbal.value("BALAMT") if ledgerbal else None,
            ledgerbal_dtasof=ledgerbal.value("DTASOF") if ledgerbal else None,
            has_ledgerbal=ledgerbal is not None,
            transactions=transactions,
            pending=sum(1 for n in node.iter() if n.tag == "STMTTRNP"),
        )


BANK_STATEMENTS = frozenset({"STMTRS", "CCSTMTRS"})


def _is_statement(tag: str) -> bool:
    """STMTRS, CCSTMTRS, and the other *STMTRS responses (INVSTMTRS, LOANSTMTRS, ...)."""
    return tag.endswith("STMTRS")


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------

_IDENTIFY = re.compile(rb"ofxheader\s*:|<\?ofx|<ofx>", re.I)
_RAW_STMTTRN = re.compile(r"<STMTTRN(?=[\s/>])[^<>]*>", re.I)
_RAW_STMTTRNP = re.compile(r"<STMTTRNP(?=[\s/>])[^<>]*>", re.I)
_RAW_HIDDEN = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>", re.S)


class OfxSource:
    name = "ofx"

    def identify(self, path: Path, head: bytes) -> bool:
        """OFX 1.x starts with an `OFXHEADER:` header, 2.x with `<?OFX ...?>`; both hold `<OFX>`."""
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
        return _IDENTIFY.search(head) is not None

    def parse(self, path: Path) -> ParseResult:
        data = path.read_bytes()
        if not data.strip():
            raise MalformedFile(f"{path.name}: empty file; download the OFX statement again")
        text, warnings = decode_ofx(data)
        document, notes = read_elements(text)
        self._check_document(path, document, notes, warnings)

        raw_stmttrn, raw_pending = self._raw_counts(text)
        statements, skipped, orphans = self._statements(document)
        read_count = sum(len(s.transactions) for s in statements) + sum(n for _, n, _ in skipped) + orphans
        if read_count != raw_stmttrn:
            raise MalformedFile(
                f"{path.name}: the text holds {raw_stmttrn} <STMTTRN> tags but {read_count} readable "
                "transactions; the file is damaged, download it again"
            )
        if orphans:
            raise MalformedFile(
                f"{path.name}: {orphans} transaction(s) (STMTTRN) stand outside any bank or credit-card "
                "statement (STMTRS/CCSTMTRS), so their account is unknown; download the statement again"
            )
        if not statements and not skipped:
            errors = self._status_errors(document)
            reason = f"the bank answered with an error instead of a statement: {errors[0]}" if errors else (
                "no bank or credit-card statement (STMTRS/CCSTMTRS) in the file"
            )
            raise MalformedFile(f"{path.name}: {reason}")
        warnings.extend(f"the bank reported an error: {e}" for e in self._status_errors(document))

        for tag, stmttrn_count, description in skipped:
            warnings.append(
                f"skipped {tag} ({description}): an investment or non-bank statement, not bank lines"
                + (f"; its {stmttrn_count} cash transaction(s) (STMTTRN) were not read" if stmttrn_count else "")
            )
        records, summaries, dropped = self._records(statements, warnings)
        pending = sum(s.pending for s in statements)
        if pending:
            warnings.append(f"skipped {pending} pending transaction(s) (STMTTRNP): not booked, not bank lines")
        found = raw_stmttrn + raw_pending
        not_bank = sum(n for _, n, _ in skipped)
        accounted = len(records) + dropped + pending + not_bank
        if accounted != found or pending != raw_pending:
            raise MalformedFile(
                f"{path.name}: {found} transactions in the text but {accounted} accounted for; "
                "the file's structure is damaged, download it again"
            )
        if len(records) < found:
            warnings.append(
                f"kept {len(records)} of {found} transactions: {dropped} exact duplicate(s), {pending} pending, "
                f"{not_bank} in non-bank statements"
            )
        return ParseResult(records=records, transactions_found=found, warnings=warnings, statements=summaries)

    # -- whole-file checks -------------------------------------------------------------------

    @staticmethod
    def _check_document(path: Path, document: Element, notes: ReaderNotes, warnings: list[str]) -> None:
        roots = [n for n in document.iter(frozenset({"OFX"})) if n.tag == "OFX"]
        if not roots:
            raise MalformedFile(f"{path.name}: no <OFX> element; this is not an OFX statement or it is damaged")
        if not all(root.closed for root in roots):
            raise MalformedFile(
                f"{path.name}: the file ends before </OFX>, so it looks cut off; download the statement again"
            )
        if notes.unclosed:
            tags = ", ".join(f"{tag} x{n}" for tag, n in sorted(notes.unclosed.items()))
            warnings.append(f"aggregates without their end tag, closed where the next one began: {tags}")

    @staticmethod
    def _raw_counts(text: str) -> tuple[int, int]:
        """STMTTRN and STMTTRNP tags in the raw text, counted without the reader (comments aside)."""
        visible = _RAW_HIDDEN.sub("", text)
        return len(_RAW_STMTTRN.findall(visible)), len(_RAW_STMTTRNP.findall(visible))

    @staticmethod
    def _statements(document: Element) -> tuple[list[StmtRs], list[tuple[str, int, str]], int]:
        """Bank/credit-card statements; skipped other statements (tag, STMTTRN count, what); orphans."""
        statements: list[StmtRs] = []
        skipped: list[tuple[str, int, str]] = []
        orphans = 0
        stop = frozenset(n.tag for n in document.iter() if _is_statement(n.tag))
        for node in document.iter(stop):
            if node.tag in BANK_STATEMENTS:
                statements.append(StmtRs.from_element(node))
            elif _is_statement(node.tag):
                inner = sum(1 for n in node.iter() if n.tag == "STMTTRN")
                account = next((n for n in node.iter() if n.tag == "ACCTID" and n.text), None)
                tranlist = next((n for n in node.children if n.tag.endswith("TRANLIST")), None)
                description = f"account {account.text.strip() if account else 'unknown'}"
                if tranlist is not None:
                    description += f", {sum(1 for c in tranlist.children if c.text is None)} investment transaction(s)"
                skipped.append((node.tag, inner, description))
            elif node.tag == "STMTTRN":
                orphans += 1
        return statements, skipped, orphans

    @staticmethod
    def _status_errors(document: Element) -> list[str]:
        """STATUS errors (CODE, SEVERITY) of responses that carry no statement, e.g. 2000 General error."""
        errors = []
        for node in document.iter():
            if not (node.tag.endswith("TRNRS") or node.tag == "SONRS"):
                continue
            code, severity = node.value("STATUS/CODE"), (node.value("STATUS/SEVERITY") or "").upper()
            if code and code != "0" and severity != "INFO" and not any(_is_statement(c.tag) for c in node.children):
                message = node.value("STATUS/MESSAGE")
                errors.append(f"{node.tag} status {code} {severity}".strip() + (f" ({message})" if message else ""))
        return errors

    # -- records -----------------------------------------------------------------------------

    def _records(
        self, statements: list[StmtRs], warnings: list[str]
    ) -> tuple[list[NormalizedRecord], list[StatementSummary], int]:
        records: list[NormalizedRecord] = []
        summaries: list[StatementSummary] = []
        seen_keys: Counter[tuple] = Counter()
        fitid_keys: dict[tuple, set[tuple]] = {}
        occurrences: Counter[tuple] = Counter()
        for number, statement in enumerate(statements, start=1):
            account = mask_card_number(statement.acctid) if statement.is_credit_card else statement.acctid
            where = f"statement {number} ({statement.tag}, account {account or 'unknown'})"
            self._warn_statement(statement, where, warnings)
            line_ids: list[str] = []
            for position, trn in enumerate(statement.transactions, start=1):
                record = self._record(statement, account, trn, occurrences)
                self._warn_transaction(trn, record, f"{where}, transaction {position}", warnings)
                if trn.fitid is not None:
                    key = (account, trn.fitid, record.amount, record.booking_date)
                    seen_keys[key] += 1
                    fitid_keys.setdefault((account, trn.fitid), set()).add(key)
                    if seen_keys[key] > 1:
                        continue
                records.append(record)
                line_ids.append(record.line_id)
            summaries.append(self._summary(statement, account, line_ids))
        dropped = 0
        for (account, fitid, amount, booked), count in seen_keys.items():
            if count > 1:
                dropped += count - 1
                warnings.append(
                    f"dropped {count - 1} duplicate(s) of the transaction FITID {fitid} in account {account} "
                    f"({amount} on {booked}): the same account, FITID, amount and date appear {count} times"
                )
        for (account, fitid), keys in fitid_keys.items():
            if len(keys) > 1:
                warnings.append(
                    f"FITID {fitid} repeats in account {account} with different amounts or dates: "
                    f"kept as {len(keys)} separate lines"
                )
        return records, summaries, dropped

    def _record(
        self, statement: StmtRs, account: str | None, trn: StmtTrn, occurrences: Counter[tuple]
    ) -> NormalizedRecord:
        booking_date = ofx_date(trn.dtposted)
        amount = ofx_amount(trn.trnamt)
        currency = (trn.currency_cursym or statement.curdef or "").upper() or None
        identity: tuple = (account, statement.bankid, trn.fitid, booking_date, amount)
        if trn.fitid is None:
            # No bank id to tell lines apart: add what the line says, and number exact repeats.
            identity += (trn.trntype, trn.name, trn.memo, trn.checknum, trn.refnum)
            occurrences[identity] += 1
            identity += (occurrences[identity],)
        counterparty_account = mask_card_number(trn.acct_to) if trn.acct_to_is_card else trn.acct_to
        return NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=account,
            booking_date=booking_date,
            value_date=ofx_date(trn.dtavail) if trn.dtavail else booking_date,
            amount=amount,
            currency=currency,
            counterparty_name=clean(trn.name),
            counterparty_account=counterparty_account,
            counterparty_tax_id=None,
            remittance=clean(trn.memo) or clean(trn.name),
            end_to_end_id=None,
            bank_ref=trn.fitid,
            line_id=make_line_id(self.name, *identity),
            extra=self._extra(statement, trn, currency),
        )

    @staticmethod
    def _extra(statement: StmtRs, trn: StmtTrn, currency: str | None) -> dict[str, str]:
        account_type = "creditcard" if statement.is_credit_card else (statement.accttype or "").lower() or None
        values = {
            "trntype": trn.trntype,
            "refnum": trn.refnum,
            "checknum": trn.checknum,
            "dtuser": ofx_date(trn.dtuser),
            "srvrtid": trn.srvrtid,
            "extdname": clean(trn.extdname),
            "correctfitid": trn.correctfitid,
            "correctaction": trn.correctaction,
            "bankid": statement.bankid,
            "branchid": statement.branchid,
            "account_type": account_type,
            "curdef": statement.curdef.upper() if trn.currency_cursym and statement.curdef else None,
            "currate": trn.currency_currate,
            "orig_currency": trn.origcurrency_cursym.upper() if trn.origcurrency_cursym else None,
            "orig_currate": trn.origcurrency_currate,
        }
        return {key: value for key, value in values.items() if value is not None}

    @staticmethod
    def _summary(statement: StmtRs, account: str | None, line_ids: list[str]) -> StatementSummary:
        return StatementSummary(
            account=account,
            currency=statement.curdef.upper() if statement.curdef else None,
            statement_id=None,
            sequence=None,
            opening_balance=None,
            opening_date=None,
            closing_balance=ofx_amount(statement.ledgerbal_balamt),
            closing_date=ofx_date(statement.ledgerbal_dtasof),
            line_ids=tuple(line_ids),
        )

    @staticmethod
    def _warn_statement(statement: StmtRs, where: str, warnings: list[str]) -> None:
        if statement.acctid is None:
            warnings.append(f"{where}: no account id (ACCTID); its lines carry no account")
        if statement.curdef is None:
            warnings.append(f"{where}: no currency (CURDEF is missing or empty)")
        if statement.has_ledgerbal and statement.ledgerbal_balamt is None:
            warnings.append(f"{where}: the ledger balance (LEDGERBAL/BALAMT) is empty; no closing balance")

    @staticmethod
    def _warn_transaction(trn: StmtTrn, record: NormalizedRecord, where: str, warnings: list[str]) -> None:
        label = f"{where} (FITID {trn.fitid})" if trn.fitid else f"{where} (no FITID)"
        missing = [tag for tag, value in (("DTPOSTED", trn.dtposted), ("TRNAMT", trn.trnamt)) if value is None]
        if missing:
            warnings.append(f"{label}: no {' or '.join(missing)}; kept for the data contract to quarantine")
        if trn.stray:
            warnings.append(f"{label}: stray text {trn.stray[:60]!r} inside STMTTRN")
        if trn.correctaction:
            warnings.append(
                f"{label}: corrects the earlier transaction FITID {trn.correctfitid} ({trn.correctaction})"
            )
        if record.amount is not None and not _CANONICAL_AMOUNT.fullmatch(record.amount):
            warnings.append(f"{label}: TRNAMT {trn.trnamt!r} is not a number; kept as written")
