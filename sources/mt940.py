"""SWIFT MT940 Customer Statement Message, and the MT942 Interim Transaction Report.

Specification: SWIFT Standards MT Category 9, "MT 940 Customer Statement Message" and "MT 942 Interim
Transaction Report"; the German structure of field 86 from the DFÜ-Abkommen, Anlage 3 ("Spezifikation
der Datenformate", MT940 Feld 86: Geschäftsvorfallcode + ?NN subfields, SEPA keywords EREF+/SVWZ+/...);
the Dutch "/KEY/value/" field 86 of ING, Rabobank and ABN AMRO; mBank's "KEY: value;" field 86.
Summary and traps in ../shared/fixtures/FORMATS.md §3.

One message (statement) is a sequence of fields ``:tag:content``; a field continues on the following
lines until the next known tag. Per statement:

    :20:   Transaction Reference Number (16x)               mandatory, starts a statement
    :21:   Related Reference                                 optional
    :25:   Account Identification (35x), :25P: with BIC      mandatory
    :28C:  Statement Number/Sequence Number (old: :28:)      mandatory per SWIFT, optional here
    :60F:  Opening Balance (F first, :60M: intermediate)     mandatory in an MT940
    :61:   Statement Line, optionally followed by
    :86:   Information to Account Owner (6*65x)
    :62F:  Closing Balance (:62M: intermediate)              missing -> warning
    :64:   Closing Available Balance, :65: Forward Available Balance (not carried over)

MT942 replaces the booked balances by :34F: Floor Limit Indicator, :13D: Date/Time Indication and
:90D:/:90C: Number and Sum of Entries. Its lines are interim, not booked: "only booked entries count as
bank lines" (PRODUCT.md), so a statement recognised as MT942 (by :34F:/:13D:/:90D:/:90C:, the `{2:I942`
application header or a `:942:` pseudo-header) yields no records; its lines are counted in
`transactions_found` and in a warning. MT940 statements in the same file are read as usual.

Field 61 subfields: value date YYMMDD (years 00-79 are 20YY, 80-99 are 19YY), optional entry date
MMDD (its year is the value date's, +1 for a January entry of a December value date, -1 for the
reverse), debit/credit mark C, D, RC (reversal of credit: money out) or RD (reversal of debit: money
in), optional funds code (one letter, the currency's third letter), amount (digits with a decimal
comma: `380115,` is 380115.00), transaction type (1!a3!c: N/F/S + code), customer reference up to
`//`, bank reference after `//`, and supplementary details (34x) on the continuation line.

Field 86 is read by its structure, first match wins:
- German GVC: 3-digit Geschäftsvorfallcode, then ?00 booking text, ?10 primanota, ?20-?29 and ?60-?63
  purpose, ?30 bank code/BIC, ?31 account/IBAN, ?32/?33 name, ?34 text key extension. Lines are joined
  without a separator first (a subfield, and even a `?NN` marker, may wrap at 65 characters). Purpose
  subfields hold 27 characters. A subfield continues the text before it without a space when it is
  the next one in filling order (?29 is followed by ?60) and does not open a new item (a SEPA keyword
  or a label like "MTLG:"), and either the one before was full (cut mid-text) or it carries on a SEPA
  keyword's value within that keyword's maximum length (35 for EREF/MREF/CRED..., 140 for SVWZ, 70 for
  ABWA/ABWE: the DK rule that a value runs on until the next keyword). Otherwise the pieces are joined
  with a space. The keywords then split the purpose: EREF+ is the end-to-end id, SVWZ+ and free text
  form the remittance, KREF/MREF/CRED/ABWA/... go to `extra`.
- Dutch: /EREF/ /NAME/ /IBAN/ /BIC/ /REMI/ /CNTP/ /MARF/ /CSID/ /TRTP/ ... (lines joined without a
  separator; ING wraps at 65 characters).
- mBank (PL): `911 TRANSAKCJA ...; ID IPH: ...; Z RACH.: ...; OD: name  address; TYT.: ...; TNR: ...`.
- Anything else (e.g. Raiffeisen HU's line-per-item text, GVC 999 free text) is kept whole as the
  remittance; its lines are joined without a separator where the previous line was a full
  65-character line (wrapped), else with a space. :NS: (non-SWIFT) fields after a :61: go to `extra`.

Encoding: UTF-8 first; otherwise the best of latin-1, cp1250 and cp852 by how many of the non-ASCII
characters decode to letters (U+FFFD characters already in the file are kept). Control bytes (SOH
0x01, ETX 0x03, ...) from the transmission framing are removed with a warning, as are the `{1:}{2:}
{3:}{4:` ... `-}{5:}` envelope and `:940:`/`:9401:`/`:942:` pseudo-headers.

Tolerance policy (sources/errors.py), applied to MT940:
- A file with no MT940 field at all (no :20:, :25:, :60a:, :61:, :62a:) raises MalformedFile.
- A statement is broken when it has no :20:, no :25:, a second :25:, or (MT940 only) no readable
  :60F:/:60M:. If every statement of the file is broken, the file raises MalformedFile naming the first
  problem's tag and line. If at least one statement is fine, the file is read: each problem becomes a
  warning and the broken statement's lines are still emitted (account None when :25: is missing, no
  opening balance in its StatementSummary) so the data contract quarantines them with a reason; dropping
  them would lose money movements without a trace, and rejecting the file would hold up good statements.
- A :61: that cannot be read is emitted with its raw text as `amount` (quarantined downstream); an
  invalid date (30 February) is left raw in value_date/booking_date. Both warn with the line number.

line_id: account + bank reference + value date + entry date + amount + mark + customer reference +
an occurrence counter (per file) for identical lines. The statement number is left out, so a line
that appears in two overlapping statement files gets one id. The counter keeps a 16-byte digest per
distinct line (fast_common.Occurrences), so a file of millions of lines needs tens of MB for it.

Reading: `parse()` keeps every record; `iter_records()` yields them one statement at a time and
holds one statement, so a 1 GB file is read in little memory. Both run the same single pass over
the text, which is read in blocks of whole lines (a non-UTF-8 file is decoded whole, as its encoding
is chosen from all of its text); continuation lines, the common case, take a short inline path.

StatementSummary: statement_id is the :20: reference, sequence the :28C: text as written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sources.errors import MalformedFile
from sources.fast_common import Occurrences
from sources.parsing import clean, decode_text
from sources.records import NormalizedRecord, ParseResult, RecordStream, StatementSummary

# --------------------------------------------------------------------------------------------------
# Text layer: bytes -> lines, without the transmission framing
# --------------------------------------------------------------------------------------------------

#: Control bytes other than TAB/LF/CR: SOH/ETX framing from SWIFT transmissions, NUL padding, Ctrl-Z.
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REPLACEMENT_UTF8 = b"\xef\xbf\xbd"
_SINGLE_BYTE_ENCODINGS = ("latin-1", "cp1250", "cp852")
#: Letters an encoding is expected to produce in its home languages; breaks ties between encodings.
_HOME_LETTERS = {
    "latin-1": set("äöüßÄÖÜéèàçâêîôûëïñáíóúÉÈÀÇ"),
    "cp1250": set("ąćęłńśźżĄĆĘŁŃŚŹŻčďěňřšťůžČĎĚŇŘŠŤŮŽőűŐŰáéíóúöüäý"),
    "cp852": set("áéíóöőúüűÁÉÍÓÖŐÚÜŰ"),
}
_UNLIKELY_CATEGORIES = {"Cc", "Cn", "Co", "Sc", "Sk", "Sm", "So", "No"}

#: Block 1 (basic header), 2 (application header), 3 (user header) and 5 (trailer) of the envelope.
_ENVELOPE_BLOCK = re.compile(r"\{[1235]:(?:[^{}]|\{[^{}]*\})*\}")
_APPLICATION_HEADER = re.compile(r"\{2:[IO](\d{3})")
_PSEUDO_HEADER = re.compile(r"^:(94[02])\d?:$")
_END_OF_MESSAGE = re.compile(r"^-\}?$")

#: Tags this source knows. Only these start a field: a wrapped timestamp such as "T13\n:12:11" or
#: "T16\n:26:37" inside :86: must stay text.
_FIELD_LINE = re.compile(r"^:(20|21|25P?|28C?|34F|13D|60[FM]|61|86|62[FM]|64|65|90[DC]|NS):(.*)$")
_STRUCTURE_TAGS = {"20", "25", "25P", "60F", "60M", "61", "62F", "62M", "34F"}
_INTERIM_TAGS = {"34F", "13D", "90D", "90C"}
_SWIFT_LINE_WIDTH = 65


def _score(text: str, encoding: str) -> tuple[int, int]:
    """How plausible a decoding is: (letters - 2 * unlikely characters, home-language letters)."""
    plausible = home = 0
    for char in text:
        if char < "\x80":
            continue
        category = unicodedata.category(char)
        if category.startswith("L"):
            plausible += 1
        elif category in _UNLIKELY_CATEGORIES:
            plausible -= 2
        if char in _HOME_LETTERS[encoding]:
            home += 1
    return plausible, home


def _decode(data: bytes) -> tuple[str, str]:
    """The statement text and its encoding: UTF-8, else the most plausible single-byte encoding.

    U+FFFD characters already in the file (a UTF-8 EF BF BD) are kept as they are.
    """
    try:
        return decode_text(data, ("utf-8-sig",))
    except UnicodeDecodeError:
        pass
    parts = data.split(_REPLACEMENT_UTF8)
    best: tuple[tuple[int, int], int, str, str] | None = None
    for rank, encoding in enumerate(_SINGLE_BYTE_ENCODINGS):
        try:
            text = "\ufffd".join(decode_text(part, (encoding,))[0] for part in parts)
        except UnicodeDecodeError:
            continue
        candidate = (_score(text, encoding), -rank, encoding, text)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    assert best is not None  # latin-1 decodes any byte
    return best[3], best[2]


def _without_envelope(line: str) -> tuple[str, str | None]:
    """A line without the `{1:}{2:}{3:}{4:` / `-}{5:}` envelope blocks, and the message type its
    application header {2:I940/O942...} names, if any."""
    if not (line.lstrip().startswith("{") or line.strip().startswith("-}")):
        return line, None
    header = _APPLICATION_HEADER.search(line)
    message_type = None if header is None else ("942" if header.group(1) == "942" else "940")
    line = _ENVELOPE_BLOCK.sub("", line).replace("{4:", "").strip()
    return ("-" if line.startswith("-}") else line), message_type


#: Bytes read at a time. Blocks end at a line feed, so a UTF-8 sequence, a CRLF or a control byte
#: between CR and LF never straddles two blocks and each block decodes on its own.
_BLOCK_BYTES = 1 << 20
_CONTROL_DELETE = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"


def _blocks(path: Path, size: int | None = None) -> Iterator[bytes]:
    """The file in blocks of about `size` (_BLOCK_BYTES) that end after a line feed (the last one may not)."""
    size = size or _BLOCK_BYTES
    with open(path, "rb") as handle:
        pieces: list[bytes] = []
        while True:
            block = handle.read(size)
            if not block:
                if pieces:
                    yield b"".join(pieces)
                return
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                pieces.append(block)
                continue
            pieces.append(block[:cut] if cut < len(block) else block)
            yield b"".join(pieces) if len(pieces) > 1 else pieces[0]
            pieces = [block[cut:]] if cut < len(block) else []


def _normalized(text: str) -> str:
    """CRLF and CR as LF (a block never ends between CR and LF, see _BLOCK_BYTES)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _normalized_utf8(block: bytes) -> bytes:
    """_normalized on UTF-8 bytes (CR and LF are never part of another character): when every CR
    starts a CRLF (the usual case), the CRs deleted."""
    if b"\r" not in block:
        return block
    import numpy as np

    data = np.frombuffer(block, dtype=np.uint8)
    after = np.flatnonzero(data == 13) + 1
    if after[-1] < len(data) and (data[after] == 10).all():
        return block.translate(None, b"\r")
    return block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


# --------------------------------------------------------------------------------------------------
# Values: amounts, dates, balances (SWIFT field formats)
# --------------------------------------------------------------------------------------------------

_SWIFT_AMOUNT = re.compile(r"^(\d+)(?:,(\d*))?$")


def swift_amount(raw: str, negative: bool = False) -> str | None:
    """A SWIFT amount (digits, decimal comma: `380115,` `0,12` `000147,64`) as a canonical decimal
    string with at least two decimals ('380115.00'), signed; None when it is not an amount."""
    text = raw.strip()
    match = _SWIFT_AMOUNT.match(text)
    if not match:
        return None
    whole, fraction = match.group(1), match.group(2) or ""
    if len(whole) + len(fraction) <= 26 and text.isascii():
        # What the Decimal path below gives, by string: no leading zeros, at least two decimals.
        digits = whole.lstrip("0") or "0"
        if len(fraction) < 2:
            fraction = (fraction + "00")[:2]
        if negative and (digits != "0" or fraction.strip("0")):
            return f"-{digits}.{fraction}"
        return f"{digits}.{fraction}"
    try:
        value = Decimal(f"{whole}.{fraction or '0'}").quantize(Decimal(1).scaleb(-max(2, len(fraction))))
    except InvalidOperation:  # more digits than Decimal's 28-digit context: not a SWIFT 15d amount
        return None
    if negative and value:
        value = -value
    return format(value, "f")


def swift_year(yy: str) -> int:
    """Two-digit SWIFT years: 00-79 are 20YY, 80-99 are 19YY."""
    year = int(yy)
    return 2000 + year if year < 80 else 1900 + year


@lru_cache(maxsize=4096)
def swift_date(yymmdd: str) -> str | None:
    """YYMMDD as ISO YYYY-MM-DD, or None when it is not a calendar date (30 February)."""
    if not re.fullmatch(r"\d{6}", yymmdd):
        return None
    try:
        return date(swift_year(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])).isoformat()
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def entry_date(value_yymmdd: str, mmdd: str) -> str | None:
    """The :61: entry date MMDD as ISO, its year taken from the value date across the year end."""
    value_year = swift_year(value_yymmdd[:2])
    value_month, entry_month = int(value_yymmdd[2:4]), int(mmdd[:2])
    year = value_year
    if entry_month == 1 and value_month == 12:
        year += 1
    elif entry_month == 12 and value_month == 1:
        year -= 1
    try:
        return date(year, entry_month, int(mmdd[2:])).isoformat()
    except ValueError:
        return None


_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})?(\d[\d,]*)$")


@dataclass(frozen=True)
class Balance:
    """Fields 60a/62a/64/65: D/C mark, date YYMMDD, currency (3!a, some banks omit it), amount."""

    amount: str  # signed decimal string: C positive, D negative
    date: str | None
    currency: str | None

    @classmethod
    def parse(cls, text: str) -> Balance | None:
        match = _BALANCE.match(re.sub(r"\s", "", text))
        if not match:
            return None
        mark, yymmdd, currency, raw_amount = match.groups()
        amount = swift_amount(raw_amount, negative=mark == "D")
        if amount is None:
            return None
        return cls(amount, swift_date(yymmdd) or yymmdd, currency)


# --------------------------------------------------------------------------------------------------
# Field 61: Statement Line
# --------------------------------------------------------------------------------------------------

_STATEMENT_LINE = re.compile(
    r"^(?P<value_date>\d{6})(?P<entry_date>\d{4})?"
    r"(?P<mark>RC|RD|C|D)(?P<funds_code>[A-Z])?"
    r"(?P<amount>\d[\d,]*)"
    r"(?P<transaction_type>[A-Z][A-Z0-9]{3})"
    r"(?P<references>.*)$"
)
#: Money into our account: a credit, or the reversal of a debit.
_MONEY_IN = {"C", "RD"}


@dataclass
class StatementLine:
    """Field 61 (plus the :86: and :NS: fields that follow it)."""

    line_no: int
    raw: str
    value_date_raw: str | None = None
    entry_date_raw: str | None = None
    mark: str | None = None
    funds_code: str | None = None
    amount_raw: str | None = None
    transaction_type: str | None = None
    customer_ref: str | None = None
    bank_ref: str | None = None
    supplementary_details: str | None = None
    information: list[str] | None = None  # :86: lines
    non_swift: list[str] = field(default_factory=list)  # :NS: lines

    @classmethod
    def parse(cls, line_no: int, field_lines: list[str]) -> StatementLine:
        lines = [line.rstrip() for line in field_lines]
        line = cls(line_no=line_no, raw="\n".join(lines))
        match = _STATEMENT_LINE.match(lines[0].strip())
        details_from = 1
        if not match and len(lines) > 1:
            # Some exports wrap subfield 1 itself ("...1126CR" / "30,00N062NONREF").
            match = _STATEMENT_LINE.match((lines[0] + lines[1]).strip())
            details_from = 2
        if not match:
            return line
        line.value_date_raw = match["value_date"]
        line.entry_date_raw = match["entry_date"]
        line.mark = match["mark"]
        line.funds_code = match["funds_code"]
        line.amount_raw = match["amount"]
        line.transaction_type = match["transaction_type"]
        customer, _, bank = match["references"].partition("//")
        line.customer_ref = customer.strip() or None
        line.bank_ref = bank.strip() or None
        if len(lines) > details_from:
            line.supplementary_details = clean(" ".join(lines[details_from:]))
        return line

    @property
    def understood(self) -> bool:
        return self.mark is not None

    def amount(self) -> str | None:
        if self.amount_raw is None:
            return None
        return swift_amount(self.amount_raw, negative=self.mark not in _MONEY_IN)

    def value_date(self) -> str | None:
        return swift_date(self.value_date_raw) if self.value_date_raw else None

    def booking_date(self) -> str | None:
        if self.entry_date_raw and self.value_date_raw:
            return entry_date(self.value_date_raw, self.entry_date_raw)
        return self.value_date()

    def reference(self) -> str | None:
        """The bank's own reference: after `//`, else the customer reference unless NONREF."""
        if self.bank_ref:
            return self.bank_ref
        if self.customer_ref and self.customer_ref.upper() != "NONREF":
            return self.customer_ref
        return None


# --------------------------------------------------------------------------------------------------
# Field 86: Information to Account Owner
# --------------------------------------------------------------------------------------------------


@dataclass
class AccountOwnerInformation:
    """What field 86 says about the counterparty and the purpose, whatever its structure."""

    structure: str
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None
    end_to_end_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _no_ref(value: str | None) -> str | None:
    value = clean(value)
    if value is None or value.upper() in {"NOTPROVIDED", "NONREF", "NOT PROVIDED"}:
        return None
    return value


def _account(value: str | None) -> str | None:
    """An account number or IBAN without the spaces a line wrap or padding put into it."""
    return "".join(value.split()) or None if value else None  # str.split() splits where regex \s matches


# German GVC structure (DFÜ-Abkommen Anlage 3) --------------------------------------------------------

_GVC = re.compile(r"^\s*(\d{3})(?=\?\d\d|\s*$)")
_GVC_SUBFIELD = re.compile(r"\?(\d\d)")
_GVC_PURPOSE = [f"{n}" for n in range(20, 30)] + ["60", "61", "62", "63"]
_GVC_SUBFIELD_WIDTH = 27
#: SEPA keywords inside the purpose (DK "SEPA-Datenformate", Verwendungszweck-Kennungen).
_SEPA_KEYWORD = re.compile(r"(?<![A-Za-z0-9])(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAS|OAMT|PURP)\+")
#: Maximum value lengths of the keywords (SEPA EndToEndId/MandateId/CreditorId 35, remittance 140, names 70).
_SEPA_MAX_LENGTH = {"EREF": 35, "KREF": 35, "MREF": 35, "CRED": 35, "DEBT": 35, "COAS": 35, "OAMT": 35,
                    "SVWZ": 140, "ABWA": 70, "ABWE": 70, "IBAN": 34, "BIC": 11, "PURP": 4}
_NEW_ITEM = re.compile(r"^(?:EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAS|OAMT|PURP)\+|^[A-Z]{4}:")
_SEPA_EXTRA = {
    "KREF": "sepa_customer_ref",
    "MREF": "mandate_ref",
    "CRED": "creditor_id",
    "DEBT": "debtor_id",
    "ABWA": "ultimate_debtor",
    "ABWE": "ultimate_creditor",
    "COAS": "compensation_amount",
    "OAMT": "original_amount",
    "PURP": "purpose_code",
    "BIC": "counterparty_bank",
}


def _next_subfield(key: str) -> str:
    """The subfield a bank fills after `key`: ?20 .. ?29, then ?60 .. ?63 (and ?32, ?33)."""
    return "60" if key == "29" else f"{int(key) + 1:02d}"


#: The subfield a bank fills after each purpose or name subfield (see _next_subfield).
_NEXT_SUBFIELD = {key: ("60" if key == "29" else f"{int(key) + 1:02d}") for key in (*_GVC_PURPOSE, "32", "33")}


def _continues(piece: str, previous: tuple[str, str], key: str, text: str) -> bool:
    """Whether subfield `key` carries on the text of the piece before it, without a separator.

    It does when it is the next subfield and does not open a new item (a SEPA keyword or a label such
    as "MTLG:"), and either the previous subfield was full (27 characters: cut mid-text) or the piece is
    a SEPA keyword's value that still fits the keyword's maximum length (the DK rule: a value runs on in
    the following subfields until the next keyword).
    """
    previous_key, previous_text = previous
    following = _NEXT_SUBFIELD.get(previous_key) or _next_subfield(previous_key)
    if key != following or _NEW_ITEM.match(text):
        return False
    if len(previous_text) >= _GVC_SUBFIELD_WIDTH:
        return True
    keywords = list(_SEPA_KEYWORD.finditer(piece))
    if not keywords:
        return False
    last = keywords[-1]
    return len(piece) - last.end() + len(text) <= _SEPA_MAX_LENGTH[last.group(1)]


def _join_subfields(parts: list[tuple[str, str]]) -> list[str]:
    """Merge the subfields that continue each other; return the pieces of text the bank meant."""
    pieces: list[str] = []
    previous: tuple[str, str] | None = None
    for part in parts:
        if previous is not None and _continues(pieces[-1], previous, *part):
            pieces[-1] += part[1]
        else:
            pieces.append(part[1])
        previous = part
    return pieces


def _sepa_purpose(pieces: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split purpose pieces on the SEPA keywords: ({keyword: value}, free-text and SVWZ parts in order)."""
    keywords: dict[str, str] = {}
    remittance: list[str] = []
    for piece in pieces:
        # [free text before the first keyword, keyword, its value, keyword, its value, ...]
        cut = _SEPA_KEYWORD.split(piece) if "+" in piece else (piece,)
        if cut[0].strip():
            remittance.append(cut[0])
        for index in range(1, len(cut), 2):
            keyword = cut[index]
            if keyword == "SVWZ":
                remittance.append(cut[index + 1])
            elif keyword not in keywords:
                keywords[keyword] = cut[index + 1]
    return keywords, remittance


_GVC_KNOWN = frozenset({"00", "10", "30", "31", "32", "33", "34", *_GVC_PURPOSE})


def _gvc_information(text: str) -> AccountOwnerInformation | None:
    """German structured field 86: GVC, then ?NN subfields (lines already joined without separator)."""
    match = _GVC.match(text)
    if not match:
        return None
    # [text before the first ?NN (ignored), key, text, key, text, ...]
    cut = _GVC_SUBFIELD.split(text[match.end() :])
    keys = cut[1::2]
    subfields: dict[str, list[str]] = {}
    if len(set(keys)) == len(keys):  # each subfield once (the usual case)
        joined = dict(zip(keys, cut[2::2]))
        purpose = [(key, joined[key]) for key in _GVC_PURPOSE if key in joined]
        names = [(key, joined[key]) for key in ("32", "33") if key in joined]
    else:
        for index in range(1, len(cut), 2):
            subfields.setdefault(cut[index], []).append(cut[index + 1])
        joined = {key: "".join(parts) for key, parts in subfields.items()}
        purpose = [(key, part) for key in _GVC_PURPOSE if key in subfields for part in subfields[key]]
        names = [(key, part) for key in ("32", "33") if key in subfields for part in subfields[key]]
    keywords, remittance = _sepa_purpose(_join_subfields(purpose)) if purpose else ({}, [])
    iban = keywords.get("IBAN")
    info = AccountOwnerInformation(
        structure="gvc",
        counterparty_name=clean(" ".join(_join_subfields(names))) if names else None,
        counterparty_account=_account(clean(joined.get("31"))) or (_account(iban) if iban else None),
        remittance=clean(" ".join(remittance)) if remittance else None,
        end_to_end_id=_no_ref(keywords["EREF"]) if "EREF" in keywords else None,
    )
    extra = {
        "gvc": match.group(1),
        "booking_text": clean(joined.get("00")),
        "primanota": clean(joined.get("10")),
        "counterparty_bank": clean(joined.get("30")),
        "text_key_extension": clean(joined.get("34")),
    }
    if keywords:
        for keyword, name in _SEPA_EXTRA.items():
            if keyword in keywords and extra.get(name) is None:
                extra[name] = clean(keywords[keyword])
    if not _GVC_KNOWN.issuperset(joined):
        other = "".join(f"?{key}{value}" for key, value in joined.items() if key not in _GVC_KNOWN)
        extra["other_subfields"] = clean(other)
    info.extra = {key: value for key, value in extra.items() if value}
    return info


# Dutch structure (ING / Rabobank / ABN AMRO) ---------------------------------------------------------

_NL_KEY = re.compile(
    r"/(EREF|MARF|CSID|CNTP|REMI|ISDT|RTRN|PURP|ULTC|ULTD|ULTB|TRTP|IBAN|BIC|NAME|ORDP|BENM|ADDR|PREF|"
    r"ATRN|CREF|SVCL|BUSP|SUM|ID)/"
)
_NL_EXTRA = {
    "MARF": "mandate_ref",
    "CSID": "creditor_id",
    "TRTP": "transaction_type_text",
    "RTRN": "return_reason",
    "PURP": "purpose_code",
    "ULTD": "ultimate_debtor",
    "ULTC": "ultimate_creditor",
    "PREF": "payment_info_id",
    "BIC": "counterparty_bank",
    "ADDR": "counterparty_address",
    "ISDT": "interbank_settlement_date",
}


def _nl_information(text: str) -> AccountOwnerInformation | None:
    """Dutch field 86: /KEY/value/KEY/value; values may themselves contain slashes."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    marks = [m for m in _NL_KEY.finditer(stripped)]
    if not marks or marks[0].start() != 0:
        return None
    values: dict[str, str] = {}
    for number, mark in enumerate(marks):
        end = marks[number + 1].start() if number + 1 < len(marks) else len(stripped)
        values.setdefault(mark.group(1), stripped[mark.end() : end].strip("/ "))
    name = values.get("NAME")
    account = values.get("IBAN")
    bank = values.get("BIC")
    if "CNTP" in values:  # ING: /CNTP/account/BIC/name/city/
        parts = values["CNTP"].split("/") + ["", "", "", ""]
        account, bank, name = account or parts[0], bank or parts[1], name or parts[2]
        if parts[3]:
            values.setdefault("ADDR", parts[3])
    remittance = values.get("REMI")
    if remittance:
        # ING: "USTD//free text" (unstructured) or "STRD/CUR/reference" (structured creditor reference).
        remittance = re.sub(r"^(USTD//?|STRD/CUR/)", "", remittance)
    if bank:
        values["BIC"] = bank
    info = AccountOwnerInformation(
        structure="nl",
        counterparty_name=clean(name),
        counterparty_account=_account(account),
        remittance=clean(remittance),
        end_to_end_id=_no_ref(values.get("EREF")),
    )
    info.extra = {name: clean(values[key]) for key, name in _NL_EXTRA.items() if clean(values.get(key))}
    return info


# mBank (PL) structure --------------------------------------------------------------------------------

_MBANK = re.compile(r"^\s*(\d{3}) ([^;]*);\s*(?=.*\b(?:TNR|TYT\.|ID IPH|Z RACH\.|NA RACH\.)\s*:)")
_MBANK_PAIR = re.compile(r"\s*([A-Z][A-Z .]*?)\s*:\s*(.*)")


def _mbank_information(text: str) -> AccountOwnerInformation | None:
    """mBank field 86: `911 TRANSAKCJA COLLECT; ID IPH: ..; Z RACH.: ..; OD: name  address; TYT.: ..; TNR: ..`."""
    match = _MBANK.match(text)
    if not match:
        return None
    pairs: dict[str, str] = {}
    for segment in text[match.end() :].split(";"):
        pair = _MBANK_PAIR.fullmatch(segment)
        if pair:
            pairs.setdefault(pair.group(1).strip(), pair.group(2))
    party = pairs.get("OD") or pairs.get("DO") or ""
    # The name and the address are separated by two spaces ("JAN NOWAK  UL. NIJAKA 1 ...").
    name, _, address = party.strip().partition("  ")
    info = AccountOwnerInformation(
        structure="mbank",
        counterparty_name=clean(name),
        counterparty_account=_account(pairs.get("Z RACH.") or pairs.get("NA RACH.")),
        remittance=clean(pairs.get("TYT.")),
    )
    extra = {
        "transaction_code": match.group(1),
        "booking_text": clean(match.group(2)),
        "counterparty_address": clean(address),
        "iph_id": clean(pairs.get("ID IPH")),
        "tnr": clean(pairs.get("TNR")),
    }
    info.extra = {key: value for key, value in extra.items() if value}
    return info


def _unstructured_text(lines: list[str]) -> str:
    """Join free-text lines: no separator after a full 65-character (wrapped) line, else a space."""
    text = ""
    for number, line in enumerate(lines):
        if number and len(lines[number - 1]) < _SWIFT_LINE_WIDTH:
            text += " "
        text += line
    return text


def read_information(lines: list[str]) -> AccountOwnerInformation:
    """Field 86 by structure: German GVC, Dutch, mBank, else the whole text as the remittance."""
    joined = "".join(lines)
    for reader in (_gvc_information, _nl_information, _mbank_information):
        info = reader(joined)
        if info is not None:
            return info
    return AccountOwnerInformation(structure="unstructured", remittance=clean(_unstructured_text(lines)))


# --------------------------------------------------------------------------------------------------
# Statement: the fields from :20: to the next :20:
# --------------------------------------------------------------------------------------------------


@dataclass
class Statement:
    first_line: int
    first_tag: str
    message_type: str
    reference: str | None = None
    related_reference: str | None = None
    account_raw: str | None = None
    number: str | None = None
    opening: Balance | None = None
    opening_line: int | None = None
    closing: Balance | None = None
    interim_currency: str | None = None
    interim: bool = False
    lines: list[StatementLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f":20:{self.reference}" if self.reference else f"starting at line {self.first_line}"

    @property
    def currency(self) -> str | None:
        for balance in (self.opening, self.closing):
            if balance and balance.currency:
                return balance.currency.upper()
        return self.interim_currency

    @property
    def account(self) -> str | None:
        """Field 25 without spaces, and without a trailing currency code equal to the statement's."""
        account = _account(self.account_raw)
        currency = self.currency
        if account and currency and account.upper().endswith(currency) and len(account) > len(currency):
            account = account[: -len(currency)].rstrip("/")
        return account or None


def _apply_field(statement: Statement, tag: str, line_no: int, lines: list[str], previous_tag: str | None) -> None:
    """Put one field into its statement (SWIFT MT940 field order, tolerantly)."""
    if tag == "61":
        if statement.closing is not None:
            statement.notes.append(f"line {line_no}: :61: after the closing balance of statement {statement.label}")
        statement.lines.append(StatementLine.parse(line_no, lines))
        return
    if tag == "86" and previous_tag == "61" and statement.lines:
        line = statement.lines[-1]
        line.information = (line.information or []) + lines
        return
    text = (lines[0] if len(lines) == 1 else "".join(lines)).strip()
    if tag == "20":
        statement.reference = text or None
    elif tag == "21":
        statement.related_reference = text or None
    elif tag in ("25", "25P"):
        if statement.account_raw is not None:
            statement.problems.append(
                f"line {line_no}: a second :{tag}: (account) inside statement {statement.label}; "
                "the statement is damaged"
            )
        else:
            statement.account_raw = lines[0].strip() if tag == "25P" else text
    elif tag in ("28", "28C"):
        statement.number = re.sub(r"\s", "", text) or None
    elif tag in ("60F", "60M"):
        statement.opening = Balance.parse(text)
        statement.opening_line = line_no
        if statement.opening is None:
            statement.notes.append(f"line {line_no}: opening balance :{tag}:{text} is not readable")
    elif tag in ("62F", "62M"):
        statement.closing = Balance.parse(text)
        if statement.closing is None:
            statement.notes.append(f"line {line_no}: closing balance :{tag}:{text} is not readable")
    elif tag == "NS" and previous_tag == "61" and statement.lines:
        statement.lines[-1].non_swift.extend(lines)
    elif tag in _INTERIM_TAGS:
        statement.interim = True
        if tag == "34F" and re.match(r"^[A-Z]{3}", text):
            statement.interim_currency = statement.interim_currency or text[:3]
    # :64:, :65:, statement-level :86: and :NS: carry nothing a bank line needs.


def _validate(statement: Statement) -> None:
    """The mandatory fields of a statement; what is missing makes it broken (see module docstring)."""
    if statement.message_type == "942":
        statement.interim = True
    if statement.reference is None:
        statement.problems.insert(0, f"line {statement.first_line}: :{statement.first_tag}: without a :20: "
                                     "transaction reference before it (statement header missing)")
    if statement.account_raw is None:
        statement.problems.append(f"statement {statement.label} (line {statement.first_line}) "
                                  "has no :25: account identification")
    if not statement.interim and statement.opening is None:
        where = statement.opening_line or statement.first_line
        statement.problems.append(f"statement {statement.label} (line {where}) has no readable "
                                  ":60F:/:60M: opening balance")
    if not statement.interim and statement.closing is None and statement.reference is not None:
        statement.notes.append(f"statement {statement.label} has no readable :62F:/:62M: closing balance")


# --------------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------------

_HEAD_FIELD = {
    tag: re.compile(rb"(?m)^(?:\xef\xbb\xbf)?[\x00-\x08\x0b\x0c\x0e-\x1f]*:" + tag + rb":")
    for tag in (b"20", b"25", b"60F", b"60M", b"28C", b"34F")
}
_HEAD_ENVELOPE = re.compile(rb"\{1:F01[^}]*\}\s*\{2:[IO]94[02]")
# A file whose first line is an MT940 field is claimed even if it is only a fragment, so that
# parse() can say precisely what is missing instead of "no source recognizes this file".
_HEAD_FIRST_FIELD = re.compile(
    rb"\A(?:\xef\xbb\xbf)?[\x00-\x1f\s]*:(?:20|21|25|28C?|60[FM]|61|62[FM]|64|65|86|34F|13D?|90[CD]|NS):"
)


class Mt940Source:
    name = "mt940"

    def identify(self, path: Path, head: bytes) -> bool:
        """An MT940/MT942 head: the SWIFT envelope, a first line that is an MT940 field, or :20: and
        :25: and a :60F:/:60M:/:28C:/:34F: field at the start of a line."""
        if _HEAD_ENVELOPE.search(head) or _HEAD_FIRST_FIELD.match(head):
            return True
        found = {tag for tag, pattern in _HEAD_FIELD.items() if pattern.search(head)}
        return {b"20", b"25"} <= found and bool(found & {b"60F", b"60M", b"28C", b"34F"})

    def parse(self, path: Path) -> ParseResult:
        reader = _Reader(self, path, keep_statements=True)
        records = list(reader.records())
        return ParseResult(
            records=records,
            transactions_found=reader.found,
            warnings=reader.all_warnings(),
            statements=reader.statements,
        )

    def iter_records(self, path: Path) -> Iterator[NormalizedRecord]:
        """The records one at a time, in the order parse() gives them, for callers that must not hold
        a large file's lines in memory: a UTF-8 file is read in blocks (a file in a single-byte
        encoding is decoded whole, as its encoding is told from all of its text). Statement
        summaries and warnings are not kept; MalformedFile is raised as parse() raises it, before
        any record of a file whose every statement is broken."""
        return _Reader(self, path, keep_statements=False).records()

    def stream(self, path: Path, batch_size: int = 50_000) -> RecordStream:
        """The records in columnar batches, through the fast reader (sources/fast_mt940.py), which
        gives exactly what parse() gives and leaves to this reader what it does not know."""
        from sources.fast_mt940 import Mt940Stream

        return Mt940Stream(self, path, batch_size)


class _Reader:
    """One pass over one file: lines -> fields -> statements -> records, a block of text at a time.

    Fields are applied to their statement as they end and a statement's records are built when the
    next statement starts, so only one statement is held; the warnings come in the order parse()
    lists them. Records of broken statements wait until a statement is found fine (see the
    tolerance policy in the module docstring).
    """

    def __init__(self, source: Mt940Source, path: Path, keep_statements: bool, keep_line_ids: bool = True):
        self.name = source.name
        self.path = path
        self.keep_statements = keep_statements
        #: False when streaming: a summary's line_ids stay empty (the records carry its index)
        self.keep_line_ids = keep_line_ids
        self.head_warnings: list[str] = []
        self.warnings: list[str] = []  # the statements', in file order
        self.tail_warnings: list[str] = []
        self.statements: list[StatementSummary] = []
        self.stray: list[int] = []
        self.stray_count = 0
        self.found = 0
        self.interim_lines = 0
        self.seen = Occurrences()
        self.last_closing: dict[tuple[str | None, str | None], tuple[str, Balance]] = {}
        self.structure_found = False
        self.first_problem: str | None = None
        self.statement_count = 0
        self.fine_found = False
        self.held: list[NormalizedRecord] = []
        self.ready: list[NormalizedRecord] = []
        # the index of the summary each held and ready record belongs to (-1: none)
        self.held_index: list[int] = []
        self.ready_index: list[int] = []
        # the field being read and the statement it goes to
        self.message_type = "940"
        self.field_tag: str | None = None
        self.field_line = 0
        self.field_lines: list[str] = []
        self.field_type = "940"
        self.statement: Statement | None = None
        self.previous_tag: str | None = None
        # where feed() is in the text
        self.number = 0
        self.carry = ""
        self.pending: tuple[int, str] | None = None

    # -- text -------------------------------------------------------------------------------------

    def _texts(self, block_bytes: int | None = None) -> Iterator[str]:
        """The file's text in blocks (of about block_bytes), control bytes removed, line ends as LF."""
        controls = 0
        kinds: set[int] = set()
        utf8 = True
        for block in _blocks(self.path, block_bytes):
            kept = block.translate(None, _CONTROL_DELETE)
            if len(kept) != len(block):
                found = _CONTROL_BYTES.findall(block)
                controls += len(found)
                kinds.update(c[0] for c in found)
            if utf8 and not kept.isascii():
                try:
                    kept.decode("utf-8")
                except UnicodeDecodeError:
                    utf8 = False
        if controls:
            names = ", ".join(sorted({f"0x{c:02X}" for c in kinds}))
            self.head_warnings.append(f"removed {controls} control byte(s) ({names}), e.g. the SOH/ETX framing")
        if not utf8:
            data = self.path.read_bytes()
            if controls:
                data = _CONTROL_BYTES.sub(b"", data)
            text, encoding = _decode(data)
            del data
            if encoding not in ("utf-8", "utf-8-sig"):
                self.head_warnings.append(f"not UTF-8; decoded as {encoding} (check accented names)")
            yield _normalized(text)
            return
        first = True
        for block in _blocks(self.path, block_bytes):
            if controls:
                block = block.translate(None, _CONTROL_DELETE)
            text = _normalized_utf8(block).decode("utf-8-sig" if first else "utf-8")
            first = False
            yield text

    # -- the streaming loop -----------------------------------------------------------------------

    def records(self) -> Iterator[NormalizedRecord]:
        for text in self._texts():
            self.feed(text)
            if self.ready:  # the statements that ended in this block
                yield from self.ready
                self.ready, self.ready_index = [], []
        self.close()
        yield from self.ready
        self.ready, self.ready_index = [], []

    def feed(self, text: str) -> None:
        """Read a block of text (a line may go on in the next block); the records of the statements
        that ended are added to `ready`."""
        lines = text.split("\n")
        lines[0] = self.carry + lines[0]
        self.carry = lines.pop()
        number = self.number
        pending = self.pending  # a line that is only ":", waiting for the next one
        line_of = self._line
        field_line = _FIELD_LINE.match
        for line in lines:
            number += 1
            if pending is not None:
                pending = self._resolve(pending, number, line)
                if pending is None:
                    continue
                pending = None
            stripped = line.strip()
            if not stripped:
                continue
            first = stripped[0]
            if first != ":" and first != "{" and first != "-":
                # a continuation line (the common case, inlined)
                if self.field_tag is not None:
                    self.field_lines.append(line)
                else:
                    self._stray(number)
            elif first == ":" and line[0] == ":" and line[1:3] != "94":
                # a field line (no envelope, pseudo-header or end of message can start so)
                match = field_line(line)
                if match:
                    if self.field_tag is not None:
                        self._end_field()
                    self.field_tag, self.field_line, self.field_lines = match.group(1), number, [match.group(2)]
                    self.field_type = self.message_type
                elif stripped == ":":
                    pending = (number, line)
                elif self.field_tag is not None:
                    self.field_lines.append(line)
                else:
                    self._stray(number)
            elif stripped == ":":
                pending = (number, line)
            else:
                line_of(number, line)
        self.number = number
        self.pending = pending

    def flush(self) -> None:
        """Before a statement that does not come through feed(): the ":" line waiting for its next
        line is read as it is, and the field and statement being read are complete."""
        if self.pending is not None:
            self._line(*self.pending)
            self.pending = None
        self._end_field()
        self._end_statement()

    def close(self) -> None:
        """After the last block: the last line, the last statement, and the file-level checks."""
        # the text's last line: what follows the last line feed (often nothing)
        self.number += 1
        if self.pending is None or self._resolve(self.pending, self.number, self.carry) is not None:
            self._line(self.number, self.carry)
        self.pending = None
        self._end_field()
        self._end_statement()
        if not self.structure_found:
            raise MalformedFile(
                f"{self.path.name}: not an MT940 statement: no :20:, :25:, :60F:, :61: or :62F: field found"
            )
        if not self.fine_found:
            raise MalformedFile(f"{self.path.name}: {self.first_problem}")
        self._finish()

    def _resolve(self, pending: tuple[int, str], number: int, line: str) -> tuple[int, str] | None:
        """A line that is only ":" followed by `line`: one field line when together they make one
        (returns None: `line` is used up), else the ":" line read as it is (returns `pending`)."""
        if _FIELD_LINE.match(":" + line):
            self._line(pending[0], ":" + line)
            return None
        self._line(*pending)
        return pending

    def _stray(self, number: int) -> None:
        self.stray_count += 1
        if len(self.stray) < 5:
            self.stray.append(number)

    def _line(self, number: int, raw: str) -> None:
        """One line, in full: envelope, pseudo-header, end of message, field start or continuation."""
        line, named_type = _without_envelope(raw)
        self.message_type = named_type or self.message_type
        stripped = line.strip()
        pseudo = _PSEUDO_HEADER.match(stripped)
        if pseudo:
            self._end_field()
            self.message_type = pseudo.group(1)
            return
        if _END_OF_MESSAGE.match(stripped):
            self._end_field()
            return
        if not stripped:
            return
        match = _FIELD_LINE.match(line)
        if match:
            self._end_field()
            self.field_tag, self.field_line, self.field_lines = match.group(1), number, [match.group(2)]
            self.field_type = self.message_type
        elif self.field_tag is not None:
            self.field_lines.append(line)
        else:
            self._stray(number)

    # -- fields and statements --------------------------------------------------------------------

    def _end_field(self) -> None:
        """The field being read is complete: put it into its statement (a :20: starts a new one)."""
        tag = self.field_tag
        if tag is None:
            return
        self.field_tag = None
        if tag in _STRUCTURE_TAGS:
            self.structure_found = True
        statement = self.statement
        if tag == "20" or statement is None:
            self._end_statement()
            statement = self.statement = Statement(
                first_line=self.field_line, first_tag=tag, message_type=self.field_type
            )
            self.previous_tag = None
        previous_tag = self.previous_tag
        _apply_field(statement, tag, self.field_line, self.field_lines, previous_tag)
        # :86: and :NS: right after a :61: belong to it; any other field ends the line's block.
        follows_line = tag == "61" or (previous_tag == "61" and (tag == "86" or tag == "NS"))
        self.previous_tag = "61" if follows_line else tag

    def _end_statement(self) -> None:
        statement = self.statement
        if statement is None:
            return
        self.statement = None
        _validate(statement)
        self.statement_count += 1
        if self.statement_count == 1 and statement.problems:
            self.first_problem = statement.problems[0]
        account = statement.account
        warnings = self.warnings
        for problem in statement.problems:
            warnings.append(f"{problem}; its {len(statement.lines)} line(s) are emitted for quarantine")
        warnings.extend(statement.notes)
        self.found += len(statement.lines)
        index = -1
        if statement.interim:
            self.interim_lines += len(statement.lines)
            records: list[NormalizedRecord] = []
        else:
            currency = statement.currency
            records = [self._record(statement, account, currency, line) for line in statement.lines]
            if self.keep_statements:
                index = len(self.statements)
                self.statements.append(self._summary(statement, account, currency,
                                                     records if self.keep_line_ids else []))
            self._chain(statement, account, currency)
        if statement.problems and not self.fine_found:
            self.held.extend(records)
            self.held_index.extend([index] * len(records))
            return
        self._release_held()
        self.ready.extend(records)
        self.ready_index.extend([index] * len(records))

    def _release_held(self) -> None:
        """A fine statement: the held records of broken ones before it go out (tolerance policy)."""
        if not self.fine_found:
            self.fine_found = True
            self.ready.extend(self.held)
            self.ready_index.extend(self.held_index)
            self.held, self.held_index = [], []

    def end_fast_statement(self, statement: Statement, line_count: int) -> int:
        """A statement the fast reader read (fast_mt940.py): fine (no problem, no note), its records
        made there in columns. Counts it as _end_statement would; returns its summary's index."""
        self.structure_found = True
        self.statement_count += 1
        self.found += line_count
        account, currency = statement.account, statement.currency
        index = -1
        if self.keep_statements:
            index = len(self.statements)
            self.statements.append(self._summary(statement, account, currency, []))
        self._chain(statement, account, currency)
        self._release_held()
        return index

    def _chain(self, statement: Statement, account: str | None, currency: str | None) -> None:
        """The :62a: of a statement should be the :60a: of the account's next statement in the file."""
        key = (account, currency)
        if statement.opening and key in self.last_closing:
            label, closing = self.last_closing[key]
            if Decimal(closing.amount) != Decimal(statement.opening.amount):
                self.tail_warnings.append(
                    f"balance chain broken for {account}: statement {label} closes at "
                    f"{closing.amount}, the next one {statement.label} opens at {statement.opening.amount}"
                )
        if statement.closing:
            self.last_closing[key] = (statement.label, statement.closing)

    def _finish(self) -> None:
        chain = self.tail_warnings
        self.tail_warnings = []
        if self.interim_lines:
            self.tail_warnings.append(
                f"{self.interim_lines} interim line(s) of MT942 report(s) were not booked and are not bank "
                "lines (only booked entries count); they are counted but not emitted"
            )
        self.tail_warnings.extend(chain)
        if not self.found:
            self.tail_warnings.append("the file holds statements but no :61: statement lines")

    def all_warnings(self) -> list[str]:
        warnings = list(self.head_warnings)
        if self.stray_count:
            where = ", ".join(map(str, self.stray)) + (" ..." if self.stray_count > 5 else "")
            warnings.append(f"{self.stray_count} line(s) outside any field ignored (line {where})")
        return warnings + self.warnings + self.tail_warnings

    # -- records ----------------------------------------------------------------------------------

    def _record(self, statement: Statement, account: str | None, currency: str | None,
                line: StatementLine) -> NormalizedRecord:
        warnings = self.warnings
        if not line.understood:
            warnings.append(f"line {line.line_no}: :61: statement line not understood ({line.raw[:40]!r}); "
                            "emitted with its raw text as the amount for quarantine")
            amount, value_date, booking_date = line.raw, None, None
        else:
            parsed_amount, parsed_value_date, parsed_booking_date = line.amount(), line.value_date(), line.booking_date()
            amount = parsed_amount or line.amount_raw
            value_date = parsed_value_date or line.value_date_raw
            booking_date = parsed_booking_date or f"{line.value_date_raw}{line.entry_date_raw or ''}"
            if parsed_value_date is None:
                warnings.append(f"line {line.line_no}: :61: value date {line.value_date_raw} is not a calendar "
                                "date; left raw for quarantine")
            if parsed_booking_date is None and line.entry_date_raw:
                warnings.append(f"line {line.line_no}: :61: entry date {line.entry_date_raw} is not a calendar "
                                "date; left raw for quarantine")
            if parsed_amount is None:
                warnings.append(f"line {line.line_no}: :61: amount {line.amount_raw!r} is not a SWIFT amount")
        info = read_information(line.information) if line.information else None
        identity = (account, line.bank_ref, line.value_date_raw, line.entry_date_raw, amount, line.mark,
                    line.customer_ref)
        # Identical lines inside one file are distinct movements; number them so each keeps its id.
        # A line is counted by the id it gets as the first of its kind (16 bytes; the parts that can
        # be None are never empty, so the id text tells the identities apart), so that a large
        # file's counts stay small.
        identity_text = "\x1f".join([self.name, *["" if part is None else part for part in identity]])
        first_id = hashlib.sha256(f"{identity_text}\x1f1".encode("utf-8")).hexdigest()[:32]
        occurrence = self.seen.add(bytes.fromhex(first_id))
        extra: dict[str, str | int | None] = {
            "statement_ref": statement.reference,
            "statement_number": statement.number,
            "line": line.line_no,
            "mark": line.mark,
            "funds_code": line.funds_code,
            "transaction_type": line.transaction_type,
            "customer_ref": line.customer_ref,
            "supplementary_details": line.supplementary_details,
            "details_structure": info.structure if info else None,
            "non_swift": clean(" | ".join(line.non_swift)) if line.non_swift else None,
        }
        if info:
            extra.update(info.extra)
        return NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=account,
            booking_date=booking_date,
            value_date=value_date,
            amount=amount,
            currency=currency,
            counterparty_name=info.counterparty_name if info else None,
            counterparty_account=info.counterparty_account if info else None,
            counterparty_tax_id=None,
            remittance=info.remittance if info else None,
            end_to_end_id=info.end_to_end_id if info else None,
            bank_ref=line.reference(),
            # make_line_id(self.name, *identity, occurrence), in one call
            line_id=first_id if occurrence == 1 else hashlib.sha256(
                f"{identity_text}\x1f{occurrence}".encode("utf-8")).hexdigest()[:32],
            extra={key: value for key, value in extra.items() if value is not None},
        )

    @staticmethod
    def _summary(statement: Statement, account: str | None, currency: str | None,
                 records: list[NormalizedRecord]) -> StatementSummary:
        opening, closing = statement.opening, statement.closing
        return StatementSummary(
            account=account,
            currency=currency,
            statement_id=statement.reference,
            sequence=statement.number,
            opening_balance=opening.amount if opening else None,
            opening_date=opening.date if opening else None,
            closing_balance=closing.amount if closing else None,
            closing_date=closing.date if closing else None,
            line_ids=tuple(record.line_id for record in records),
        )
