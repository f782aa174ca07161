"""Helpers shared by the settlement-report sources (PayPal, Stripe, Adyen, LiqPay).

Settlement reports are written from the *provider balance's* side: money a customer pays in is a
credit of our merchant balance (positive), a provider fee, a refund, a chargeback or a payout to our
bank is a debit (negative). A row that carries both a gross amount and a fee becomes two records,
the gross one and the fee one, whose line_ids share the row's identity plus a part suffix
("gross" / "fee"), so that the sum of a file's records equals the net movement of the balance
(PRODUCT.md, "Normalized records"; FORMATS.md §4 and §5).

Money never goes through float: amounts are read as text into Decimal and written back as canonical
decimal strings; a value that is not a number stays raw so the data contract can quarantine it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Iterable, Iterator, Mapping, Sequence

from sources.errors import MalformedFile
from sources.records import ControlCheck

#: A plain decimal number as the reports write them: "0.95", "-10", ".11", "+3.35".
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
#: What Excel makes of a long digit string it took for a number: "1.2302025304E+022".
_EXCEL_MANGLED = re.compile(r"\d(?:[.,]\d+)?E\+?\d+", re.IGNORECASE)
#: A date at the start of a timestamp: "2026-01-30 10:11:12", "2026/01/06 00:00:30 -0800".
_LEADING_ISO_DATE = re.compile(r"\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:$|[ T])", re.ASCII)
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-"})

#: Shown at most this many references per warning line; the rest are counted.
SHOWN_REFS = 5


# --- text ------------------------------------------------------------------------------------------


def decode_report(data: bytes, file_name: str, fallbacks: Sequence[str] = ("cp1252",)) -> tuple[str, str]:
    """The report's text and the encoding it was read with.

    UTF-8 with or without a BOM, UTF-16 with a BOM or (older PayPal files) without one, else the
    first fallback 8-bit code page that decodes. Raises MalformedFile when nothing fits.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode(data[3:], "utf-8", file_name), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "utf-16", file_name), "utf-16"
    bare_utf16 = _bare_utf16(data)
    if bare_utf16:
        return _decode(data, bare_utf16, file_name), bare_utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in fallbacks:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise MalformedFile(f"{file_name}: the text is neither UTF-8 nor UTF-16 ({', '.join(fallbacks)} tried too); export the report again")


def _decode(data: bytes, encoding: str, file_name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise MalformedFile(f"{file_name}: broken {encoding} text at byte {error.start}; download the report again") from None


def _bare_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII text then has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 4 or sample.count(0) < len(sample) // 3:
        return None
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    return "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"


def head_text(head: bytes) -> str:
    """The first bytes of a file as text, for `identify`: tolerant of a cut multi-byte sequence."""
    if head.startswith(codecs.BOM_UTF8):
        return head[3:].decode("utf-8", errors="ignore")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="ignore")
    bare_utf16 = _bare_utf16(head)
    if bare_utf16:
        return head[: len(head) // 2 * 2].decode(bare_utf16, errors="ignore")
    return head.decode("utf-8", errors="ignore")


def head_rows(head: bytes, limit: int = 12, delimiter: str = ",") -> list[list[str]]:
    """The first complete CSV rows of a file's head (a row cut by the 8 KiB limit is dropped)."""
    text = head_text(head)
    if "\n" in text:
        text = text[: text.rfind("\n")]
    try:
        rows = []
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if len(rows) >= limit:
                break
        return rows
    except csv.Error:
        return []


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, without a second copy of the text (io.StringIO would
    hold it as 4 bytes a character: 400 MB for a 100 MB report)."""
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # old Mac or mixed line ends
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def csv_rows(text: str, file_name: str, delimiter: str = ",") -> Iterable[list[str]]:
    """The CSV rows of a report; a CSV syntax error becomes MalformedFile naming the line."""
    reader = csv.reader(_lines(text), delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise MalformedFile(f"{file_name}: not readable as CSV near line {reader.line_num}: {error}") from None
        yield row


def norm_header(name: str) -> str:
    """A header compared case-, quote- and space-insensitively ("Transaction  Debit or Credit")."""
    return " ".join(name.replace("\ufeff", "").strip().strip('"').split()).casefold()


class Cells(dict):
    """One CSV row read by field name; a column the file lacks reads as empty."""

    __slots__ = ()

    def __missing__(self, field: str) -> str:
        return ""

    def get(self, field: str, default: str = "") -> str:  # type: ignore[override]
        return self[field]

    @classmethod
    def of(cls, row: Sequence[str], fields: tuple[tuple[str, int], ...]) -> "Cells":
        width = len(row)
        return cls({field: row[index].strip() for field, index in fields if index < width})


def header_positions(header: Sequence[str], columns: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """field -> column index, for the first accepted name of each field found in the header."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(norm_header(name), position)
    positions: dict[str, int] = {}
    for field, names in columns.items():
        for name in names:
            position = index.get(norm_header(name))
            if position is not None:
                positions[field] = position
                break
    return positions


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a CSV header line: the most frequent of , ; and tab."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def text_or_none(value: str | None) -> str | None:
    """Whitespace-normalized text; empty is None."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


# --- money -----------------------------------------------------------------------------------------


def plain_decimal(raw: str | None) -> Decimal | str | None:
    """A report amount: None when empty, a Decimal when it is a plain number, else the raw text."""
    if raw is None:
        return None
    text = raw.strip().translate(_MINUS_SIGNS)
    if not text:
        return None
    if _PLAIN_DECIMAL.fullmatch(text):
        return Decimal(text)
    return raw


def money_text(value: Decimal | str | None) -> str | None:
    """A canonical decimal string ("0.76", "-10", never "-0.00"), or the raw text as it came."""
    if value is None or isinstance(value, str):
        return value
    if value == 0:
        value = abs(value)
    return format(value, "f")


def identity_amount(value: Decimal | str | None) -> str | None:
    """An amount for a line identity: the same figure however many decimals a file writes
    ("3000.0" in JSON, "3000,00" in CSV), so one payment keeps one line id across report formats."""
    if isinstance(value, Decimal):
        value = value.normalize()
        return money_text(value.quantize(Decimal(1)) if value == value.to_integral() else value)
    return value


def add(*values: Decimal | str | None) -> Decimal | str | None:
    """The sum of amounts, None counted as zero; the first raw (unparseable) value wins."""
    total = Decimal(0)
    for value in values:
        if isinstance(value, str):
            return value
        if value is not None:
            total += value
    return total


def looks_excel_mangled(value: str | None) -> bool:
    """True for a reference that a spreadsheet rewrote in scientific notation (digits lost)."""
    return bool(value) and ("E" in value or "e" in value) and _EXCEL_MANGLED.fullmatch(value.strip()) is not None


# --- dates -----------------------------------------------------------------------------------------


def leading_iso_date(raw: str | None) -> str | None:
    """The calendar date at the start of "YYYY-MM-DD hh:mm:ss" / "YYYY/MM/DD ..." as written (the
    provider's local date), or the raw text when it is not a date (the contract rejects it)."""
    if raw is None or not raw.strip():
        return None
    match = _LEADING_ISO_DATE.match(raw)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            return raw
    return raw


# --- bookkeeping -----------------------------------------------------------------------------------


class Occurrences:
    """Numbers identical identities inside one file, so that two equal rows keep distinct line ids.

    Identities are kept as 12-byte digests, not as tuples of their strings: a million-row report
    would otherwise hold a second copy of every row's references just to count them. (Python's own
    hash() is salted per process, so it cannot be used: the numbering must be the same every run.)
    """

    def __init__(self) -> None:
        self._seen: Counter[bytes] = Counter()

    def next(self, identity: tuple) -> int:
        text = "\x1f".join("" if part is None else str(part) for part in identity)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()
        self._seen[key] += 1
        return self._seen[key]


class SkipTally:
    """Rows read but kept out of the records, by reason, for one warning line per reason."""

    def __init__(self) -> None:
        self._refs: dict[str, list[str]] = {}

    def add(self, reason: str, ref: str | None) -> None:
        self._refs.setdefault(reason, []).append(ref or "(no id)")

    def warnings(self) -> list[str]:
        lines = []
        for reason, refs in self._refs.items():
            shown = ", ".join(refs[:SHOWN_REFS]) + (f" and {len(refs) - SHOWN_REFS} more" if len(refs) > SHOWN_REFS else "")
            lines.append(f"{len(refs)} row(s) not kept as records: {reason}: {shown}")
        return lines


def amount_check(name: str, scope: str, expected: Decimal | str | None, actual: Decimal) -> ControlCheck:
    """A control total: the figure the file states against the one its lines give."""
    passed = isinstance(expected, Decimal) and expected == actual
    return ControlCheck(name=name, scope=scope, expected=money_text(expected), actual=money_text(actual), passed=passed)


def count_check(name: str, scope: str, expected: str | None, actual: int) -> ControlCheck:
    text = (expected or "").strip()
    passed = re.fullmatch(r"[0-9]+", text) is not None and int(text) == actual
    return ControlCheck(name=name, scope=scope, expected=expected, actual=str(actual), passed=passed)


def compact_extra(**values: object) -> dict[str, object]:
    """`extra` without empty values; every value a str or int (JSON-safe, no float)."""
    extra: dict[str, object] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        kind = type(value)
        if kind is str or kind is int:
            extra[key] = value
        elif kind is bool:
            extra[key] = "true" if value else "false"
        elif kind is Decimal:
            extra[key] = money_text(value)
        else:
            extra[key] = str(value)
    return extra
