"""Numbers in payment text: invoice-number keys and tax IDs, for a million texts at once.

Payers write an invoice number however they like: "рах. № 2026-00123", "сч.2026/123",
"INV 2026 00123", "202600123", with a Cyrillic "О" for a zero or an OCR'd "l" for a one. Instead of
one regular expression per spelling, every text is reduced to its digit groups:

1. look-alikes become ASCII (Cyrillic О/о -> O/o, І/і -> I/i, dashes -> '-', '№' -> ' ');
2. an O/o next to a digit is a 0, an I/l/i/| next to a digit is a 1 (two passes, so "2O26-OO123"
   and "2026-00l23" both read 2026-00123);
3. maximal digit runs are the groups; two neighbouring groups are *joined* when at most three
   spaces, dashes, slashes or underscores separate them ("2026 - 00123");
4. a joined day-month-year triple is a date and never part of an invoice number.

A group's value is its integer, so leading zeros do not matter ("2026-123" == "2026-00123").
An invoice number gets two keys: its groups' values (arity = number of groups) and its *compact*
form, all digits run together ("202600123"). A text offers every group, every joined pair and
triple, and their compact forms. Keys are hashed to uint64 to filter a few million text keys
against the invoice keys with one `np.isin`; the survivors are compared exactly.

This works on the UTF-8 bytes of the whole column at once (pyarrow buffers viewed by numpy), so a
million payment texts take about a second, not a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Multi-byte look-alikes folded before reading digits: Cyrillic О/о/І/і, dashes, no-break space, №.
_FOLDS = (("О", "O"), ("о", "o"), ("І", "I"), ("і", "i"), ("‐", "-"), ("‑", "-"), ("–", "-"), ("—", "-"),
          ("\u00a0", " "))
_FOLD_BYTES = tuple(np.frombuffer(old.encode(), dtype=np.uint8) for old, _ in _FOLDS)


def _table(chars: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars, dtype=np.uint8)] = True
    return table


_DIGIT = _table(b"0123456789")
_LOOK_ALIKE = _table(b"OoIl|")
_DIGIT_VALUE = np.zeros(256, dtype=np.int64)
_DIGIT_VALUE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_DIGIT_VALUE[np.frombuffer(b"Il|", dtype=np.uint8)] = 1  # O and o stay 0
_JOINER = _table(b" -/_\\")
MAX_DIGITS = 18  # a group longer than this (an IBAN's digits) is no invoice number and no tax ID
_POW10 = 10 ** np.arange(MAX_DIGITS + 1, dtype=np.int64)  # _POW10[k] == 10**k


@dataclass(frozen=True)
class DigitGroups:
    """One row per digit run: which text it is in, its value, its digit count, and whether it is
    joined to the next run (same text, only separators between)."""

    text: np.ndarray  # int64 index of the text
    value: np.ndarray  # int64, -1 when longer than MAX_DIGITS
    ndigits: np.ndarray  # int64
    joined: np.ndarray  # bool, joined to the next group
    date: np.ndarray  # bool, part of a day-month-year date


def _arrow_strings(texts) -> pa.Array:
    if isinstance(texts, pd.Series) and not isinstance(texts.dtype, pd.StringDtype):
        texts = texts.to_numpy(dtype=object, na_value=None)
    array = pa.array(texts, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type == pa.null():
        array = array.cast(pa.string())
    return array.cast(pa.large_string()).fill_null("")


def _bytes_of(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 [n+1] from 0, UTF-8 bytes uint8) of an arrow large_string array, no copy."""
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    buffer = array.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    return offsets - offsets[0], data[int(offsets[0]) : int(offsets[-1])]


def _fold_starts(data: np.ndarray, at: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether a multi-byte look-alike starts at each position in `at` and ends before `end`."""
    found = np.zeros(len(at), dtype=bool)
    lead = data[np.clip(at, 0, len(data) - 1)]
    candidates = np.flatnonzero((lead >= 0xC2) & (at >= 0))
    at, end = at[candidates], end[candidates]
    for pattern in _FOLD_BYTES:
        inside = np.flatnonzero(at + len(pattern) <= end)
        for shift, byte in enumerate(pattern):
            inside = inside[data[at[inside] + shift] == byte]
        found[candidates[inside]] = True
    return found


def _fold_ends(data: np.ndarray, at: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Whether a multi-byte look-alike ends at each position in `at` and starts at or after `start`."""
    found = np.zeros(len(at), dtype=bool)
    for width in sorted({len(p) for p in _FOLD_BYTES}):
        begin = at - width + 1
        ok = begin >= start
        found[ok] |= _fold_starts(data, begin[ok], at[ok] + 1) & _width_is(data, begin[ok], width)
    return found


def _width_is(data: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """UTF-8 lead bytes: 0xC2..0xDF start 2-byte characters, 0xE0..0xEF 3-byte ones."""
    lead = data[at]
    return (lead >= 0xC2) & (lead <= 0xDF) if width == 2 else (lead >= 0xE0) & (lead <= 0xEF)


def digit_groups(texts, detect_dates: bool = True) -> DigitGroups:
    """Digit groups of each text. Texts where a multi-byte look-alike touches a digit group (a
    Cyrillic О inside a number, an en dash between its parts) are folded and read again; the rest,
    nearly all, are read once from their raw bytes."""
    array = _arrow_strings(texts)
    text, value, ndigits, joined, touched = _read(array, find_folds=True)
    if len(touched):
        subset = array.take(pa.array(touched))
        for old, new in _FOLDS:
            subset = pc.replace_substring(subset, old, new)
        s_text, s_value, s_ndigits, s_joined, _ = _read(subset, find_folds=False)
        keep = ~np.isin(text, touched)
        text = np.concatenate([text[keep], touched[s_text]])
        order = np.argsort(text, kind="stable")
        text = text[order]
        value = np.concatenate([value[keep], s_value])[order]
        ndigits = np.concatenate([ndigits[keep], s_ndigits])[order]
        joined = np.concatenate([joined[keep], s_joined])[order]
    date = _dates(value, ndigits, joined) if detect_dates else np.zeros(len(value), dtype=bool)
    return DigitGroups(text, value, ndigits, joined, date)


def _read(array: pa.Array, find_folds: bool):
    """Runs of digits in the raw bytes: (text, value, ndigits, joined, texts touched by a fold).

    Only a handful of passes touch every byte (one table look-up, one diff); everything after
    works on the runs, a few per text, because memory traffic is what costs on a million texts.
    """
    offsets, data = _bytes_of(array)
    size = len(data)
    empty = np.zeros(0, dtype=np.int64)
    if size == 0:
        return empty, empty, empty, np.zeros(0, bool), empty
    edges = np.diff(_DIGIT[data].view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    del edges
    # A run may cross from one text into the next: split it at every text start inside a run.
    inner = offsets[1:-1]
    inner = inner[(inner > 0) & (inner < size)]
    split = inner[_DIGIT[data[inner]] & _DIGIT[data[inner - 1]]]
    if len(split):
        starts = np.sort(np.concatenate([starts, split]))
        ends = np.sort(np.concatenate([ends, split - 1]))
    text = np.searchsorted(offsets, starts, side="right") - 1
    lo, hi = offsets[text], offsets[text + 1]

    # OCR slips: an O/o or I/l/| right next to a run is a digit of it (twice, for "OO123").
    grown = np.arange(len(starts))
    for _ in range(2):
        left = starts[grown] - 1
        grow = grown[(left >= lo[grown]) & _LOOK_ALIKE[data[np.maximum(left, 0)]]]
        starts[grow] -= 1
        right = ends[grown] + 1
        grow_right = grown[(right < hi[grown]) & _LOOK_ALIKE[data[np.minimum(right, size - 1)]]]
        ends[grow_right] += 1
        grown = np.union1d(grow, grow_right)
        if not len(grown):
            break
    if len(starts) > 1:  # "00l23": the grown runs now touch; merge them
        touching = (text[1:] == text[:-1]) & (ends[:-1] + 1 >= starts[1:])
        if touching.any():
            keep_start = np.r_[True, ~touching]
            keep_end = np.r_[~touching, True]
            starts, ends, text = starts[keep_start], ends[keep_end], text[keep_start]
            lo, hi = offsets[text], offsets[text + 1]

    ndigits = ends - starts + 1
    value = np.full(len(starts), -1, dtype=np.int64)
    for length in np.unique(ndigits[ndigits <= MAX_DIGITS]).tolist():
        these = np.flatnonzero(ndigits == length)
        digits = _DIGIT_VALUE[data[starts[these, None] + np.arange(length)]]
        value[these] = digits @ _POW10[length - 1 :: -1] if length > 1 else digits[:, 0]

    joined = np.zeros(len(starts), dtype=bool)
    if len(starts) > 1:
        gap = starts[1:] - ends[:-1] - 1
        ok = (text[1:] == text[:-1]) & (gap >= 1) & (gap <= 3)
        for shift in range(1, 4):
            probe = np.minimum(ends[:-1] + shift, size - 1)
            ok &= (shift > gap) | _JOINER[data[probe]]
        joined[:-1] = ok
    touched = empty
    if find_folds and len(starts):
        # Only bytes of the same text count: the next text may well start with a Cyrillic О.
        before = _fold_ends(data, starts - 1, lo) | ((data[np.maximum(starts - 1, 0)] == 32) & _fold_ends(data, starts - 2, lo))
        after = _fold_starts(data, ends + 1, hi) | ((data[np.minimum(ends + 1, size - 1)] == 32) & _fold_starts(data, ends + 2, hi))
        touched = np.unique(text[before | after])
    return text, value, ndigits, joined, touched


def _dates(value: np.ndarray, ndigits: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """Groups that form yyyy-mm-dd or dd-mm-yyyy (joined by separators: 2026-11-12, 12/11/2026)."""
    date = np.zeros(len(value), dtype=bool)
    if len(value) < 3:
        return date
    a, b, c = value[:-2], value[1:-1], value[2:]
    la, lb, lc = ndigits[:-2], ndigits[1:-1], ndigits[2:]
    linked = joined[:-2] & joined[1:-1]
    year_first = (la == 4) & (a >= 1990) & (a <= 2099) & (lb <= 2) & (b >= 1) & (b <= 12) & (lc <= 2) & (c >= 1) & (c <= 31)
    year_last = (la <= 2) & (a >= 1) & (a <= 31) & (lb <= 2) & (b >= 1) & (b <= 12) & (lc == 4) & (c >= 1990) & (c <= 2099)
    hit = np.flatnonzero(linked & (year_first | year_last))
    for shift in range(3):
        date[hit + shift] = True
    return date


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)


def key_hash(arity, v1, v2, v3) -> np.ndarray:
    """A uint64 fingerprint of a key (arity, v1, v2, v3); equal keys give equal hashes."""
    with np.errstate(over="ignore"):
        h = np.asarray(arity, dtype=np.uint64) * _MIX[0]
        for part, mix in zip((v1, v2, v3), _MIX[1:]):
            h = (h ^ (np.asarray(part, dtype=np.int64).astype(np.uint64) * mix)) * np.uint64(0x100000001B3)
    return h


def _pow10(ndigits: np.ndarray) -> np.ndarray:
    return (10 ** np.minimum(ndigits, MAX_DIGITS)).astype(np.int64)


def text_keys(groups: DigitGroups) -> pd.DataFrame:
    """Candidate invoice keys in texts: text, arity, v1, v2, v3, hash (unigrams, joined pairs and
    triples, and the compact forms of the pairs and triples)."""
    usable = (groups.value >= 0) & ~groups.date
    frames = [(groups.text[usable], np.ones(usable.sum(), np.int64), groups.value[usable], 0, 0)]
    n = len(groups.value)
    if n > 1:
        i = np.flatnonzero(groups.joined[:-1] & usable[:-1] & usable[1:])
        j = i + 1
        frames.append((groups.text[i], np.full(len(i), 2), groups.value[i], groups.value[j], 0))
        fits = groups.ndigits[i] + groups.ndigits[j] <= MAX_DIGITS
        ic, jc = i[fits], j[fits]
        frames.append((groups.text[ic], np.ones(len(ic), np.int64), groups.value[ic] * _pow10(groups.ndigits[jc]) + groups.value[jc], 0, 0))
    if n > 2:
        i = np.flatnonzero(groups.joined[:-2] & groups.joined[1:-1] & usable[:-2] & usable[1:-1] & usable[2:])
        j, k = i + 1, i + 2
        frames.append((groups.text[i], np.full(len(i), 3), groups.value[i], groups.value[j], groups.value[k]))
        fits = groups.ndigits[i] + groups.ndigits[j] + groups.ndigits[k] <= MAX_DIGITS
        i, j, k = i[fits], j[fits], k[fits]
        compact = (groups.value[i] * _pow10(groups.ndigits[j]) + groups.value[j]) * _pow10(groups.ndigits[k]) + groups.value[k]
        frames.append((groups.text[i], np.ones(len(i), np.int64), compact, 0, 0))
    columns = {name: [] for name in ("text", "arity", "v1", "v2", "v3")}
    for frame in frames:
        size = len(frame[0])
        for name, part in zip(columns, frame):
            columns[name].append(np.broadcast_to(np.asarray(part, dtype=np.int64), (size,)))
    keys = pd.DataFrame({name: np.concatenate(parts) if parts else np.zeros(0, np.int64) for name, parts in columns.items()})
    keys["hash"] = key_hash(keys["arity"], keys["v1"], keys["v2"], keys["v3"])
    return keys


def invoice_keys(numbers: pd.Series, min_digits: int) -> pd.DataFrame:
    """Keys of invoice numbers: row (position in `numbers`), arity, v1, v2, v3, hash.

    Each number gives its groups' values (when it has at most three groups) and its compact form.
    A number whose compact form has fewer than `min_digits` significant digits is left out: "12"
    turns up in every other payment text.
    """
    groups = digit_groups(numbers, detect_dates=False)
    n = len(numbers)
    count = np.bincount(groups.text, minlength=n) if len(groups.text) else np.zeros(n, np.int64)
    first = np.zeros(n, dtype=np.int64)
    first[1:] = np.cumsum(count)[:-1]  # groups come sorted by text
    compact = np.zeros(n, dtype=np.int64)
    total_digits = np.zeros(n, dtype=np.int64)
    usable = count > 0
    slots = np.zeros((n, 3), dtype=np.int64)
    for position in range(int(count.max()) if n and len(groups.text) else 0):
        has = np.flatnonzero(count > position)
        index = first[has] + position
        digits, value = groups.ndigits[index], groups.value[index]
        usable[has[(value < 0) | (total_digits[has] + digits > MAX_DIGITS)]] = False
        ok = usable[has]
        has, digits, value = has[ok], digits[ok], value[ok]
        compact[has] = compact[has] * _pow10(digits) + value
        total_digits[has] += digits
        if position < 3:
            slots[has, position] = value
    significant = np.searchsorted(_POW10, compact, side="right")  # digits of the value; 0 for 0
    usable &= significant >= min_digits
    rows = np.flatnonzero(usable)
    compact_keys = pd.DataFrame({"row": rows, "arity": 1, "v1": compact[rows], "v2": 0, "v3": 0})
    grouped = rows[count[rows] <= 3]
    group_keys = pd.DataFrame(
        {"row": grouped, "arity": count[grouped], "v1": slots[grouped, 0], "v2": slots[grouped, 1], "v3": slots[grouped, 2]}
    )
    keys = pd.concat([compact_keys, group_keys], ignore_index=True).astype(np.int64)
    keys = keys.drop_duplicates().reset_index(drop=True)
    keys["hash"] = key_hash(keys["arity"], keys["v1"], keys["v2"], keys["v3"])
    return keys


def find_invoice_numbers(groups: DigitGroups, invoices: pd.DataFrame) -> pd.DataFrame:
    """(text, row, shared): text `text` names the invoice at position `row` of the key table; shared
    when every key that matched also belongs to another organization's invoice."""
    keys = text_keys(groups)
    keys = keys[np.isin(keys["hash"].to_numpy(), invoices["hash"].to_numpy())]
    found = keys.merge(invoices, on=["hash", "arity", "v1", "v2", "v3"])
    if "shared" not in found.columns:
        found["shared"] = False
    found = found.groupby(["text", "row"], as_index=False, sort=True)["shared"].all()
    return found[["text", "row", "shared"]]


def tax_id_candidates(groups: DigitGroups) -> pd.DataFrame:
    """(text, ndigits, value) for every standalone run of 8 or 10 digits (not part of a date)."""
    mask = ((groups.ndigits == 8) | (groups.ndigits == 10)) & ~groups.date & (groups.value >= 0)
    return pd.DataFrame({"text": groups.text[mask], "ndigits": groups.ndigits[mask], "value": groups.value[mask]})
