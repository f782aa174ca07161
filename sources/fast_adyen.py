"""The columnar fast reader of Adyen settlement details reports (AdyenSettlementSource.stream).

The report is read with pyarrow's CSV reader in blocks, and each block's rows become their records
with vectorised kernels: amounts as integer micro-units with the number of decimals each value was
written with (so "1.00" stays "1.00" and sums keep Decimal's exponent), texts by pyarrow's string
kernels, and the per-distinct-value Python helpers of sources/adyen_reports.py for what has few
values (journal types, currencies, dates). It gives exactly what `parse()` gives: the same records
in the same order with the same line ids, the same warnings and ControlChecks
(tests/unit/test_fast_adyen.py compares both on every real fixture and on generated files).

What it does not take is left to the per-row reader, for the whole file: a file that is not plain
UTF-8 (a BOM is fine) or has a NUL byte or a lone carriage return, a header over several lines or
quoted, rows pyarrow cannot read as the header's width, a journal type outside the documented ones
(or an empty row), an amount that is not a plain number of at most 11 integer and 6 decimal
digits, a cell longer than Python's csv field limit. When that is found in a later block, the
blocks already delivered stand (they are exact) and the per-row reader replays the file from the
start, delivering only the records after them.

pyarrow and Python's csv module agree on quoting (doubled quotes, quotes inside a field, text
after a closing quote, delimiters and line ends inside quotes); an unterminated quote makes
pyarrow fail, and the per-row reader then says what it says.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sources.adyen_reports import (
    COLUMNS,
    CORRECTIONS,
    JOURNAL_TYPES,
    NO_MONEY_TYPES,
    PAYOUT_TYPES,
    PROVIDER,
    REFERENCE_FIELDS,
    _AdyenReader,
    header_columns,
)
from sources.records import RECORD_FIELDS, NormalizedRecord, RecordBatch
from sources.errors import MalformedFile
from sources.fast_common import null_if_empty, value_bytes
from sources.settlement_common import looks_excel_mangled, sniff_delimiter

#: The characters str.strip() removes (str.isspace()), for pyarrow's utf8_trim.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                 "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: Whitespace that " ".join(value.split()) changes inside a stripped value (text_or_none).
_INNER_WHITESPACE = "[\t\n\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|  "
#: Python's csv module refuses a field longer than this (csv.field_size_limit()).
_FIELD_LIMIT = csv.field_size_limit()
#: A plain amount (settlement_common._PLAIN_DECIMAL, re.ASCII).
_PLAIN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
_INT_DIGITS, SCALE = 11, 6
_POW10 = np.array([10**k for k in range(SCALE + 1)], dtype=np.int64)
#: leading_iso_date's pattern (re.ASCII) in RE2: the date part of the value's start.
_LEADING_DATE = r"^[ \t\n\r\f\v]*(?P<date>[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2})(?:$|[ T])"
BATCH_COLUMNS = (*RECORD_FIELDS, "extra", "statement")
_STR = pd.StringDtype("pyarrow", na_value=np.nan)
_NULL_STR = pa.scalar(None, pa.string())


class _Replay(Exception):
    """The fast reader met something it does not take: the per-row reader reads the file."""


# --------------------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------------------


class AdyenStream:
    """AdyenSettlementSource.stream(): batches from the fast reader, else the per-row reader."""

    def __init__(self, source, path: Path, batch_size: int):
        self.source = source
        self.path = Path(path)
        self.batch_size = batch_size
        self.transactions_found = 0
        self.warnings: list[str] = []
        self.checks: list = []
        #: repeated rows are numbered (occurrences), so every line id is unique
        self.unique_line_ids = True
        self.fast_rows = 0  # rows read by the fast reader (for tests and the benchmark)
        self.replayed = False

    def batches(self) -> Iterator[RecordBatch]:
        delivered = 0
        fast = _FastReader(self.source, self.path, min(BLOCK_BYTES, max(1 << 16, self.batch_size * BYTES_PER_RECORD)))
        pending: list[pa.Table] = []
        count = 0
        try:
            for table in fast.tables():
                pending.append(table)
                count += table.num_rows
                if count >= self.batch_size:
                    batch = _batch(pending)
                    pending, count = [], 0
                    delivered += len(batch)
                    yield batch
        except _Replay:
            self.replayed = True
            yield from self._replay(delivered)
            return
        if pending:
            yield _batch(pending)
        self.fast_rows = fast.reader.found
        self._totals(fast.reader)

    def _totals(self, reader: _AdyenReader) -> None:
        self.transactions_found = reader.found
        self.warnings = reader.warnings_lines()
        self.checks = reader.batch_checks()

    def _replay(self, skip: int) -> Iterator[RecordBatch]:
        header, positions, rows = self.source._open(self.path)
        reader = _AdyenReader(self.source.name, header, positions)
        seen = 0
        block: list[NormalizedRecord] = []
        for records in reader.read(rows):
            for record in records:
                seen += 1
                if seen > skip:
                    block.append(record)
            records.clear()
            if len(block) >= self.batch_size:
                yield _record_batch(block)
                block = []
        if block:
            yield _record_batch(block)
        self._totals(reader)


def _batch(tables: list[pa.Table]) -> RecordBatch:
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return RecordBatch(frame=table.to_pandas(types_mapper=_pandas_type))


def _record_batch(records: list[NormalizedRecord]) -> RecordBatch:
    rows = [(*(getattr(r, name) for name in RECORD_FIELDS), _extra_json(r.extra)) for r in records]
    columns = list(zip(*rows))
    data = {name: pa.array(columns[i], pa.string()) for i, name in enumerate(BATCH_COLUMNS[:-1])}
    data["statement"] = pa.array(np.full(len(records), -1, dtype=np.int64))
    return RecordBatch(frame=pa.table(data).to_pandas(types_mapper=_pandas_type))


def _extra_json(extra: dict[str, Any] | None) -> str | None:
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None


def _pandas_type(arrow_type: pa.DataType):
    return _STR if arrow_type == pa.string() or arrow_type == pa.large_string() else None


# --------------------------------------------------------------------------------------------------
# The fast reader
# --------------------------------------------------------------------------------------------------

#: The largest block read at once; a block is about batch_size / 2 rows (two records a row, about
#: 190 bytes a row in a 30-column report), so that a batch holds about batch_size records.
BLOCK_BYTES = 4 << 20
BYTES_PER_RECORD = 100


class _FastReader:
    def __init__(self, source, path: Path, block_bytes: int = BLOCK_BYTES):
        self.source = source
        self.path = path
        self.block_bytes = block_bytes
        self.reader: _AdyenReader | None = None
        self.seen = _Seen()

    def _header(self) -> tuple[list[str], str, int]:
        """The header, the delimiter, and the file's size; _Replay unless the file is plain."""
        size = 0
        with open(self.path, "rb") as handle:
            head = handle.read(1 << 16)
            if not head.strip():
                raise _Replay
            if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise _Replay
            start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
            end = head.find(b"\n", start)
            if end < 0:
                raise _Replay
            line = head[start:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip() or b'"' in line or b"\r" in line:
                raise _Replay
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise _Replay from None
            # NUL bytes (UTF-16 without a BOM, binary) and lone carriage returns: the per-row reader
            handle.seek(0)
            last_cr = False
            for piece in iter(lambda: handle.read(16 << 20), b""):
                size += len(piece)
                if b"\0" in piece:
                    raise _Replay
                if last_cr and not piece.startswith(b"\n"):
                    raise _Replay
                crs = piece.count(b"\r")
                if crs:
                    pairs = piece.count(b"\r\n")
                    last_cr = piece.endswith(b"\r")
                    if crs != pairs + last_cr:
                        raise _Replay
            if last_cr:
                raise _Replay
        delimiter = sniff_delimiter(text)
        header = next(csv.reader([text], delimiter=delimiter))
        return header, delimiter, size

    def tables(self) -> Iterator[pa.Table]:
        try:
            header, delimiter, size = self._header()
        except OSError:
            raise _Replay from None
        try:
            positions = header_columns(self.path.name, header)
        except MalformedFile:
            raise _Replay from None  # the per-row reader says what is wrong (the encoding may come first)
        self.reader = _AdyenReader(self.source.name, header, positions)
        names = [f"c{i}" for i in range(len(header))]
        try:
            stream = pcsv.open_csv(
                self.path,
                read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=self.block_bytes, use_threads=True),
                parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
                convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                                    quoted_strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, pa.ArrowException):
            raise _Replay from None
        while True:
            try:
                block = stream.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowException):
                raise _Replay from None
            if block.num_rows:
                table = _Block(self, block, positions).records()
                if table is not None:
                    yield table


class _Seen:
    """Line identities seen in the file (as the 16 bytes of their first line id), to number the
    repeated ones: sorted numpy runs, merged as they grow, and a dict for the repeated ones."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.repeated: dict[bytes, int] = {}

    def _known(self, digests: np.ndarray) -> np.ndarray:
        found = np.zeros(len(digests), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, digests), len(run) - 1)
            found |= run[at] == digests
        return found

    def occurrences(self, digests: np.ndarray) -> np.ndarray:
        """Each digest's occurrence number (1 for the first), counting in file order."""
        numbers = np.ones(len(digests), dtype=np.int64)
        if not len(digests):
            return numbers
        _, inverse, counts = np.unique(digests, return_inverse=True, return_counts=True)
        special = (counts[inverse] > 1) | self._known(digests)
        new = ~special
        if special.any():
            local: set[bytes] = set()
            for row in np.flatnonzero(special).tolist():
                digest = bytes(digests[row]).ljust(16, b"\0")
                count = self.repeated.get(digest)
                if count is not None:
                    self.repeated[digest] = numbers[row] = count + 1
                elif digest in local or self._known(digests[row: row + 1])[0]:
                    self.repeated[digest] = numbers[row] = 2
                else:
                    local.add(digest)
                    new[row] = True
        fresh = np.sort(digests[new])
        if len(fresh):
            self.runs.append(fresh)
            while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
                last = self.runs.pop()
                self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]))
        return numbers


class _Amount:
    """A column of plain amounts: micro-units (value × 10^6), decimals as written, present."""

    __slots__ = ("units", "scale", "present")

    def __init__(self, units: np.ndarray, scale: np.ndarray, present: np.ndarray):
        self.units, self.scale, self.present = units, scale, present

    @classmethod
    def empty(cls, n: int) -> "_Amount":
        return cls(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool))

    @classmethod
    def parse(cls, values: pa.Array | None, n: int) -> "_Amount":
        if values is None:
            return cls.empty(n)
        _, offsets = value_bytes(values)
        lengths = offsets[1:] - offsets[:-1]
        present = lengths > 0
        if not present.any():
            return cls.empty(n)
        if not np.asarray(pc.match_substring_regex(values, _PLAIN), dtype=bool)[present].all():
            raise _Replay  # not a plain number: the per-row reader keeps the raw text
        dot = np.asarray(pc.find_substring(values, "."), dtype=np.int64)
        signed = np.asarray(pc.starts_with(values, "-"), dtype=bool) | np.asarray(pc.starts_with(values, "+"), dtype=bool)
        frac_len = np.where(dot >= 0, lengths - dot - 1, 0)
        int_len = np.where(dot >= 0, dot, lengths) - signed
        if (int_len > _INT_DIGITS).any() or (frac_len > SCALE).any():
            raise _Replay
        digits = pc.replace_substring(values, ".", "") if (dot >= 0).any() else values
        if signed.any():
            digits = pc.replace_substring(digits, "+", "")  # arrow's integer parser takes "-" only
        # "" (absent), "+" / "-" and "." cannot be here but absent; "5." and ".5" leave digits
        digits = pc.if_else(pa.array(present), digits, "0")
        units = np.asarray(pc.cast(digits, pa.int64()), dtype=np.int64) * _POW10[SCALE - frac_len]
        scale = np.where(present, frac_len, 0)
        return cls(units, scale, present)


def _byte_slice(text: pa.Array, start: int, stop: int | None = None) -> pa.Array:
    """Bytes start:stop of each value (cut only where the bytes are ASCII)."""
    return pc.binary_slice(text.view(pa.binary()), start, 2**31 - 1 if stop is None else stop).view(pa.string())


def money_texts(units: np.ndarray, scale: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """money_text() of each amount (micro-units, decimals): "0.76", "-10", never "-0.00"; null
    where not present."""
    n = len(units)
    magnitude = np.abs(units) // _POW10[SCALE - scale]
    negative = units < 0
    order, pieces = [], []
    for s in np.unique(scale).tolist():
        rows = np.flatnonzero(scale == s)
        text = pc.cast(pa.array(magnitude[rows]), pa.string())
        if s:
            text = pc.utf8_lpad(text, s + 1, "0")
            text = pc.binary_join_element_wise(_byte_slice(text, 0, -s), _byte_slice(text, -s), ".")
        if negative[rows].any():
            text = pc.if_else(pa.array(negative[rows]), pc.binary_join_element_wise("-", text, ""), text)
        order.append(rows)
        pieces.append(text)
    if not pieces:
        return pa.nulls(n, pa.string())
    result = pa.concat_arrays(pieces)
    rows = np.concatenate(order)
    inverse = np.empty(n, dtype=np.int64)
    inverse[rows] = np.arange(n)
    result = result.take(pa.array(inverse))
    if present is not None and not present.all():
        result = pc.if_else(pa.array(present), result, _NULL_STR)
    return result


def identity_texts(units: np.ndarray, present: np.ndarray) -> pa.Array:
    """identity_amount() of each amount: trailing decimal zeros dropped ("1190.00" -> "1190")."""
    scale = np.full(len(units), SCALE, dtype=np.int64)
    for k in range(1, SCALE + 1):
        scale[units % _POW10[k] == 0] = SCALE - k
    return money_texts(units, scale, present)


def _add(*amounts: _Amount) -> _Amount:
    """settlement_common.add() of plain amounts: None as zero, the exponent the smallest (scale
    the largest, at least 0), always present."""
    units = sum(a.units for a in amounts)
    scale = np.maximum.reduce([a.scale for a in amounts])
    return _Amount(units, scale, np.ones(len(units), dtype=bool))


def _decimal(units: int, scale: int) -> Decimal:
    return Decimal(units // 10 ** (SCALE - scale)).scaleb(-scale)


# --- text ------------------------------------------------------------------------------------------


def _join_present(a: pa.Array, b: pa.Array, separator: str = " ") -> pa.Array:
    """" ".join(filter(None, (a, b))) of two columns ("" for none)."""
    both = pc.binary_join_element_wise(a, b, separator)
    return pc.if_else(pc.equal(a, ""), b, pc.if_else(pc.equal(b, ""), a, both))


def _true_where(mask: np.ndarray) -> pa.Array | None:
    """"true" where mask, else null (None for a column of nulls)."""
    return pc.if_else(pa.array(mask), "true", _NULL_STR) if mask.any() else None


def _per_value(values: pa.Array, function) -> pa.Array:
    """function() of each distinct value, spread over the rows (for columns of few values)."""
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return mapped.take(encoded.indices)


def _text_or_none(values: pa.Array) -> pa.Array:
    """text_or_none() of stripped values: inner whitespace runs as one space, "" as null."""
    odd = pc.match_substring_regex(values, _INNER_WHITESPACE)
    result = null_if_empty(values)
    if pc.any(odd).as_py():
        python = result.to_pylist()
        for row in np.flatnonzero(np.asarray(odd, dtype=bool)).tolist():
            python[row] = " ".join(python[row].split()) or None
        result = pa.array(python, pa.string())
    return result


def _leading_dates(values: pa.Array) -> pa.Array:
    """leading_iso_date() of each value (the date part parsed once per distinct date)."""
    found = pc.extract_regex(values, _LEADING_DATE)
    result = null_if_empty(values)
    if found.null_count == len(values):
        return result
    # the calendar date, once per distinct date written; a date that is not one (and a value that
    # does not start with a date) gives the raw value back, as leading_iso_date does
    dates = _per_value(found.field("date").fill_null(""), _iso_date)
    return pc.if_else(pc.is_null(dates), result, dates)


def _iso_date(prefix: str) -> str | None:
    if not prefix:
        return None
    year, month, day = re.split("[-/]", prefix)
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


# --- JSON, as json.dumps(extra, ensure_ascii=False, sort_keys=True) --------------------------------


def rows_with(values: pa.Array, hit) -> np.ndarray:
    """Which values hold a byte for which hit(bytes) is true."""
    data, offsets = value_bytes(values)
    if not len(data):
        return np.zeros(len(values), dtype=bool)
    counts = np.concatenate([[0], np.cumsum(hit(data), dtype=np.int64)])
    return counts[offsets[1:]] > counts[offsets[:-1]]


def _escapes(data: np.ndarray) -> np.ndarray:
    return (data < 32) | (data == 34) | (data == 92)


def _json_string(values: pa.Array) -> pa.Array:
    """The values as JSON string contents (json.dumps(ensure_ascii=False) without the quotes)."""
    data, _ = value_bytes(values)
    if not _escapes(data).any():
        return values
    text = values
    if pc.any(pc.match_substring(text, "\\")).as_py():
        text = pc.replace_substring(text, "\\", "\\\\")
    if pc.any(pc.match_substring(text, '"')).as_py():
        text = pc.replace_substring(text, '"', '\\"')
    if rows_with(text, lambda data: data < 32).any():
        text = pa.array([None if v is None else json.dumps(v, ensure_ascii=False)[1:-1] for v in values.to_pylist()],
                        pa.string())
    return text


def json_objects(fields: dict[str, pa.Array | str | None], length: int) -> pa.Array:
    """One JSON object per row as json.dumps(row, ensure_ascii=False, sort_keys=True) writes it,
    from string columns (or one string for every row); null and empty members are left out."""
    pieces: list[str | pa.Array] = []

    def literal(text: str) -> None:
        if pieces and isinstance(pieces[-1], str):
            pieces[-1] += text
        else:
            pieces.append(text)

    for key in sorted(fields):
        values = fields[key]
        name = ", " + json.dumps(key) + ': "'
        if values is None or isinstance(values, str):
            if values:
                literal(", " + json.dumps(key) + ": " + json.dumps(values, ensure_ascii=False))
            continue
        if values.null_count == len(values):
            continue
        _, offsets = value_bytes(values)
        empty = offsets[1:] == offsets[:-1]
        if values.null_count:
            empty |= np.asarray(values.is_null(), dtype=bool)
        if empty.all():
            continue
        text = _json_string(values)
        if not empty.any():
            literal(name)
            pieces.append(text)
            literal('"')
        else:
            pieces.append(pc.if_else(pa.array(empty), "", pc.binary_join_element_wise(name, text, '"', "")))
    if not pieces:
        return pa.nulls(length, pa.string())
    if len(pieces) == 1 and isinstance(pieces[0], str):
        body = pa.array([pieces[0]] * length, pa.string())
    else:
        body = pc.binary_join_element_wise(*[pa.scalar(p) if isinstance(p, str) else p for p in pieces], "")
    # "{" + body without its leading ", " + "}"; a row without members is null
    _, offsets = value_bytes(body)
    empty = offsets[1:] == offsets[:-1]
    wrapped = pc.binary_join_element_wise("{", _byte_slice(body, 2), "}", "")
    return pc.if_else(pa.array(empty), _NULL_STR, wrapped) if empty.any() else wrapped


# --- one block -------------------------------------------------------------------------------------


class _Block:
    """One block of rows as the per-row reader would read them, into a table of records."""

    def __init__(self, fast: _FastReader, block: pa.RecordBatch, positions: dict[str, int]):
        self.fast = fast
        self.reader = fast.reader
        self.block = block
        self.n = block.num_rows
        self.first_number = self.reader.found + 2  # the line number of the block's first row
        for column in block.columns:
            if pc.max(pc.binary_length(column)).as_py() > _FIELD_LIMIT:
                raise _Replay  # Python's csv module refuses it
        self.cells = {field: pc.utf8_trim(block.column(index), PY_WHITESPACE) for field, index in positions.items()}

    def cell(self, field: str) -> pa.Array | None:
        return self.cells.get(field)

    def text(self, field: str) -> pa.Array:
        values = self.cells.get(field)
        return values if values is not None else pa.array([""] * self.n, pa.string())

    def records(self) -> pa.Table | None:
        reader, n = self.reader, self.n
        numbers = np.arange(self.first_number, self.first_number + n)
        journal = self.text("type")
        encoded = pc.dictionary_encode(journal)
        kinds = encoded.dictionary.to_pylist()
        codes = np.asarray(encoded.indices, dtype=np.int64)
        keys = [j.lower().replace(" ", "") for j in kinds]
        if any(k not in JOURNAL_TYPES and k not in NO_MONEY_TYPES for k in keys):
            raise _Replay  # unknown journal types (or an empty row): their warnings are the per-row reader's
        self._mangled(numbers)
        reader.found += n
        no_money = np.array([k in NO_MONEY_TYPES for k in keys], dtype=bool)[codes]
        if no_money.any():
            refs = self._refs(np.flatnonzero(no_money), numbers)
            for row, ref in zip(np.flatnonzero(no_money).tolist(), refs):
                reader.skipped.add(f"journal type {kinds[codes[row]]}: a payment's state, no money moved", ref)
            keep = np.flatnonzero(~no_money)
            if not len(keep):
                return None
            take = pa.array(keep)
            self.cells = {f: v.take(take) for f, v in self.cells.items()}
            codes, numbers, self.n = codes[keep], numbers[keep], len(keep)
            journal = journal.take(take)
        return self._kept(journal, kinds, keys, codes, numbers)

    def _refs(self, rows: np.ndarray, numbers: np.ndarray) -> list[str]:
        """row["psp_reference"] or row["modification_reference"] or f"line {number}" of some rows."""
        take = pa.array(rows)
        psp = self.text("psp_reference").take(take).to_pylist()
        modification = self.text("modification_reference").take(take).to_pylist()
        return [p or m or f"line {number}" for p, m, number in zip(psp, modification, numbers[rows].tolist())]

    def _mangled(self, numbers: np.ndarray) -> None:
        hits = []
        for order, field in enumerate(f for f in REFERENCE_FIELDS if f in self.cells):
            values = self.cells[field]
            candidates = np.flatnonzero(rows_with(values, lambda data: (data | 32) == 101))  # "e" or "E"
            if not len(candidates):
                continue
            texts = values.take(pa.array(candidates)).to_pylist()
            hits.extend((int(row), order, field) for row, value in zip(candidates, texts) if looks_excel_mangled(value))
        for row, _, field in sorted(hits):
            self.reader.mangled.setdefault(COLUMNS[field][0], []).append(int(numbers[row]))

    def _kept(self, journal: pa.Array, kinds: list[str], keys: list[str], codes: np.ndarray, numbers: np.ndarray) -> pa.Table:
        reader, n, positions = self.reader, self.n, self.reader.positions
        record_type = np.array([JOURNAL_TYPES.get(k, ("", False, False))[0] for k in keys], dtype=object)[codes]
        reversal = np.array([JOURNAL_TYPES.get(k, ("", False, False))[1] for k in keys], dtype=bool)[codes]
        splits = np.array([JOURNAL_TYPES.get(k, ("", False, False))[2] for k in keys], dtype=bool)[codes]
        in_payout_types = np.array([k in PAYOUT_TYPES for k in keys], dtype=bool)[codes]
        payout_sum = np.array([k in PAYOUT_TYPES and k != "paidoutreversed" for k in keys], dtype=bool)[codes]
        transfer = np.array([k == "balancetransfer" for k in keys], dtype=bool)[codes]
        correction = np.array([k in CORRECTIONS for k in keys], dtype=bool)[codes]

        # --- amounts
        if "net_credit" in positions or "net_debit" in positions:
            credit, debit = _Amount.parse(self.cell("net_credit"), n), _Amount.parse(self.cell("net_debit"), n)
            net = _Amount(credit.units - debit.units, np.maximum(credit.scale, debit.scale), credit.present | debit.present)
        else:
            net = _Amount.parse(self.cell("payable"), n)
        components = _add(*(_Amount.parse(self.cell(f), n) for f in ("commission", "markup", "scheme_fees", "interchange")))
        payment_fees = _Amount.parse(self.cell("payment_fees"), n)
        use_pf = splits & (components.units == 0) & payment_fees.present
        disagree = splits & payment_fees.present & (components.units != 0) & (payment_fees.units != 0) & (
            payment_fees.units != components.units)
        fees_units = np.where(use_pf, payment_fees.units, components.units)
        fees_scale = np.where(use_pf, payment_fees.scale, components.scale)
        has_fees = splits & (fees_units != 0)
        net_units = np.where(net.present, net.units, 0)
        net_scale = np.where(net.present, net.scale, 0)
        gross_units = np.where(has_fees, net_units + fees_units, net_units)
        gross_scale = np.where(has_fees, np.maximum(net_scale, fees_scale), net_scale)
        gross_present = has_fees | net.present
        if disagree.any():
            reader.fee_disagreements.extend(self._refs(np.flatnonzero(disagree), numbers))
        gc_credit, gc_debit = _Amount.parse(self.cell("gross_credit"), n), _Amount.parse(self.cell("gross_debit"), n)
        gross_gc = _Amount(gc_credit.units - gc_debit.units, np.maximum(gc_credit.scale, gc_debit.scale),
                           np.asarray(pc.or_(pc.not_equal(self.text("gross_credit"), ""), pc.not_equal(self.text("gross_debit"), "")), dtype=bool))

        # --- texts
        merchant = self.text("merchant_account")
        account = pc.if_else(pc.equal(merchant, ""), PROVIDER, merchant)
        currency_up = _per_value(self.text("net_currency"), str.upper)
        psp = self.text("psp_reference")
        modification = _text_or_none(self.text("modification_reference"))
        batch = self.text("batch")
        created = self.text("created")
        self._batch_sums(merchant, batch, currency_up, payout_sum, net, net_units, net_scale)
        id_amount = identity_texts(net_units, net.present)
        identity = pc.binary_join_element_wise(
            self.fast.source.name, account, psp, journal, modification, batch, currency_up, id_amount, created, "\x1f",
            null_handling="replace", null_replacement="")
        bases = identity.to_pylist()
        sha = hashlib.sha256
        gross_ids = [sha(f"{b}\x1f1\x1fgross".encode("utf-8")).hexdigest()[:32] for b in bases]
        digests = np.frombuffer(bytes.fromhex("".join(gross_ids)), dtype="S16") if gross_ids else np.empty(0, "S16")
        occurrence = self.fast.seen.occurrences(digests)
        for row in np.flatnonzero(occurrence > 1).tolist():
            gross_ids[row] = sha(f"{bases[row]}\x1f{occurrence[row]}\x1fgross".encode("utf-8")).hexdigest()[:32]
        fee_rows = np.flatnonzero(has_fees)
        fee_ids = [sha(f"{bases[row]}\x1f{occurrence[row]}\x1ffee".encode("utf-8")).hexdigest()[:32] for row in fee_rows.tolist()]

        details = reader.report == "settlement_details"
        method = _join_present(self.text("payment_method"), self.text("payment_method_variant"))
        remittance = pc.if_else(pc.not_equal(psp, ""), _join_present(journal, method),
                                _join_present(journal, modification.fill_null("")))
        net_text = money_texts(net_units, net_scale, net.present)
        fees_text = money_texts(fees_units, fees_scale, has_fees)
        gross_text = money_texts(gross_units, gross_scale, gross_present)
        extra: dict[str, Any] = {
            "provider": PROVIDER, "report": reader.report, "type": journal, "batch": batch,
            "payout_id": pc.if_else(pa.array(in_payout_types), modification, _NULL_STR) if in_payout_types.any() else None,
            "internal_transfer": _true_where(transfer), "adjustment": _true_where(correction), "reversal": _true_where(reversal),
            "net": net_text, "fees": fees_text, "gross": pc.if_else(pa.array(has_fees), gross_text, _NULL_STR),
            "commission": self.cell("commission"), "markup": self.cell("markup"), "scheme_fees": self.cell("scheme_fees"),
            "interchange": self.cell("interchange"), "payment_fees": self.cell("payment_fees"),
            "gross_currency": _per_value(self.cell("gross_currency"), str.upper) if self.cell("gross_currency") is not None else None,
            "gross_amount": money_texts(gross_gc.units, gross_gc.scale, gross_gc.present) if gross_gc.present.any() else None,
            "exchange_rate": self.cell("exchange_rate"), "modification_reference": modification,
            "modification_merchant_reference": self.cell("modification_merchant_reference"),
            "company_account": self.cell("company_account"), "payment_method": self.cell("payment_method"),
            "payment_method_variant": self.cell("payment_method_variant"), "created_at": created,
            "timezone": self.cell("timezone"), "booked_at": self.cell("booking_date") if details else None,
            "booking_timezone": self.cell("booking_timezone"), "merchant_order_reference": self.cell("merchant_order_reference"),
            "shopper_reference": self.cell("shopper_reference"), "shopper_country": self.cell("shopper_country"),
            "dispute_reference": self.cell("dispute_reference"), "arn": self.cell("arn"),
            "authorisation_code": self.cell("authorisation_code"), "settlement_flow": self.cell("settlement_flow"),
            "metadata": self.cell("metadata"),
        }
        booking_date = _leading_dates(created)
        value_date = _leading_dates(self.text("booking_date")) if details else pa.nulls(n, pa.string())
        currency = null_if_empty(currency_up)
        end_to_end = null_if_empty(self.text("merchant_reference"))
        bank_ref = pc.if_else(pc.equal(psp, ""), modification, psp)
        nulls = pa.nulls(n, pa.string())
        gross = {
            "record_type": pa.array(record_type.tolist(), pa.string()), "source_format": pa.array([self.fast.source.name] * n, pa.string()),
            "account": account, "booking_date": booking_date, "value_date": value_date, "amount": gross_text,
            "currency": currency, "counterparty_name": nulls, "counterparty_account": nulls, "counterparty_tax_id": nulls,
            "remittance": null_if_empty(remittance), "end_to_end_id": end_to_end, "bank_ref": bank_ref,
            "line_id": pa.array(gross_ids, pa.string()), "extra": json_objects({**extra, "part": "gross"}, n),
        }
        parts = [gross]
        if len(fee_rows):
            take = pa.array(fee_rows)
            m = len(fee_rows)
            fee = {name: gross[name].take(take) for name in ("source_format", "account", "booking_date", "value_date",
                                                                "currency", "counterparty_name", "counterparty_account",
                                                                "counterparty_tax_id", "end_to_end_id", "bank_ref")}
            fee.update({
                "record_type": pa.array(["fee"] * m, pa.string()),
                "amount": money_texts(-fees_units[fee_rows], fees_scale[fee_rows]),
                "remittance": pc.binary_join_element_wise("Adyen fees on ", remittance.take(take), ""),
                "line_id": pa.array(fee_ids, pa.string()),
                # the gross record's extra with "part": "fee" (the one member written so: values are escaped)
                "extra": pc.replace_substring(gross["extra"].take(take), '"part": "gross"', '"part": "fee"', max_replacements=1),
            })
            parts.append(fee)
        columns = {name: pa.concat_arrays([p[name] for p in parts]) if len(parts) > 1 else parts[0][name]
                   for name in BATCH_COLUMNS[:-1]}
        if len(parts) > 1:
            order = np.argsort(np.concatenate([2 * np.arange(n), 2 * fee_rows + 1]), kind="stable")
            columns = {name: values.take(pa.array(order)) for name, values in columns.items()}
        total = n + len(fee_rows)
        columns["statement"] = pa.array(np.full(total, -1, dtype=np.int64))
        return pa.table(columns)

    def _batch_sums(self, merchant: pa.Array, batch: pa.Array, currency_up: pa.Array, payout_sum: np.ndarray,
                    net: _Amount, net_units: np.ndarray, net_scale: np.ndarray) -> None:
        """The per-batch sums of the payout check, as _AdyenReader._row adds them (in the same key order)."""
        reader = self.reader
        parts = [pc.dictionary_encode(values) for values in (merchant, batch, currency_up)]
        group = np.zeros(self.n, dtype=np.int64)
        for encoded in parts:
            group = group * len(encoded.dictionary) + np.asarray(encoded.indices, dtype=np.int64)
        dictionaries = [p.dictionary.to_pylist() for p in parts]
        indices = [np.asarray(p.indices, dtype=np.int64) for p in parts]
        has_batch = np.asarray(pc.not_equal(batch, ""), dtype=bool)
        for target, rows, sign in ((reader.batch_payouts, np.flatnonzero(payout_sum), -1),
                                   (reader.batch_net, np.flatnonzero(~payout_sum & net.present & has_batch), 1)):
            if not len(rows):
                continue
            _, first, inverse = np.unique(group[rows], return_index=True, return_inverse=True)
            units = (sign * net_units[rows]).astype(object)
            scales = net_scale[rows]
            sums = [0] * len(first)
            top = [0] * len(first)
            for g, u, s in zip(inverse.tolist(), units.tolist(), scales.tolist()):
                sums[g] += u
                if s > top[g]:
                    top[g] = s
            for g in np.argsort(first, kind="stable").tolist():
                row = rows[first[g]]
                key = tuple(dictionaries[i][indices[i][row]] for i in range(3))
                target[key] = target.get(key, Decimal(0)) + _decimal(sums[g], top[g])
