"""What the fast (columnar) readers share: the occurrence counter behind stable line ids, a few
vectorised text functions that give exactly what the per-record helpers give, and the batch
builder that turns fast columns and slow records into one RecordBatch.

The vectorised functions run pyarrow compute kernels over a whole block of values. Each one is
exact for the values it is built for (stated in its docstring) and patches the other values with
the per-record function it stands for, so a caller never has to know which values were patched.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sources.records import RECORD_FIELDS, NormalizedRecord, RecordBatch, StatementSummary

# --------------------------------------------------------------------------------------------------
# Occurrences of a line identity in one file
# --------------------------------------------------------------------------------------------------


class Occurrences:
    """How many times each line identity occurred so far in a file, by a 16-byte digest.

    Identical lines in one file are distinct money movements, numbered in file order (the first,
    the second, ...), so each keeps a stable id. A 1 GB statement has millions of lines, so the
    digests are kept as sorted numpy runs of two 64-bit halves (16 bytes per line, merged like a
    log-structured tree) and a small set of recent ones, never as one Python object per line; a
    count is kept, in a dict, only for the identities seen more than once. A bit filter (two bits
    per digest, in one to four bytes per digest: it grows fourfold) answers "never seen" without
    looking in the runs, which is the usual answer; `add_many` looks in the runs for the few
    digests it does not rule out.

    `add` counts one digest (the per-record readers); `add_many` counts a block of them in order
    and gives the same numbers as calling `add` on each in turn.
    """

    _PENDING_LIMIT = 4096

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (high halves sorted, low halves), sizes halving
        self._pending: set[bytes] = set()
        self._repeated: dict[bytes, int] = {}
        self._count = 0  # digests in the runs and the pending set
        self._bits = 1 << 16  # filter size, a power of two, 8 to 32 bits per digest
        self._filter = bytearray(self._bits // 8)

    @staticmethod
    def _halves(digests: bytes) -> tuple[np.ndarray, np.ndarray]:
        pairs = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def _mark(self, high: np.ndarray, low: np.ndarray) -> None:
        """Set the filter bits of these digests (the bits of one byte ORed together first)."""
        table = np.frombuffer(self._filter, dtype=np.uint8)
        mask = np.uint64(self._bits - 1)
        bit = np.sort(np.concatenate([high & mask, low & mask]).astype(np.int64))
        if not len(bit):
            return
        byte = bit >> 3
        value = np.left_shift(1, bit & 7).astype(np.uint8)
        starts = np.flatnonzero(np.concatenate([[True], byte[1:] != byte[:-1]]))
        table[byte[starts]] |= np.bitwise_or.reduceat(value, starts)

    def _grow(self) -> None:
        """A filter twice as large (or more), made from every digest kept."""
        while self._count * 8 > self._bits:
            self._bits *= 4
        self._filter = bytearray(self._bits // 8)
        for high, low in self._runs:
            self._mark(high, low)
        if self._pending:
            self._mark(*self._halves(b"".join(self._pending)))

    def _in_runs(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        found = np.zeros(len(high), dtype=bool)
        for run_high, run_low in self._runs:
            at = np.searchsorted(run_high, high)
            inside = np.minimum(at, len(run_high) - 1)
            same_high = run_high[inside] == high
            found |= same_high & (run_low[inside] == low)
            for row in np.flatnonzero(same_high & ~found).tolist():  # several digests with one high half
                index = int(at[row])
                while index < len(run_high) and run_high[index] == high[row] and not found[row]:
                    found[row] = run_low[index] == low[row]
                    index += 1
        return found

    def add(self, digest: bytes) -> int:
        """Count one more occurrence of `digest` (16 bytes); returns how many there are now."""
        count = self._repeated.get(digest)
        if count is not None:
            self._repeated[digest] = count + 1
            return count + 1
        mask, bits = self._bits - 1, self._filter
        first = int.from_bytes(digest[:8], "big") & mask
        second = int.from_bytes(digest[8:], "big") & mask
        if (bits[first >> 3] >> (first & 7) & 1 and bits[second >> 3] >> (second & 7) & 1
                and (digest in self._pending or self._in_runs(*self._halves(digest))[0])):
            self._repeated[digest] = 2
            return 2
        self._pending.add(digest)
        self._count += 1
        if self._count * 8 > self._bits:
            self._grow()
        else:
            bits[first >> 3] |= 1 << (first & 7)
            bits[second >> 3] |= 1 << (second & 7)
        if len(self._pending) >= self._PENDING_LIMIT:
            high, low = self._halves(b"".join(self._pending))
            at = np.argsort(high, kind="stable")
            self._runs.append((high[at], low[at]))
            self._merge()
            self._pending = set()
        return 1

    def add_many(self, digests: bytes) -> np.ndarray:
        """Count a block of digests (16 bytes each, concatenated) in order; returns their numbers."""
        high, low = self._halves(digests)
        count = len(high)
        numbers = np.ones(count, dtype=np.int64)
        if not count:
            return numbers
        # repeated inside the block: sorted by the high halves (by both when two high halves agree)
        order = np.argsort(high)
        same = high[order][1:] == high[order][:-1]
        if same.any():
            order = np.lexsort((low, high))
            same = (high[order][1:] == high[order][:-1]) & (low[order][1:] == low[order][:-1])
        special = np.zeros(count, dtype=bool)
        special[order[1:][same]] = True
        special[order[:-1][same]] = True
        # counted before: only the digests whose two filter bits are set can be (few of them)
        table = np.frombuffer(self._filter, dtype=np.uint8)
        mask = np.uint64(self._bits - 1)
        first, second = (high & mask).astype(np.int64), (low & mask).astype(np.int64)
        maybe = np.flatnonzero((table[first >> 3] >> (first & 7)) & (table[second >> 3] >> (second & 7)) & 1)
        if len(maybe):
            special[maybe] |= self._in_runs(high[maybe], low[maybe])
            if self._pending:  # every digest counted is in a run or here (a repeated one too)
                for row in maybe.tolist():
                    special[row] |= digests[16 * row: 16 * row + 16] in self._pending
        if special.any():
            for row in np.flatnonzero(special).tolist():
                numbers[row] = self.add(digests[16 * row: 16 * row + 16])
            order = order[~special[order]]
        if len(order):
            high, low = high[order], low[order]  # sorted by the high halves
            self._runs.append((high, low))
            self._count += len(high)
            if self._count * 8 > self._bits:
                self._grow()
            else:
                self._mark(high, low)
            self._merge()
        return numbers

    #: Runs stop growing at this many digests: merging larger ones would need a few hundred MB at
    #: once for a 1 GB file; a few more runs to look in cost little (the filter sends few digests
    #: to them).
    _RUN_LIMIT = 1 << 20
    #: Runs of about the same size are merged this many at a time (size-tiered): each digest is
    #: merged a few times only.
    _FAN_IN = 8

    def _tier(self, size: int) -> int:
        return int(size // self._PENDING_LIMIT).bit_length() // 3  # about log8 of the size in 4096s

    def _merge(self) -> None:
        runs = self._runs
        while len(runs) >= self._FAN_IN:
            tier = self._tier(len(runs[-1][0]))
            group = 1
            while group < len(runs) and self._tier(len(runs[-group - 1][0])) == tier:
                group += 1
            size = sum(len(high) for high, _ in runs[-group:])
            if group < self._FAN_IN or size > self._RUN_LIMIT:
                return
            high = np.concatenate([high for high, _ in runs[-group:]])
            low = np.concatenate([low for _, low in runs[-group:]])
            at = np.argsort(high, kind="stable")  # sorted runs, merged (timsort)
            del runs[-group:]
            runs.append((high[at], low[at]))


def is_utf8(data: bytes) -> bool:
    """Whether data.decode("utf-8") would take it, told by pyarrow's UTF-8 validation (it rejects
    what Python's decoder rejects: overlong forms, surrogates, past U+10FFFF) without making a str."""
    if data.isascii():
        return True
    one_value = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], dtype=np.int32)), pa.py_buffer(data))
    try:
        one_value.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def hex_digests(line_ids: Sequence[str]) -> bytes:
    """32-character hexadecimal line ids as their 16-byte digests, concatenated."""
    return bytes.fromhex("".join(line_ids))


def sha256_prefixes(texts: pa.Array) -> bytes:
    """The first 16 bytes of the SHA-256 of each value's UTF-8 (no nulls), concatenated: what
    hashlib.sha256(text.encode()).hexdigest()[:32] is, as bytes, without a Python str per value."""
    data, offsets = value_bytes(texts)
    raw = data.tobytes()
    bounds = offsets.tolist()
    sha256 = hashlib.sha256
    digests = b"".join([sha256(raw[start:end]).digest() for start, end in zip(bounds, bounds[1:])])
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)[:, :16].tobytes()


def line_digests(identities: pa.Array, seen, again: Callable[[str, int], str]) -> bytes:
    """The line ids of a batch as 16-byte digests, concatenated: sha256(identity)[:16] of each row
    (`sha256_prefixes`); a row whose identity `seen` has counted before is hashed again from
    `again(identity, occurrence)`, as the full reader numbers a repeated line."""
    digests = sha256_prefixes(identities)
    occurrences = seen.add_many(digests)
    repeated = np.flatnonzero(occurrences > 1)
    if not len(repeated):
        return digests
    renumbered = bytearray(digests)
    texts = identities.take(pa.array(repeated)).to_pylist()
    for row, text, count in zip(repeated.tolist(), texts, occurrences[repeated].tolist()):
        renumbered[16 * row: 16 * row + 16] = hashlib.sha256(again(text, count).encode()).digest()[:16]
    return bytes(renumbered)


def hex_ids(digests: bytes) -> pa.Array:
    """16-byte digests (concatenated) as a column of 32-character hexadecimal line ids."""
    count = len(digests) // 16
    offsets = np.arange(0, 32 * count + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(digests.hex().encode("ascii")))


# --------------------------------------------------------------------------------------------------
# Reading in blocks
# --------------------------------------------------------------------------------------------------


def block_size(batch_size: int, record_bytes: int, smallest: int, largest: int) -> int:
    """The block a batch of `batch_size` records (of about `record_bytes` each) needs, between
    `smallest` and `largest` (largest wins): smaller batches, smaller blocks, so that what is held
    at once stays in proportion."""
    return max(min(smallest, largest), min(largest, batch_size * record_bytes))


# --------------------------------------------------------------------------------------------------
# Text, exactly as the per-record helpers make it
# --------------------------------------------------------------------------------------------------

#: Characters that Python's str.split()/str.strip() treat as whitespace besides space, TAB, LF and
#: CR. A value holding one is handled by the per-record function (pyarrow's notion differs).
_OTHER_WHITESPACE = "[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def patch(values: pa.Array, mask: pa.Array | np.ndarray | None, function: Callable[[Any], Any],
          source: pa.Array | None = None) -> pa.Array:
    """`values` with the rows under `mask` replaced by function(source row) (source: values)."""
    if mask is None:
        return values
    rows = np.flatnonzero(np.asarray(mask, dtype=bool)) if not isinstance(mask, pa.Array) else np.flatnonzero(
        mask.fill_null(False).to_numpy(zero_copy_only=False))
    if not len(rows):
        return values
    inputs = (source if source is not None else values).take(pa.array(rows)).to_pylist()
    python = values.to_pylist()
    for row, value in zip(rows.tolist(), inputs):
        python[row] = function(value)
    return pa.array(python, type=values.type)


#: UTF-8 of the whitespace characters of _OTHER_WHITESPACE (and the C0 separators 0x1c-0x1f).
_OTHER_WHITESPACE_UTF8 = re.compile(
    rb"[\x0b\x0c\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")


def spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, groups: np.ndarray | None = None,
          count: int | None = None, valid: np.ndarray | None = None) -> pa.Array:
    """A string column made of byte spans of `data` (UTF-8, contiguous; each span starts and ends at
    a character boundary): row i is data[starts[i]:ends[i]], or, with `groups` (ascending, one per
    span), row g is the spans of group g concatenated in order (`count` rows; a group without
    spans is ''). `valid`: the rows that are not null.

    Spans that do not overlap are cut by pyarrow: one column over `data` whose values are the
    spans and what lies between them (no copy), then a take of the spans."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    size = len(starts)
    if groups is None:
        count = size
    bitmap = None if valid is None else pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little"))
    if not size:
        return pa.StringArray.from_buffers(count, pa.py_buffer(np.zeros(count + 1, dtype=np.int32)),
                                           pa.py_buffer(b""), bitmap)
    place = None  # each span's place in position order (None: they are in it)
    if size > 1 and not (starts[1:] >= ends[:-1]).all():
        order = np.argsort(starts, kind="stable")
        if (starts[order][1:] >= ends[order][:-1]).all():
            place = np.empty(size, dtype=np.int64)
            place[order] = np.arange(size)
            starts, ends = starts[order], ends[order]
    if size == 1 or (starts[1:] >= ends[:-1]).all():
        bounds = np.empty(2 * size, dtype=np.int32)
        bounds[0::2], bounds[1::2] = starts, ends
        pieces = pa.StringArray.from_buffers(2 * size - 1, pa.py_buffer(bounds), pa.py_buffer(data))
        values = pieces.take(pa.array(2 * (np.arange(size) if place is None else place)))
        offsets_buffer, data_buffer = values.buffers()[1:3]
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[: size + 1]
    else:  # overlapping spans: a gather of their bytes
        lengths = ends - starts
        offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data_buffer = pa.py_buffer(data[np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))])
        offsets = offsets.astype(np.int32)
    if groups is not None:
        offsets = offsets[np.searchsorted(groups, np.arange(count + 1))]
    elif bitmap is None:
        return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), data_buffer)
    return pa.StringArray.from_buffers(count, pa.py_buffer(np.ascontiguousarray(offsets)), data_buffer, bitmap)


def value_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of a string or binary array's values, and each value's (start, end) in them,
    read from the array's buffers (no Python object per value). Null values have start == end."""
    _, offset_buffer, data_buffer = values.buffers()[:3]
    offsets = np.frombuffer(offset_buffer, dtype=np.int32)[values.offset: values.offset + len(values) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]: offsets[-1]] if data_buffer else np.empty(0, np.uint8)
    return data, offsets - offsets[0]


def is_clean(values: pa.Array) -> bool:
    """Whether every value is what parsing.clean() (and camt.text_value) leaves as it is: not
    empty, no leading, trailing or double space, no other whitespace character."""
    if values.null_count == len(values):
        return True
    data, offsets = value_bytes(values)
    lengths = np.diff(offsets)
    valid = ~np.asarray(values.is_null()) if values.null_count else np.ones(len(values), dtype=bool)
    if (valid & (lengths == 0)).any():
        return False
    if not len(data):
        return True
    if (data < 32).any() or (data[offsets[:-1][valid]] == 32).any() or (data[offsets[1:][valid] - 1] == 32).any():
        return False
    space = data == 32
    if (space[1:] & space[:-1]).any():
        return False
    if (data >= 0xC2).any():
        starts = np.flatnonzero((data == 0xC2) | (data >= 0xE1) & (data <= 0xE3))
        if len(starts) and _OTHER_WHITESPACE_UTF8.search(data.tobytes()) is not None:
            return False
    return True


def needs_no_escape(values: pa.Array) -> bool:
    """Whether no value holds a character JSON escapes (", backslash, C0 controls)."""
    if values.null_count == len(values):
        return True
    data, _ = value_bytes(values)
    return not len(data) or not ((data < 32).any() or (data == 34).any() or (data == 92).any())


def clean_values(values: pa.Array, python_clean: Callable[[str | None], str | None]) -> pa.Array:
    """parsing.clean() over an array: inner whitespace runs as one space, stripped, '' as null.

    Exact for values whose whitespace is space, TAB, LF or CR; the others go through python_clean.
    """
    if values.null_count == len(values) or is_clean(values):
        return values
    odd = pc.match_substring_regex(values, _OTHER_WHITESPACE)
    result = pc.replace_substring_regex(values, "[ \t\n\r]+", " ")
    result = pc.utf8_trim(result, " ")
    result = pc.if_else(pc.equal(result, ""), pa.scalar(None, pa.string()), result)
    return patch(result, odd if pc.any(odd).as_py() else None, python_clean, values)


def join_present(arrays: Sequence[pa.Array], separator: str) -> pa.Array:
    """The non-null values of each row joined with `separator` (null when all are null).

    (pyarrow 26's binary_join_element_wise(null_handling="skip") drops the rows where every
    value is null, so it is not used.)
    """
    result = arrays[0]
    for values in arrays[1:]:
        result = pc.coalesce(pc.binary_join_element_wise(result, values, separator), result, values)
    return result


def null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _json_string(values: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (json.dumps(ensure_ascii=False)); nulls stay null."""
    text = values
    if pc.any(pc.match_substring(text, "\\")).as_py():
        text = pc.replace_substring(text, "\\", "\\\\")
    if pc.any(pc.match_substring(text, '"')).as_py():
        text = pc.replace_substring(text, '"', '\\"')
    controls = pc.match_substring_regex(text, "[\x00-\x1f]")
    if pc.any(controls).as_py():
        for char, escaped in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")):
            text = pc.replace_substring(text, char, escaped)
        others = pc.match_substring_regex(text, "[\x00-\x1f]")
        if pc.any(others).as_py():
            text = patch(text, others, lambda value: json.dumps(value, ensure_ascii=False)[1:-1], values)
    return pc.binary_join_element_wise('"', text, '"', "")


def json_objects(fields: dict[str, pa.Array | pa.Scalar | None], length: int, plain: bool = False) -> pa.Array:
    """One JSON object per row, as json.dumps(row, ensure_ascii=False, sort_keys=True) writes it,
    from columns (or one value for every row) of strings or integers; null members are left out,
    a row with none is null. `plain`: the string columns hold nothing JSON escapes."""
    pieces: list[str | pa.Array] = []  # ', "key": value' of each member, in key order; null: left out

    def literal(text: str) -> None:
        if pieces and isinstance(pieces[-1], str):
            pieces[-1] += text
        else:
            pieces.append(text)

    for key in sorted(fields):
        values = fields[key]
        if values is None or (isinstance(values, pa.Scalar) and not values.is_valid):
            continue
        name = ", " + json.dumps(key) + ": "
        if isinstance(values, pa.Scalar):
            literal(name + json.dumps(values.as_py(), ensure_ascii=False))
            continue
        if values.null_count == len(values):
            continue
        if pa.types.is_integer(values.type):
            head, text, tail = name, pc.cast(values, pa.string()), ""
        elif plain or needs_no_escape(values):
            head, text, tail = name + '"', values, '"'
        else:
            head, text, tail = name, _json_string(values), ""
        if values.null_count == 0:
            literal(head)
            pieces.append(text)
            literal(tail)
        else:
            pieces.append(pc.binary_join_element_wise(head, text, tail, ""))
    if not pieces:
        return pa.nulls(length, pa.string())
    body = pc.binary_join_element_wise(*[pa.scalar(p) if isinstance(p, str) else p for p in pieces], "",
                                       null_handling="replace", null_replacement="")
    if isinstance(body, pa.Scalar):
        body = pa.repeat(body, length)
    # '{' + body[2:] + '}' (each member starts with ', '), in place: the bytes move one to the
    # left, then each row's first byte is '{' and its last '}'; an empty row is null
    data, offsets = value_bytes(body)
    present = offsets[1:] > offsets[:-1]
    out = np.empty_like(data)
    out[:-1] = data[1:]
    out[offsets[:-1][present]] = ord("{")
    out[offsets[1:][present] - 1] = ord("}")
    bitmap = None if present.all() else pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.StringArray.from_buffers(length, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out), bitmap)


def extra_json(extra: dict[str, Any] | None) -> str | None:
    """A record's extra as the ledger stores it (and as json_objects writes it)."""
    return json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------

BATCH_COLUMNS = (*RECORD_FIELDS, "extra", "statement")


class BatchBuilder:
    """Collects fast columns and slow records in file order and cuts them into RecordBatches of
    about `size` records (a fast block is never split, so a batch may be somewhat larger)."""

    def __init__(self, size: int):
        self.size = size
        self._parts: list[dict[str, pa.Array]] = []
        self._slow: list[tuple] = []
        self._count = 0
        self._statements: list[tuple[int, StatementSummary]] = []

    def add_record(self, record: NormalizedRecord, statement: int) -> None:
        self._slow.append((*(getattr(record, name) for name in RECORD_FIELDS), extra_json(record.extra), statement))
        self._count += 1

    def add_columns(self, columns: dict[str, pa.Array]) -> None:
        self._flush_slow()
        self._parts.append(columns)
        self._count += len(columns["line_id"])

    def add_statement(self, index: int, summary: StatementSummary) -> None:
        self._statements.append((index, summary))

    @property
    def full(self) -> bool:
        return self._count >= self.size

    def _flush_slow(self) -> None:
        if not self._slow:
            return
        rows = list(zip(*self._slow))
        part = {name: pa.array(rows[i], pa.string()) for i, name in enumerate(BATCH_COLUMNS[:-1])}
        part["statement"] = pa.array(rows[-1], pa.int64())
        self._parts.append(part)
        self._slow = []

    def take(self, final: bool = False) -> RecordBatch | None:
        """The batch collected so far (None when there is nothing, unless final)."""
        self._flush_slow()
        if not self._parts and not self._statements:
            return None
        if self._parts:
            # the parts as chunks (pandas keeps pyarrow strings as they are: no copy)
            table = pa.table({name: pa.chunked_array([p[name] for p in self._parts]) for name in BATCH_COLUMNS})
        else:
            table = pa.table({name: pa.array([], pa.int64() if name == "statement" else pa.string())
                              for name in BATCH_COLUMNS})
        frame = table.to_pandas(types_mapper=_pandas_type)
        batch = RecordBatch(frame=frame, statements=self._statements)
        self._parts, self._statements, self._count = [], [], 0
        return batch


_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _pandas_type(arrow_type: pa.DataType):
    return _STR if arrow_type == pa.string() or arrow_type == pa.large_string() else None


def batches_from_records(records: Iterable[NormalizedRecord], statements: Sequence[StatementSummary],
                         size: int) -> Iterable[RecordBatch]:
    """Batches of already parsed records (a source without a fast reader): each record's statement
    is found from the summaries' line_ids; the summaries come with the last batch."""
    statement_of: dict[str, int] = {}
    for index, summary in enumerate(statements):
        for line_id in summary.line_ids:
            statement_of.setdefault(line_id, index)
    builder = BatchBuilder(size)
    for record in records:
        builder.add_record(record, statement_of.get(record.line_id, -1))
        if builder.full:
            yield builder.take()
    for index, summary in enumerate(statements):
        builder.add_statement(index, summary)
    last = builder.take()
    if last is not None:
        yield last


class ParsedStream:
    """The RecordStream of a source without a fast reader: parse() whole, then cut into batches."""

    def __init__(self, source, path, batch_size: int):
        self.source, self.path, self.batch_size = source, path, batch_size
        self.transactions_found = 0
        self.warnings: list[str] = []
        self.checks: list = []
        self.parsed = None

    def batches(self):
        result = self.source.parse(self.path)
        self.transactions_found, self.warnings, self.checks = result.transactions_found, result.warnings, result.checks
        # The whole parse is kept: its statements are checked from it, as they always were (so the
        # batches carry no summaries).
        self.parsed = result
        yield from batches_from_records(result.records, [], self.batch_size)


def open_stream(source, path, batch_size: int = 50_000):
    """The file's records in batches: the source's own stream() (camt, MT940), else its parse()."""
    stream = getattr(source, "stream", None)
    return stream(path, batch_size) if stream is not None else ParsedStream(source, path, batch_size)
