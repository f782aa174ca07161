"""PDF bank statements, read with pdfplumber (FORMATS.md §7).

A PDF statement is a printed table: there are no fields, only words at positions. How one bank lays
its statement out is a `LayoutProfile` (sources/pdf_layouts.py); this source does the geometry:

1. Words of every page (`page.extract_words()`), grouped into text lines by their vertical position.
2. The profile is chosen on the first page: its `identify` regex matches the page's text and the
   page carries its table header row (the header texts of the date, description and money columns
   on one line).
3. On each page the header row is found again; lines above it are the page header, repeated header
   rows further down are skipped, and a page without a header row continues the previous page's
   table. Lines matching the profile's `drop_lines` (page headers and footers such as "Сторінка 2 з
   3" printed inside the table area) are dropped; a `table_end` line (totals, the closing balance)
   ends the table on its page.
4. Columns: each header cell starts as the x-range of its words and grows with the runs of words
   below it that fall under it alone (a centred header over left-aligned text, a right-aligned
   amount wider than its header); the boundary between two columns is the middle of the gap between
   them. A word belongs to the column its centre falls in.
5. Rows: a line with a date in the date column starts a transaction; a line without one continues
   the previous transaction (multi-line descriptions and counterparty cells), except a line that
   brings a second amount, which is a new transaction on the same date (dates printed once a day).
   Balance brought/carried forward rows are not transactions.

Statement fields (account, currency, period, opening and closing balance) come from the profile's
regexes over the whole text. Dates without a year ("01 Oct") take it from the statement period. When
the layout prints a running balance, every line's balance is checked against the previous balance
plus the line's amount and the result is one ControlCheck "pdf_running_balance" per statement.

A file that cannot be read as a whole raises MalformedFile: an encrypted PDF (a user password), a PDF
without a text layer (a scan, which needs OCR), a damaged or truncated PDF, a layout no profile
knows, more pages or bytes than the limits. pdfminer's own exceptions never escape.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator, Sequence

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfpage import PDFPage
from pdfplumber.page import Page
from pdfplumber.utils.exceptions import PdfminerException

from sources.errors import MalformedFile, SourceError
from sources.parsing import clean
from sources.pdf_layouts import BUILTIN_PROFILES, MONEY_COLUMNS, LayoutProfile, load_profiles
from sources.records import ControlCheck, NormalizedRecord, ParseResult, StatementSummary, make_line_id

DEFAULT_MAX_PAGES = 500
DEFAULT_MAX_BYTES = 64 * 2**20
#: The PDF end marker sits in the last bytes of a complete file (ISO 32000-1 §7.5.5, "File trailer").
_EOF_WINDOW = 2048
_TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
_NAME_EDGES = " \t·,;/|-–—:"
_MAX_LISTED = 5


# --- text lines from words -----------------------------------------------------------------------


@dataclass
class _Line:
    """The words of one visual line of a page, left to right."""

    page: int
    top: float
    words: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return " ".join(word["text"] for word in self.words)

    @property
    def height(self) -> float:
        return max(word["bottom"] - word["top"] for word in self.words)


def _group_lines(words: list[dict[str, Any]], page: int) -> list[_Line]:
    """Words into lines: a word whose top is within half a line height of the line's top joins it."""
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (w["top"], w["x0"])):
        tolerance = max(1.0, 0.5 * (word["bottom"] - word["top"]))
        if lines and abs(word["top"] - lines[-1].top) <= tolerance:
            lines[-1].words.append(word)
        else:
            lines.append(_Line(page=page, top=word["top"], words=[word]))
    for line in lines:
        line.words.sort(key=lambda w: w["x0"])
    return lines


# --- the table header ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HeaderCell:
    """One column's header: the profile's field (None for a column the profile does not name)."""

    field: str | None
    x0: float
    x1: float


def _match_header(line: _Line, profile: LayoutProfile) -> list[_HeaderCell] | None:
    """The header cells when this line is the profile's table header row, else None.

    Aliases are matched as word sequences, longest first, so "Дата валютування" is the value date
    and not "Дата" followed by an unknown word.
    """
    tokens = [word["text"].casefold() for word in line.words]
    aliases = sorted(
        ((name, alias.casefold().split()) for name, names in profile.aliases().items() for alias in names),
        key=lambda item: -len(item[1]),
    )
    cells: list[_HeaderCell] = []
    found: set[str] = set()
    index = 0
    while index < len(tokens):
        for name, alias in aliases:
            if name not in found and tokens[index : index + len(alias)] == alias:
                words = line.words[index : index + len(alias)]
                cells.append(_HeaderCell(name, words[0]["x0"], words[-1]["x1"]))
                found.add(name)
                index += len(alias)
                break
        else:
            word = line.words[index]
            previous = cells[-1] if cells else None
            # Neighbouring words no alias names form one unknown column ("Назва банку").
            if previous and previous.field is None and word["x0"] - previous.x1 < line.height:
                cells[-1] = _HeaderCell(None, previous.x0, word["x1"])
            else:
                cells.append(_HeaderCell(None, word["x0"], word["x1"]))
            index += 1
    if "date" in found and "description" in found and found & set(MONEY_COLUMNS):
        return cells
    return None


@dataclass
class _Columns:
    """Column boundaries along x; `fields[i]` owns the words whose centre is in [bounds[i-1], bounds[i])."""

    fields: list[str | None]
    bounds: list[float]

    def split(self, line: _Line) -> dict[str | None, str]:
        parts: dict[str | None, list[str]] = {}
        for word in line.words:
            centre = (word["x0"] + word["x1"]) / 2
            index = 0
            while index < len(self.bounds) and centre >= self.bounds[index]:
                index += 1
            parts.setdefault(self.fields[index], []).append(word["text"])
        return {name: " ".join(texts) for name, texts in parts.items()}


def _runs(line: _Line) -> Iterator[tuple[float, float]]:
    """The x-ranges of the runs of words separated by no more than a word space."""
    gap = 0.5 * line.height
    start, end = line.words[0]["x0"], line.words[0]["x1"]
    for word in line.words[1:]:
        if word["x0"] - end > gap:
            yield start, end
            start = word["x0"]
        end = max(end, word["x1"])
    yield start, end


def _fit_columns(cells: list[_HeaderCell], lines: list[_Line]) -> _Columns:
    """Grow each header cell over the runs of words below it that touch it alone, then put each
    boundary in the middle of the gap between neighbours (header midpoints where they overlap)."""
    extents = [[cell.x0, cell.x1] for cell in cells]
    for _ in range(2):  # a second pass lets runs reach a cell through the first pass's growth
        for line in lines:
            for x0, x1 in _runs(line):
                hits = [i for i, (a, b) in enumerate(extents) if x0 < b and x1 > a]
                if len(hits) == 1:
                    extent = extents[hits[0]]
                    extent[0], extent[1] = min(extent[0], x0), max(extent[1], x1)
    bounds: list[float] = []
    for i in range(1, len(cells)):
        left, right = extents[i - 1][1], extents[i][0]
        middle = (left + right) / 2 if left <= right else (cells[i - 1].x1 + cells[i].x0) / 2
        bounds.append(max(middle, bounds[-1]) if bounds else middle)
    return _Columns(fields=[cell.field for cell in cells], bounds=bounds)


# --- money and dates --------------------------------------------------------------------------------

_SUFFIX = re.compile(r"^(?P<number>.*?)\s*(?P<suffix>CR|DR)\.?$", re.IGNORECASE)


def parse_money(text: str | None, profile: LayoutProfile) -> Decimal | None:
    """A printed figure as a Decimal, or None when it is not one.

    Accepts the profile's decimal separator, the other one, spaces and apostrophes as group
    separators (only between groups of three digits, so "1234.56" under a decimal comma is refused
    rather than read a hundred times too big), a leading sign or Unicode minus, a trailing minus,
    parentheses for negatives, and a CR (money in) / DR (money out) suffix when the profile allows it.
    """
    if text is None:
        return None
    raw = text.strip().replace("\u2212", "-")
    sign = 1
    if profile.amount_suffixes and (match := _SUFFIX.match(raw)):
        raw = match["number"]
        if raw[:1] in "+-" or raw.endswith("-"):
            return None  # a sign and a suffix at once: which one wins is a guess
        sign = -1 if match["suffix"].upper() == "DR" else 1
    if raw.startswith("(") and raw.endswith(")"):
        raw, sign = raw[1:-1].strip(), -sign
    if raw.endswith("-"):
        raw, sign = raw[:-1].strip(), -sign
    if raw.startswith(("+", "-")):
        sign = -sign if raw[0] == "-" else sign
        raw = raw[1:].strip()
    decimal = profile.decimal_separator
    group = "[ \u00a0\u202f'" + ("." if decimal == "," else ",") + "]"
    if not re.fullmatch(rf"(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)(?:{re.escape(decimal)}\d+)?", raw):
        return None
    digits = re.sub(group, "", raw).replace(decimal, ".")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    value = sign * value
    return abs(value) if value == 0 else value


def _money_text(value: Decimal) -> str:
    return format(value, "f")


@dataclass(frozen=True)
class _DateToken:
    """A date read from the start of a date cell: its text, the format it fits, what follows it."""

    text: str
    fmt: str
    rest: list[str]

    @property
    def has_year(self) -> bool:
        return "%Y" in self.fmt or "%y" in self.fmt


def _read_date(text: str | None, profile: LayoutProfile) -> _DateToken | None:
    if not text:
        return None
    tokens = text.split()
    for fmt in sorted(profile.date_formats, key=lambda f: -len(f.split())):
        size = len(fmt.split())
        candidate = " ".join(tokens[:size])
        probe, probe_fmt = (candidate, fmt) if ("%Y" in fmt or "%y" in fmt) else (f"{candidate} 2000", f"{fmt} %Y")
        try:
            datetime.strptime(probe, probe_fmt)  # 2000 is a leap year: "29 Feb" is a date
        except ValueError:
            continue
        return _DateToken(candidate, fmt, tokens[size:])
    return None


def _iso_date(token: _DateToken, period: tuple[date, date] | None) -> str:
    """The token as ISO; a yearless date takes the year that puts it inside (or nearest) the period."""
    if token.has_year:
        return datetime.strptime(token.text, token.fmt).date().isoformat()
    assert period is not None  # _StatementReader._finish refuses yearless dates without a period
    start, end = period
    candidates = []
    for year in range(start.year - 1, end.year + 2):
        try:
            candidates.append(datetime.strptime(f"{token.text} {year}", f"{token.fmt} %Y").date())
        except ValueError:  # 29 Feb in a common year
            continue

    def distance(day: date) -> timedelta:
        return max(start - day, day - end, timedelta(0))

    return min(candidates, key=distance).isoformat()


def _parse_period_date(text: str, profile: LayoutProfile) -> date | None:
    text = " ".join(text.split())
    for fmt in profile.period_date_formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# --- the statement's own fields ----------------------------------------------------------------------


@dataclass
class _StatementInfo:
    account: str | None = None
    currency: str | None = None
    period: tuple[date, date] | None = None
    opening: Decimal | None = None
    closing: Decimal | None = None
    closing_printed: bool = False  # found by the pattern, whether or not its figure reads
    statement_id: str | None = None


def _statement_info(text: str, profile: LayoutProfile, warnings: list[str]) -> _StatementInfo:
    info = _StatementInfo()
    if (pattern := profile.pattern("account_pattern")) and (match := pattern.search(text)):
        info.account = re.sub(r"\s", "", match["account"])
    if (pattern := profile.pattern("currency_pattern")) and (match := pattern.search(text)):
        info.currency = match["currency"].upper()
    info.currency = info.currency or profile.default_currency
    if (pattern := profile.pattern("statement_id_pattern")) and (match := pattern.search(text)):
        info.statement_id = clean(match["statement_id"])
    if (pattern := profile.pattern("period_pattern")) and (match := pattern.search(text)):
        start, end = _parse_period_date(match["start"], profile), _parse_period_date(match["end"], profile)
        if start and end and start <= end:
            info.period = (start, end)
        else:
            warnings.append(f"statement period {match.group(0)!r} is not a pair of dates in order; ignored")
    for attribute, name, pick in (("opening", "opening_balance_pattern", 0), ("closing", "closing_balance_pattern", -1)):
        pattern = profile.pattern(name)
        matches = list(pattern.finditer(text)) if pattern else []
        if matches:
            info.closing_printed = info.closing_printed or attribute == "closing"
            figure = matches[pick]["amount"]
            value = parse_money(figure, profile)
            if value is None:
                warnings.append(f"{attribute} balance {figure!r} is not a number; ignored")
            setattr(info, attribute, value)
    if info.account is None:
        warnings.append("no account number found on the statement")
    if info.currency is None:
        warnings.append("no currency found on the statement; lines carry none")
    return info


# --- rows ------------------------------------------------------------------------------------------------


@dataclass
class _Row:
    """A transaction being assembled from its first line and its continuation lines."""

    page: int
    date: _DateToken
    date_inherited: bool = False
    time: str | None = None
    parts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, cells: dict[str | None, str]) -> None:
        for name, text in cells.items():
            if name is not None and text:
                self.parts.setdefault(name, []).append(text)

    def text(self, name: str) -> str | None:
        return clean(" ".join(self.parts.get(name, ())))

    def has_money(self) -> bool:
        return any(self.parts.get(name) for name in MONEY_COLUMNS)


@dataclass
class _BalancePoint:
    """One step of the running balance: a transaction (amount) or a brought/carried forward row."""

    where: str
    amount: Decimal | None
    balance: Decimal | None
    is_transaction: bool
    balance_text: str | None = None


def _spans_columns(line: _Line, columns: _Columns) -> bool:
    """True when one run of words crosses two column boundaries: text, not a table row."""
    return any(sum(1 for bound in columns.bounds if x0 < bound < x1) >= 2 for x0, x1 in _runs(line))


def _has_money(cells: dict[str | None, str]) -> bool:
    return any(cells.get(name) for name in MONEY_COLUMNS)


def _cells_with_date(cells: dict[str | None, str], token: _DateToken | None) -> dict[str | None, str]:
    """Text in the date column that is not the date (nor a time) belongs to the description: a short
    description line can sit left of the midpoint between a centred header pair."""
    cells = dict(cells)
    rest = token.rest if token else (cells.get("date") or "").split()
    extra = [word for word in rest if not _TIME.fullmatch(word)]
    cells.pop("date", None)
    if extra:
        cells["description"] = " ".join([*extra, cells.get("description", "")]).strip()
    return cells


# --- the source ---------------------------------------------------------------------------------------------


class PdfStatementSource:
    """Bank statements printed to PDF, one layout profile per bank (FORMATS.md §7)."""

    name = "pdf_statement"

    def __init__(
        self,
        profiles: Sequence[LayoutProfile] | str | Path | None = None,
        *,
        builtin_profiles: bool = True,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        """`profiles` (LayoutProfile objects or a JSON file of them) are tried before the built-in
        ones, so a bank's own profile wins over the generic layout; `builtin_profiles=False` leaves
        the built-in ones out."""
        extra = load_profiles(profiles) if isinstance(profiles, (str, Path)) else list(profiles or ())
        self.profiles: tuple[LayoutProfile, ...] = (*extra, *(BUILTIN_PROFILES if builtin_profiles else ()))
        if not self.profiles:
            raise ValueError("pdf_statement: no layout profiles")
        names = [profile.name for profile in self.profiles]
        if len(set(names)) != len(names):
            raise ValueError(f"pdf_statement: layout profile names repeat: {', '.join(names)}")
        self.max_pages = max_pages
        self.max_bytes = max_bytes

    # -- identify ------------------------------------------------------------------------------

    def identify(self, path: Path, head: bytes) -> bool:
        """A PDF whose first page matches a statement profile (other PDFs, receipts, are not ours).

        Opens the PDF but reads the first page only.
        """
        if not head.startswith(b"%PDF-"):
            return False
        try:
            if path.stat().st_size > self.max_bytes:
                return False
            with pdfplumber.open(path, unicode_norm="NFC", raise_unicode_errors=False) as pdf:
                for page in _pages(pdf):
                    return self._profile_for(_page_lines(page, 1)) is not None
        except Exception:  # noqa: BLE001 - an unreadable PDF is simply not identified
            return False
        return False

    def _profile_for(self, first_page: list[_Line]) -> LayoutProfile | None:
        text = "\n".join(line.text for line in first_page)
        for profile in self.profiles:
            if profile.pattern("identify").search(text) and any(_match_header(line, profile) for line in first_page):
                return profile
        return None

    # -- parse ---------------------------------------------------------------------------------

    def parse(self, path: Path) -> ParseResult:
        pages, encrypted = self._read_pages(path)
        profile = self._profile_for(pages[0])
        if profile is None:
            tried = ", ".join(p.name for p in self.profiles)
            raise MalformedFile(
                f"{path.name}: the first page matches no statement layout (profiles tried: {tried}); "
                "add a layout profile for this bank"
            )
        result = _StatementReader(self.name, path, profile, pages).read()
        if encrypted:
            # An owner password alone only restricts printing and editing: the text reads as it is.
            result.warnings.insert(0, "the PDF is encrypted with an empty user password (permissions only); read as it is")
        return result

    def diagnose(self, path: Path) -> str | None:
        """Why a PDF cannot be read as a statement (encrypted, a scan, damaged), or None when it can.

        For a caller that found no source for a PDF and wants to tell the user more than that; a
        file that is not a PDF at all is not this source's to explain (None).
        """
        try:
            with open(path, "rb") as handle:
                if not handle.read(5).startswith(b"%PDF-"):
                    return None
        except OSError:
            return None
        try:
            pages, _ = self._read_pages(path)
        except MalformedFile as exc:
            return str(exc)
        return None

    def _read_pages(self, path: Path) -> tuple[list[list[_Line]], bool]:
        """The text lines of every page and whether the PDF is encrypted (readable with an empty user
        password); raises MalformedFile for a file that cannot be read."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                start = handle.read(1024)
                handle.seek(max(0, size - _EOF_WINDOW))
                tail = handle.read()
        except OSError as exc:
            raise MalformedFile(f"{path.name}: cannot be read: {exc.strerror or exc}") from None
        if size > self.max_bytes:
            raise MalformedFile(f"{path.name}: {size} bytes, more than the {self.max_bytes}-byte limit for a PDF statement")
        if not start.startswith(b"%PDF-"):
            raise MalformedFile(f"{path.name}: not a PDF (no %PDF- header)")
        if b"%%EOF" not in tail:
            raise MalformedFile(f"{path.name}: the PDF is truncated (no %%EOF end marker); download the statement again")
        try:
            with pdfplumber.open(path, unicode_norm="NFC", raise_unicode_errors=False) as pdf:
                encrypted = pdf.doc.encryption is not None
                pages: list[list[_Line]] = []
                for number, page in enumerate(_pages(pdf), start=1):
                    if number > self.max_pages:
                        raise MalformedFile(f"{path.name}: more than {self.max_pages} pages; split the statement by period")
                    pages.append(_page_lines(page, number))
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - pdfminer raises anything on a damaged file
            raise _unreadable(path, exc) from None
        if not pages:
            raise MalformedFile(f"{path.name}: the PDF has no pages")
        if not any(pages):
            raise MalformedFile(f"{path.name}: the PDF has no text layer (a scan); it needs OCR")
        return pages, encrypted


def _pages(pdf: pdfplumber.PDF) -> Iterator[Page]:
    """The pages one at a time (pdfplumber's `pdf.pages` would build the whole list first)."""
    doctop = 0.0
    for number, page_obj in enumerate(PDFPage.create_pages(pdf.doc), start=1):
        page = Page(pdf, page_obj, page_number=number, initial_doctop=doctop)
        doctop += page.height
        yield page


def _page_lines(page: Page, number: int) -> list[_Line]:
    words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
    page.close()  # drop the page's cached layout objects: memory stays flat over long statements
    return _group_lines(words, number)


def _unreadable(path: Path, exc: Exception) -> MalformedFile:
    inner = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
    if isinstance(inner, (PDFPasswordIncorrect, PDFEncryptionError)):
        return MalformedFile(f"{path.name}: the PDF is encrypted; ask the bank for an unprotected statement")
    detail = " ".join(str(inner).split())[:120]
    reason = type(inner).__name__ + (f": {detail}" if detail else "")
    return MalformedFile(f"{path.name}: the PDF is damaged and cannot be read ({reason})")


class _StatementReader:
    """One parse: the pages' lines under one profile into records, a summary and the balance check."""

    def __init__(self, source: str, path: Path, profile: LayoutProfile, pages: list[list[_Line]]):
        self.source = source
        self.path = path
        self.profile = profile
        self.pages = pages
        self.warnings: list[str] = []
        self.records: list[NormalizedRecord] = []
        self.points: list[_BalancePoint] = []
        self.seen: Counter[tuple] = Counter()
        self.orphans: list[str] = []
        self.strays: list[str] = []

    def read(self) -> ParseResult:
        text = "\n".join(line.text for page in self.pages for line in page)
        self.info = _statement_info(text, self.profile, self.warnings)
        self._check_completeness(text)
        tables = self._tables()
        if not tables:
            raise MalformedFile(f"{self.path.name}: no transaction table header found (layout {self.profile.name})")
        columns = self._columns(tables)
        current: _Row | None = None
        for header, lines in tables:
            for line in lines:
                current = self._read_line(line, columns[header], current)
        if current is not None:
            self._finish(current)
        if self.orphans:
            listed = "; ".join(self.orphans[:_MAX_LISTED])
            self.warnings.append(f"{len(self.orphans)} line(s) in the table before any transaction, not read: {listed}")
        if self.strays:
            listed = "; ".join(self.strays[:_MAX_LISTED])
            self.warnings.append(f"{len(self.strays)} line(s) running across the table's columns, not read: {listed}")
        return ParseResult(
            records=self.records,
            transactions_found=len(self.records),
            warnings=self.warnings,
            statements=[self._summary()],
            checks=self._running_balance_check(),
        )

    def _check_completeness(self, text: str) -> None:
        """Signs that part of the statement did not read: a page without text between pages with text,
        fewer pages than the footer counts, no closing balance where the layout prints one."""
        total = len(self.pages)
        blank = [str(number) for number, lines in enumerate(self.pages, start=1) if not lines]
        if blank:
            self.warnings.append(f"page(s) {', '.join(blank)} of {total} carry no text (damaged, or scanned); their lines are missing")
        if pattern := self.profile.pattern("page_count_pattern"):
            counts = {int(match["total"]) for match in pattern.finditer(text)}
            if counts and max(counts) != total:
                self.warnings.append(f"the page footers count {max(counts)} pages, the file has {total}; pages are missing")
        if self.profile.pattern("closing_balance_pattern") and not self.info.closing_printed:
            self.warnings.append("no closing balance found; the statement may be incomplete")

    # -- pages into tables --

    def _tables(self) -> list[tuple[tuple, list[_Line]]]:
        """Per page: (header geometry key, the table's lines). A page without a header row continues
        with the previous page's columns; lines above a page's header row are its page header."""
        tables: list[tuple[tuple, list[_Line]]] = []
        self.headers: dict[tuple, list[_HeaderCell]] = {}
        key: tuple | None = None
        for page in self.pages:
            start = 0
            for index, line in enumerate(page):
                cells = _match_header(line, self.profile)
                if cells is not None:
                    key = tuple((c.field, round(c.x0), round(c.x1)) for c in cells)
                    self.headers.setdefault(key, cells)
                    start = index + 1
                    break
            else:
                if key is None:
                    continue  # a cover page before the table starts
            body: list[_Line] = []
            for line in page[start:]:
                text = line.text
                if any(p.search(text) for p in self.profile.patterns("drop_lines")):
                    continue
                if any(p.search(text) for p in self.profile.patterns("table_end")):
                    break
                if _match_header(line, self.profile) is not None:
                    continue  # the header row repeated inside the table
                body.append(line)
            tables.append((key, body))
        return tables

    def _columns(self, tables: list[tuple[tuple, list[_Line]]]) -> dict[tuple, _Columns]:
        """Columns fitted over all the lines under one header geometry (pages share their layout)."""
        lines_by_key: dict[tuple, list[_Line]] = {}
        for key, lines in tables:
            lines_by_key.setdefault(key, []).extend(lines)
        return {key: _fit_columns(self.headers[key], lines) for key, lines in lines_by_key.items()}

    # -- lines into rows --

    def _read_line(self, line: _Line, columns: _Columns, current: _Row | None) -> _Row | None:
        if _spans_columns(line, columns):
            # Page furniture the profile's drop_lines do not name (a running page header): table
            # cells never run across two column boundaries.
            self.strays.append(f"page {line.page}: {line.text[:60]!r}")
            return current
        cells = columns.split(line)
        description = clean(cells.get("description")) or ""
        if any(p.search(description) for p in self.profile.patterns("carried_balance")):
            if current is not None:
                self._finish(current)
            balance_text = clean(cells.get("balance"))
            balance = parse_money(balance_text, self.profile)
            self.points.append(_BalancePoint(f"page {line.page}, {description}", None, balance, False, balance_text))
            return None
        token = _read_date(cells.get("date"), self.profile)
        if token is not None:
            if current is not None:
                self._finish(current)
            row = _Row(page=line.page, date=token, time=next((w for w in token.rest if _TIME.fullmatch(w)), None))
            row.add(_cells_with_date(cells, token))
            return row
        if current is not None and _has_money(cells) and current.has_money():
            # A second amount is a second transaction: the bank printed the day's date only once.
            self._finish(current)
            row = _Row(page=line.page, date=current.date, date_inherited=True)
            row.add(_cells_with_date(cells, None))
            return row
        if current is not None:
            if current.time is None:  # some banks print the time under the date
                current.time = next((w for w in (cells.get("date") or "").split() if _TIME.fullmatch(w)), None)
            current.add(_cells_with_date(cells, None))
            return current
        self.orphans.append(f"page {line.page}: {line.text[:60]!r}")
        return None

    def _finish(self, row: _Row) -> None:
        profile, info = self.profile, self.info
        if not row.date.has_year and info.period is None:
            raise MalformedFile(
                f"{self.path.name}: dates such as {row.date.text!r} carry no year and no statement period "
                f"was found (layout {profile.name})"
            )
        booking_date = _iso_date(row.date, info.period)
        value_token = _read_date(row.text("value_date"), profile)
        value_date = _iso_date(value_token, info.period) if value_token else (row.text("value_date") or booking_date)
        amount, readable = self._amount(row)
        balance_text = row.text("balance")
        balance = parse_money(balance_text, profile)
        name, account, tax_id = self._counterparty(row.text("counterparty"))
        remittance = row.text("description")
        bank_ref = row.text("reference")
        identity = (info.account, bank_ref, booking_date, value_date, amount, info.currency, name, account, remittance)
        # Identical lines inside one statement are distinct payments; number them so each keeps its id.
        self.seen[identity] += 1
        extra: dict[str, Any] = {"page": row.page, "layout": profile.name}
        if balance_text is not None:
            extra["balance"] = _money_text(balance) if balance is not None else balance_text
        if not row.date.has_year:
            extra["date_text"] = row.date.text
        if row.date_inherited:
            extra["date_source"] = "previous line"
        if row.time:
            extra["time"] = row.time
        self.records.append(
            NormalizedRecord(
                record_type="bank_line",
                source_format=self.source,
                account=info.account,
                booking_date=booking_date,
                value_date=value_date,
                amount=amount,
                currency=info.currency,
                counterparty_name=name,
                counterparty_account=account,
                counterparty_tax_id=tax_id,
                remittance=remittance,
                end_to_end_id=None,
                bank_ref=bank_ref,
                line_id=make_line_id(self.source, *identity, self.seen[identity]),
                extra=extra,
            )
        )
        where = f"page {row.page}, line of {booking_date} {amount}"
        number = Decimal(amount) if readable and amount is not None else None
        self.points.append(_BalancePoint(where, number, balance, True, balance_text))

    def _amount(self, row: _Row) -> tuple[str | None, bool]:
        """(signed amount text, readable). An unreadable figure is kept as printed for the contract."""
        profile = self.profile
        if row.text("amount") is not None or not (profile.debit or profile.credit):
            text = row.text("amount")
            value = parse_money(text, profile)
            if text is None or value is None:
                return text, False
            return _money_text(value), True
        debit_text, credit_text = row.text("debit"), row.text("credit")
        debit, credit = parse_money(debit_text, profile), parse_money(credit_text, profile)
        if debit_text is None and credit_text is None:
            return None, False
        if (debit_text is not None and debit is None) or (credit_text is not None and credit is None):
            return (debit_text if debit is None and debit_text is not None else credit_text), False
        total = abs(credit or Decimal(0)) - abs(debit or Decimal(0))
        return _money_text(total), True

    def _counterparty(self, text: str | None) -> tuple[str | None, str | None, str | None]:
        """(name, account, tax id) from a counterparty cell that may hold all three."""
        if text is None:
            return None, None, None
        account = tax_id = None
        if (pattern := self.profile.pattern("counterparty_account_pattern")) and (match := pattern.search(text)):
            account = match.group(0)
            text = text[: match.start()] + " " + text[match.end() :]
        if (pattern := self.profile.pattern("counterparty_tax_id_pattern")) and (match := pattern.search(text)):
            tax_id = match["tax_id"]
            text = text[: match.start()] + " " + text[match.end() :]
        name = clean(text)
        return (name.strip(_NAME_EDGES) or None) if name else None, account, tax_id

    # -- the statement's control figures --

    def _summary(self) -> StatementSummary:
        info = self.info
        carried = [p for p in self.points if not p.is_transaction and p.balance is not None]
        opening, closing = info.opening, info.closing
        if opening is None and carried and carried[0] is self.points[0]:
            opening = carried[0].balance  # BALANCE BROUGHT FORWARD before the first line
        if closing is None and carried and carried[-1] is self.points[-1]:
            closing = carried[-1].balance
        return StatementSummary(
            account=info.account,
            currency=info.currency,
            statement_id=info.statement_id,
            sequence=None,
            opening_balance=_money_text(opening) if opening is not None else None,
            opening_date=info.period[0].isoformat() if info.period else None,
            closing_balance=_money_text(closing) if closing is not None else None,
            closing_date=info.period[1].isoformat() if info.period else None,
            line_ids=tuple(record.line_id for record in self.records),
        )

    def _running_balance_check(self) -> list[ControlCheck]:
        """Each printed running balance = the previous balance + the line's amount."""
        if not self.profile.balance or not any(p.balance is not None for p in self.points):
            return []
        previous = self.info.opening
        start: Decimal | None = previous
        total = Decimal(0)
        last_printed: Decimal | None = None
        problems: list[str] = []
        for point in self.points:
            if point.balance is None and point.balance_text is not None:
                problems.append(f"{point.where}: balance {point.balance_text!r} is not a number")
            if point.is_transaction:
                if point.amount is None:
                    problems.append(f"{point.where}: amount unreadable, balance cannot be followed")
                    previous = point.balance
                    continue
                total += point.amount
                if start is None and point.balance is not None:
                    # No opening balance: the first printed balance tells what it was.
                    start = point.balance - total
                    previous = point.balance - point.amount
                expected = previous + point.amount if previous is not None else None
            else:
                if start is None and point.balance is not None:
                    start, previous = point.balance - total, point.balance
                expected = previous
            if point.balance is not None:
                if expected is not None and point.balance != expected:
                    problems.append(f"{point.where}: balance printed {point.balance}, previous balance + amount = {expected}")
                previous = last_printed = point.balance
            else:
                previous = expected
        closing = self.info.closing
        if closing is not None and last_printed is not None and closing != last_printed:
            problems.append(f"closing balance {closing} differs from the last running balance {last_printed}")
        actual = start + total if start is not None else None
        passed = not problems and actual is not None and actual == last_printed
        if problems:
            listed = "; ".join(problems[:_MAX_LISTED])
            more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
            self.warnings.append(f"running balance does not follow the lines at {len(problems)} point(s): {listed}{more}")
        info = self.info
        period = f" {info.period[0].isoformat()}..{info.period[1].isoformat()}" if info.period else ""
        return [
            ControlCheck(
                name="pdf_running_balance",
                scope=f"statement {info.account or '(no account)'}{period}",
                expected=_money_text(last_printed) if last_printed is not None else None,
                actual=_money_text(actual) if actual is not None else None,
                passed=passed,
            )
        ]
