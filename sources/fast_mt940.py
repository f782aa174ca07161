"""The fast MT940 reader: the same records as sources/mt940.py, in columnar batches, several times faster.

How it works (the full reader, `_Reader` in mt940.py, stays the reference and reads the file's text:
decoding, control bytes and line ends are its own):

1. The text comes in blocks of about BLOCK_BYTES, cut before a `:20:` line, so that each statement
   is whole in one block. The blocks stay UTF-8 bytes (utf8_blocks: the full reader's text, line
   ends as LF, without decoding it); only what goes to the full reader is decoded.
2. Each statement is checked against the plain layout: HEADER (`:20:`, `:21:`, `:25:`, `:28C:`,
   `:60F/M:`, one line each), then lines that are each a `:61:`, a `:86:` or a continuation line,
   then FOOTER (`:62F/M:`, `:64:`, `:65:`, a closing `:86:`, `-` or blank lines). A statement in
   that layout whose balances, dates and amounts all read (the full reader would warn about
   nothing) is read here; everything else (envelopes, pseudo-headers, MT942, wrapped field 61,
   broken statements, :NS:, stray or blank lines inside) goes, unchanged, through the full
   reader's own line loop.
3. The segment is read in its UTF-8 bytes (numpy), its lines as (start, end) pairs; the fast
   statements' rows (a :61: line with its continuation lines and its :86:) are made in columns:
   field 61 as _FIELD_61_RE2 reads it (_parse_61 finds each part's boundaries in the bytes; one
   pyarrow take per part), amounts, dates (each distinct one once); field 86 in the German GVC
   structure when it is plain (each ?NN subfield once and known, subfields joined by the simple
   rules, SEPA keywords only where a piece starts); other structures and the rows the vectorised
   GVC does not cover go through mt940.read_information, row by row. Texts are cut out of the bytes
   as spans (fast_common.spans: a pyarrow column over the bytes, no copy, then a take). The full
   reader counts each statement as it would have (statement numbers, summaries, balance chain,
   held records of broken statements), and its occurrence counter numbers identical lines across
   both paths; line ids are hashed from one pyarrow column of identities (fast_common.line_digests).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sources.fast_common import (
    BatchBuilder,
    block_size,
    clean_values,
    hex_ids,
    is_utf8,
    line_digests,
    json_objects,
    null_if_empty,
    patch,
    spans,
    value_bytes,
)
from sources.mt940 import (
    _GVC_PURPOSE,
    _GVC_SUBFIELD_WIDTH,
    _SEPA_EXTRA,
    _CONTROL_DELETE,
    Balance,
    _END_OF_MESSAGE,
    _PSEUDO_HEADER,
    Mt940Source,
    Statement,
    _without_envelope,
    _account,
    _blocks,
    _no_ref,
    _Reader,
    _validate,
    entry_date,
    read_information,
    swift_amount,
    swift_date,
)
from sources.parsing import clean
from sources.records import RecordBatch

BLOCK_BYTES = 2 << 20


def block_bytes(batch_size: int) -> int:
    """The block a batch of this size needs (fast_common.block_size; a line takes about 230 bytes)."""
    return block_size(batch_size, 128, 256 << 10, BLOCK_BYTES)


_BOM = "\ufeff".encode("utf-8")


def _without_cr(block: bytes) -> bytes:
    """mt940._normalized_utf8: CRLF and CR as LF, on the bytes. When every CR starts a CRLF (the
    usual case: numpy tells it faster than counting CRLFs) the CRs are deleted, by the one-byte
    replace (faster than a translate)."""
    if b"\r" not in block:
        return block
    data = np.frombuffer(block, dtype=np.uint8)
    after = np.flatnonzero(data == 13) + 1
    if after[-1] < len(data) and (data[after] == 10).all():
        return block.replace(b"\r", b"")
    return block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def utf8_blocks(reader: _Reader, size: int) -> Iterator[bytes]:
    """reader._texts(size) as UTF-8 bytes, with no str made of them: the fast statements are read
    in their bytes, and only the full reader's pieces are decoded. A file that is UTF-8 without
    control bytes (the usual case) is read twice, once to check it and once to give its blocks;
    any other goes through reader._texts (it decodes the whole file or removes control bytes and
    tells its warnings), whose text is encoded again."""
    for block in _blocks(reader.path, size):
        if len(block.translate(None, _CONTROL_DELETE)) != len(block) or not is_utf8(block):
            for text in reader._texts(size):
                yield text.encode("utf-8")
            return
    first = True
    for block in _blocks(reader.path, size):
        if first and block.startswith(_BOM):  # what decode("utf-8-sig") drops from the first block
            block = block[len(_BOM):]
        first = False
        yield _without_cr(block)


#: A continuation line as the full reader's fast path takes it: after spaces or tabs, its first
#: character is not whitespace, ':', '{' or '-' (other lines go to the full reader).
_CONT = r"[ \t]*[^\s:{\-][^\n]*\n"
#: The plain layout of a statement: header fields of one line each, the :61: lines (with their
#: continuation lines and :86:), then the closing balance and what may follow it. HEADER reads
#: the statement's UTF-8 bytes (its parts are whole lines, and a byte of a character that is not
#: ASCII is never a line feed, so it matches where the same pattern would in the text); FOOTER
#: reads the decoded text from the closing balance on (its \s must be Python's whitespace).
HEADER = re.compile(
    rb":20:(?P<reference>[^\n]*)\n"
    rb"(?::21:[^\n]*\n)?"
    rb":25:(?P<account>[^\n]*)\n"
    rb"(?::28C?:(?P<number>[^\n]*)\n)?"
    rb":60[FM]:(?P<opening>[^\n]*)\n"
)
FOOTER = re.compile(
    r":62[FM]:(?P<closing>[^\n]*)\n"
    r"(?::64:[^\n]*\n)?(?::65:[^\n]*\n)*"
    rf"(?::86:[^\n]*\n(?:{_CONT})*)?"
    r"(?P<tail>(?:[^:\n][^\n]*\n|:94[^\n]*\n|\n)*)"
)


def _quiet_tail(tail: str) -> bool:
    """Whether the lines after a statement's last field change nothing the full reader keeps but
    line numbers: blank lines, end of message (`-`, `-}`), the SWIFT envelope and pseudo-headers
    of MT940 (an MT942 header would make the next statement interim: the full reader's case)."""
    for line in tail.split("\n")[:-1]:
        stripped = line.strip()
        if not stripped or _END_OF_MESSAGE.match(stripped):
            continue
        rest, message_type = _without_envelope(line)
        if message_type == "942":
            return False
        if rest is not line and rest.strip() in ("", "-"):
            continue
        pseudo = _PSEUDO_HEADER.match(stripped)
        if pseudo is None or pseudo.group(1) != "940":
            return False
    return True

_KEYWORDS = ("EREF", "KREF", "MREF", "CRED", "DEBT", "SVWZ", "ABWA", "ABWE", "IBAN", "BIC", "COAS", "OAMT", "PURP")
_KEYWORD_ALTERNATION = "|".join(_KEYWORDS)
_NEW_ITEM_RE2 = rf"^(?:{_KEYWORD_ALTERNATION})\+|^[A-Z]{{4}}:"
_INNER_KEYWORD_RE2 = rf"[^A-Za-z0-9](?:{_KEYWORD_ALTERNATION})\+"
_ANY_KEYWORD_RE2 = rf"(?:^|[^A-Za-z0-9])(?:{_KEYWORD_ALTERNATION})\+"
_KNOWN_SUBFIELDS = ["00", "10", *_GVC_PURPOSE[:10], "30", "31", "32", "33", "34", *_GVC_PURPOSE[10:]]
#: ?NN -> its place in _KNOWN_SUBFIELDS (-1: another subfield)
_KEY_RANK = np.full(100, -1, dtype=np.int64)
_KEY_RANK[[int(key) for key in _KNOWN_SUBFIELDS]] = np.arange(len(_KNOWN_SUBFIELDS))
#: the two bytes after a '?' (first << 8 | second) -> whether they are digits, and their ?NN's rank
_DIGIT_PAIR = np.zeros(1 << 16, dtype=bool)
_PAIR_RANK = np.full(1 << 16, -1, dtype=np.int64)
for _number in range(100):
    _DIGIT_PAIR[(48 + _number // 10) << 8 | (48 + _number % 10)] = True
    _PAIR_RANK[(48 + _number // 10) << 8 | (48 + _number % 10)] = _KEY_RANK[_number]
del _number
_PURPOSE_RANKS = np.array([_KNOWN_SUBFIELDS.index(key) for key in _GVC_PURPOSE])
#: rank -> place in the purpose order (?20..?29, ?60..?63)
_PURPOSE_ORDER = np.full(len(_KNOWN_SUBFIELDS), -1, dtype=np.int64)
_PURPOSE_ORDER[_PURPOSE_RANKS] = np.arange(len(_GVC_PURPOSE))
_OTHER_WHITESPACE = "[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NO_REFS = ["NOTPROVIDED", "NONREF", "NOT PROVIDED"]
_NONE = pa.scalar(None, pa.string())


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _clean(values: pa.Array) -> pa.Array:
    return clean_values(values, clean)


# --------------------------------------------------------------------------------------------------
# Field 86, German GVC structure, in columns
# --------------------------------------------------------------------------------------------------


def _scatter_mask(rows: np.ndarray, length: int) -> np.ndarray:
    """A mask of `length` rows, True at rows."""
    mask = np.zeros(length, dtype=bool)
    mask[rows] = True
    return mask


def _scatter(values: pa.Array, rows: np.ndarray, length: int) -> pa.Array:
    """A column of `length` rows holding values[i] at rows[i], null elsewhere."""
    index = np.full(length, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return values.take(pa.array(index, mask=index < 0))


class _Information:
    """What field 86 gives, in columns: the record's fields and the extra keys."""

    def __init__(self, length: int):
        self.length = length
        self.fields = {name: pa.nulls(length, pa.string()) for name in
                       ("counterparty_name", "counterparty_account", "remittance", "end_to_end_id")}
        self.extra: dict[str, pa.Array] = {}
        self.structure = pa.nulls(length, pa.string())


def _heads(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int = 5) -> np.ndarray:
    """The first `width` bytes of each span (0 past its end): row k holds byte k of every span
    (one gather per row is cheaper than a two-dimensional one)."""
    heads = np.zeros((width, len(starts)), dtype=np.uint8)
    if len(data):
        for step in range(width):
            at = starts + step
            heads[step] = np.where(at < ends, np.take(data, at, mode="clip"), 0)
    return heads


def _packed(heads: np.ndarray, width: int) -> np.ndarray:
    """The first `width` bytes of each head as one integer."""
    value = heads[0].astype(np.int64)
    for step in range(1, width):
        value = (value << 8) | heads[step]
    return value


#: "EREF+" ... as integers of their 5 bytes ("BIC+": 4 bytes)
_KEYWORD_CODES = np.array([int.from_bytes((k + "+").encode(), "big") for k in _KEYWORDS])
_BIC = _KEYWORDS.index("BIC")


_KEYWORD_ORDER = np.argsort(_KEYWORD_CODES)
_SORTED_CODES = _KEYWORD_CODES[_KEYWORD_ORDER]


def _keyword_of(heads: np.ndarray) -> np.ndarray:
    """The SEPA keyword a text starts with (its index in _KEYWORDS, with '+'), else -1."""
    five = _packed(heads, 5)
    at = np.minimum(np.searchsorted(_SORTED_CODES, five), len(_SORTED_CODES) - 1)
    result = np.where(_SORTED_CODES[at] == five, _KEYWORD_ORDER[at], -1)
    return np.where(five >> 8 == _KEYWORD_CODES[_BIC], _BIC, result)


def _new_item(heads: np.ndarray, keyword: np.ndarray) -> np.ndarray:
    """mt940._NEW_ITEM: a SEPA keyword (`keyword`: _keyword_of(heads)), or four capitals and a
    colon, at the start."""
    capitals = _UPPER[heads[0]] & _UPPER[heads[1]] & _UPPER[heads[2]] & _UPPER[heads[3]] & (heads[4] == 58)
    return (keyword >= 0) | capitals


def _grouped(values: pa.Array, groups: np.ndarray, count: int, separator: str) -> pa.Array:
    """For each of `count` groups, its values (in order; `groups` ascending) joined by `separator`."""
    offsets = np.searchsorted(groups, np.arange(count + 1)).astype(np.int32)
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), separator)


def _gvc(joined: pa.Array) -> tuple[_Information, np.ndarray]:
    """Field 86 texts (lines joined without separator) read as mt940._gvc_information reads them,
    for the plain ones; returns the columns and a mask of the rows it did not read (left to
    read_information). The ?NN markers are found in the texts' bytes (`?` is ASCII)."""
    length = len(joined)
    info = _Information(length)
    valid = ~_mask(pc.is_null(joined))
    data, offsets = value_bytes(joined)
    starts, ends = offsets[:-1], offsets[1:]
    last = max(len(data) - 1, 0)
    candidate = valid & (ends - starts >= 4)
    if len(data):
        for step in range(3):
            candidate &= _DIGIT[data[np.minimum(starts + step, last)]]
        candidate &= data[np.minimum(starts + 3, last)] == 63
    slow = valid & ~candidate
    rows = np.flatnonzero(candidate)
    if not len(rows):
        return info, slow
    bad = np.zeros(length, dtype=bool)
    # ?NN markers, in the candidate rows, in order; the subfields are the texts between them
    marks = np.flatnonzero(data == 63)
    mark_row = np.repeat(np.arange(length), np.diff(np.searchsorted(marks, offsets)))
    inside = candidate[mark_row]
    marks, mark_row = marks[inside], mark_row[inside]
    pair = np.take(data, marks + 1, mode="clip").astype(np.intp) << 8 | np.take(data, marks + 2, mode="clip")
    digits_follow = (marks + 2 < ends[mark_row]) & _DIGIT_PAIR[pair]
    rank = np.where(digits_follow, _PAIR_RANK[pair], -1)
    bad[mark_row[rank < 0]] = True  # another subfield (mt940 keeps it in extra), or no digits after '?'
    # each known subfield's marker, by rank and row; a subfield twice in a row leaves one of its
    # markers out of the table (whichever the assignment kept): that row is not read here
    ranked = np.flatnonzero(rank >= 0)
    table = np.full((len(_KNOWN_SUBFIELDS), length), -1, dtype=np.int64)
    table[rank[ranked], mark_row[ranked]] = ranked
    bad[mark_row[ranked[table[rank[ranked], mark_row[ranked]] != ranked]]] = True
    # each marker's subfield: after its ?NN, up to the next marker or the end of the text
    next_mark = np.where(np.append(mark_row[1:] == mark_row[:-1], False), np.append(marks[1:], 0), ends[mark_row])
    value_start = np.where(digits_follow, marks + 3, next_mark)
    # the subfields and what lies between them, as one column over the bytes (no copy): marker i's
    # subfield is value 2 * i
    bounds = np.empty(2 * len(marks), dtype=np.int32)
    bounds[0::2], bounds[1::2] = value_start, next_mark
    values = pa.StringArray.from_buffers(2 * len(marks) - 1, pa.py_buffer(bounds), pa.py_buffer(data))
    good = ~bad[mark_row] & (rank >= 0)
    table[:, bad] = -1  # the subfields of the rows not read here are never asked for

    def subfield_spans(index: np.ndarray) -> pa.Array:
        """The subfields of these markers (-1: null)."""
        return values.take(pa.array(2 * index, mask=index < 0))

    def subfield(name: str) -> pa.Array:
        return subfield_spans(table[_KNOWN_SUBFIELDS.index(name)])

    # Purpose subfields (?20-?29, ?60-?63) in that order; each carries on the one before it (no
    # separator) when it is the next one, opens no new item and the one before is full (27
    # characters). When the one before is shorter, mt940 asks whether a SEPA keyword's value runs
    # on: never when the text holds no keyword; otherwise read_information decides.
    chosen = np.flatnonzero(good & (_PURPOSE_ORDER[np.maximum(rank, 0)] >= 0) & (rank >= 0))
    place = mark_row[chosen] * 16 + _PURPOSE_ORDER[rank[chosen]]
    if (place[1:] <= place[:-1]).any():
        chosen = chosen[np.argsort(place, kind="stable")]
    p_row, p_order = mark_row[chosen], _PURPOSE_ORDER[rank[chosen]]
    member_start, member_end = value_start[chosen], next_mark[chosen]
    heads = _heads(data, member_start, member_end)
    following = np.zeros(len(chosen), dtype=bool)
    following[1:] = (p_row[1:] == p_row[:-1]) & (p_order[1:] == p_order[:-1] + 1)
    member_keyword = _keyword_of(heads)
    may_join = following & ~_new_item(heads, member_keyword)
    previous_full = np.zeros(len(chosen), dtype=bool)
    # characters that are not ASCII: where they start, and how many bytes each has after the first
    wide = np.flatnonzero(data >= 0xC0)
    wide_tail = np.zeros(len(wide) + 1, dtype=np.int64)
    np.cumsum(1 + (data[wide] >= 0xE0) + (data[wide] >= 0xF0), out=wide_tail[1:])

    def characters(begin: np.ndarray, end: np.ndarray) -> np.ndarray:
        """How many characters each span of the bytes holds."""
        return (end - begin) - (wide_tail[np.searchsorted(wide, end)] - wide_tail[np.searchsorted(wide, begin)])

    if len(chosen) > 1:
        previous_full[1:] = characters(member_start[:-1], member_end[:-1]) >= _GVC_SUBFIELD_WIDTH
    ruled = may_join & ~previous_full
    if ruled.any():
        ask = np.unique(p_row[ruled])
        keyword = _mask(pc.match_substring_regex(
            joined.take(pa.array(ask)), rf"(?:^|[^A-Za-z0-9]|\?[0-9]{{2}})(?:{_KEYWORD_ALTERNATION})\+"))
        bad[ask[keyword]] = True
    joins = may_join & previous_full
    # pieces: runs of joined subfields; each is a SEPA keyword with its value, or free text
    piece_of = np.cumsum(~joins) - 1
    first_member = np.flatnonzero(~joins)
    piece_row = p_row[first_member]
    keyword = member_keyword[first_member]
    # the keyword's value: the piece after "EREF+" ("BIC+")
    after_keyword = member_start.copy()
    after_keyword[first_member] += np.where(keyword == _BIC, 4, np.where(keyword >= 0, 5, 0))

    def texts(which: np.ndarray) -> pa.Array:
        """The pieces `which` (ascending)."""
        selected = np.zeros(len(first_member), dtype=bool)
        selected[which] = True
        members = np.flatnonzero(selected[piece_of])
        return spans(data, member_start[members], member_end[members], np.searchsorted(which, piece_of[members]),
                     len(which))

    def row_values(which: np.ndarray) -> pa.Array:
        """The keyword values of the pieces `which` (ascending, one a row at most) as a column of
        the rows (null where a row has none): one span per member, grouped by row."""
        selected = np.zeros(len(first_member), dtype=bool)
        selected[which] = True
        members = np.flatnonzero(selected[piece_of])
        present = np.zeros(length, dtype=bool)
        present[piece_row[which]] = True
        return spans(data, after_keyword[members], member_end[members], piece_row[piece_of[members]], length,
                     valid=present)

    plus = np.flatnonzero(data == ord("+"))
    plus_count = np.searchsorted(plus, member_end) - np.searchsorted(plus, member_start)
    plus_count = np.add.reduceat(plus_count, first_member) if len(first_member) else plus_count
    maybe_inner = np.flatnonzero(plus_count > (keyword >= 0))
    if len(maybe_inner):  # a '+' besides the keyword's own: a keyword inside the piece?
        inner = _mask(pc.match_substring_regex(texts(maybe_inner), _INNER_KEYWORD_RE2))
        bad[piece_row[maybe_inner[inner]]] = True
    # remittance: the free-text pieces that are not blank, and the SVWZ values, in order
    svwz = keyword == _KEYWORDS.index("SVWZ")
    # blank: nothing but spaces and tabs (Python's other whitespace is gone from the text by then,
    # or sends the row to read_information below); a piece that starts otherwise is not blank
    blank = _BLANK_START[heads[0, first_member]]
    for at in np.flatnonzero(blank).tolist():
        members = np.flatnonzero(piece_of == at)
        blank[at] = all(not data[start:end].tobytes().strip(b" \t")
                        for start, end in zip(member_start[members].tolist(), member_end[members].tolist()))
    part = np.flatnonzero(((keyword < 0) & ~blank) | svwz)
    in_part = np.zeros(len(first_member), dtype=bool)
    in_part[part] = True
    members = np.flatnonzero(in_part[piece_of])
    parts = spans(data, np.where(svwz[piece_of[members]], after_keyword[members], member_start[members]),
                  member_end[members], np.searchsorted(part, piece_of[members]), len(part))
    remittance = _clean(_grouped(parts, piece_row[part], length, " "))
    # the first value of each keyword (SVWZ aside)
    first: dict[str, pa.Array] = {}
    named = np.flatnonzero((keyword >= 0) & ~svwz)
    if len(named):
        _, at = np.unique(piece_row[named] * 16 + keyword[named], return_index=True)
        picked = np.sort(named[at])
        for code in np.unique(keyword[picked]).tolist():
            first[_KEYWORDS[code]] = row_values(picked[keyword[picked] == code])
    # counterparty name (?32, ?33) joined the same way
    # (the rules read in the bytes of the rows that have both; a ?32 that is not full and a ?33
    # that opens no new item are joined by mt940 unless a keyword's value may run on: the regular
    # expression asks, for those rows only)
    at32, at33 = table[_KNOWN_SUBFIELDS.index("32")], table[_KNOWN_SUBFIELDS.index("33")]
    name = subfield_spans(np.where(at32 >= 0, at32, at33))
    both = np.flatnonzero((at32 >= 0) & (at33 >= 0))
    if len(both):
        first_index, second_index = at32[both], at33[both]
        heads33 = _heads(data, value_start[second_index], next_mark[second_index])
        name_new_item = _new_item(heads33, _keyword_of(heads33))
        name_full = characters(value_start[first_index], next_mark[first_index]) >= _GVC_SUBFIELD_WIDTH
        name_rule = np.flatnonzero(~name_new_item & ~name_full)
        if len(name_rule):
            asked = both[name_rule]
            keyword_in_32 = _mask(pc.match_substring_regex(subfield_spans(at32[asked]), _ANY_KEYWORD_RE2))
            bad[asked[keyword_in_32]] = True
        # glued without a space: a full ?32 and a ?33 that opens no new item
        glue = pc.if_else(pa.array(~name_new_item & name_full), pa.scalar(""), pa.scalar(" "))
        joined_names = pc.binary_join_element_wise(subfield_spans(first_index), glue, subfield_spans(second_index), "")
        name = pc.if_else(pa.array(_scatter_mask(both, length)), _scatter(joined_names, both, length), name)
    account = _no_spaces(subfield("31"))
    if "IBAN" in first:
        account = pc.coalesce(account, _no_spaces(first["IBAN"]))
    end_to_end = first.get("EREF")
    if end_to_end is not None:
        raw_end_to_end = end_to_end
        end_to_end = _clean(end_to_end)
        end_to_end = pc.if_else(pc.is_in(pc.utf8_upper(end_to_end), value_set=pa.array(_NO_REFS)), _NONE, end_to_end)
        other = pc.invert(pc.fill_null(pc.string_is_ascii(raw_end_to_end), True))
        end_to_end = patch(end_to_end, other, _no_ref, raw_end_to_end)  # Python's upper()
    extra = {
        "gvc": spans(data, starts, np.where(candidate, starts + 3, starts), valid=candidate),
        "booking_text": _clean(subfield("00")),
        "primanota": _clean(subfield("10")),
        "counterparty_bank": _clean(subfield("30")),
        "text_key_extension": _clean(subfield("34")),
    }
    for keyword_name, extra_name in _SEPA_EXTRA.items():
        if keyword_name in first:
            cleaned = _clean(first[keyword_name])
            extra[extra_name] = pc.coalesce(extra[extra_name], cleaned) if extra_name in extra else cleaned
    # whitespace Python's str.split() knows and pyarrow may not: read_information
    lead = data[wide]
    maybe = wide[(lead == 0xC2) | ((lead >= 0xE1) & (lead <= 0xE3))]
    if len(maybe):
        ask = np.unique(np.searchsorted(offsets, maybe, side="right") - 1)
        bad[ask[_mask(pc.match_substring_regex(joined.take(pa.array(ask)), _OTHER_WHITESPACE))]] = True
    fast = candidate & ~bad
    slow |= candidate & bad
    keep = pa.array(fast)
    masked = (candidate & bad).any()  # else each column is null outside the candidate rows already

    def out(values: pa.Array | None) -> pa.Array:
        if values is None:
            return pa.nulls(length, pa.string())
        return pc.if_else(keep, values, _NONE) if masked else values

    info.fields = {
        "counterparty_name": out(_clean(name)),
        "counterparty_account": out(account),
        "remittance": out(remittance),
        "end_to_end_id": out(end_to_end),
    }
    info.extra = {key: out(values) for key, values in extra.items()}
    info.structure = pc.if_else(keep, pa.scalar("gvc"), _NONE)
    return info, slow


def _no_spaces(values: pa.Array) -> pa.Array:
    """mt940._account: an account number without the whitespace in it; '' as null."""
    if values.null_count == len(values):
        return values
    data, offsets = value_bytes(values)
    if not ((data <= 32).any() or (np.diff(offsets)[~_mask(pc.is_null(values))] == 0).any()):
        return values
    result = pc.replace_substring_regex(values, "[ \t\n\r]+", "")
    return pc.if_else(pc.equal(result, ""), _NONE, result)


def _information(joined: pa.Array, lines_of) -> _Information:
    """Field 86 of every row (its lines joined without separator; null: no :86:), as
    mt940.read_information gives it, in columns; lines_of(row) gives a row's lines for it."""
    length = len(joined)
    info, slow = _gvc(joined)
    rows = np.flatnonzero(slow)
    if not len(rows):
        return info
    extra_values: dict[str, list] = {}
    fields = {name: [None] * len(rows) for name in info.fields}
    structure = []
    for position, row in enumerate(rows.tolist()):
        result = read_information(lines_of(row))
        fields["counterparty_name"][position] = result.counterparty_name
        fields["counterparty_account"][position] = result.counterparty_account
        fields["remittance"][position] = result.remittance
        fields["end_to_end_id"][position] = result.end_to_end_id
        structure.append(result.structure)
        for key, value in result.extra.items():
            extra_values.setdefault(key, [None] * len(rows))[position] = value
    for name, values in fields.items():
        info.fields[name] = pc.coalesce(info.fields[name], _scatter(pa.array(values, pa.string()), rows, length))
    info.structure = pc.coalesce(info.structure, _scatter(pa.array(structure, pa.string()), rows, length))
    for key, values in extra_values.items():
        scattered = _scatter(pa.array(values, pa.string()), rows, length)
        info.extra[key] = pc.coalesce(info.extra[key], scattered) if key in info.extra else scattered
    return info


# --------------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------------


class _FastStatement:
    """A statement in the plain layout: its header as the full reader reads it, and where its lines are."""

    __slots__ = ("text", "statement", "header_end", "footer_start", "line_count", "body_line", "body_lines",
                 "start_line", "rows", "number")

    def __init__(self, text: bytes, statement: Statement, header_end: int, footer_start: int):
        self.text = text  # UTF-8
        self.statement = statement
        self.header_end = header_end  # where, in the text, its first :61: starts
        self.footer_start = footer_start  # and its closing balance
        # its lines (counted by the segment, from the line feeds it finds in one pass)
        self.line_count = 0
        self.body_line = 0  # lines before the first :61:
        self.body_lines = 0  # lines from the first :61: to the closing balance
        self.start_line = 0  # its :20: line's place among the segment's lines
        self.rows = (0, 0)  # its rows in the segment's columns
        self.number = 0  # its place among the segment's fast statements

    @classmethod
    def read(cls, text: bytes) -> _FastStatement | None:
        """The statement (its UTF-8 bytes) when it is in the plain layout, else None."""
        header = HEADER.match(text)
        if header is None:
            return None
        body = header.end()
        # the closing balance: the last line that starts with ':62' (from the end, a few lines
        # back) when it is a :62F: or :62M: (an earlier one would be a body line no :61: row
        # takes, which leaves the statement to the full reader), else the first :62F: or :62M:
        closing = text.rfind(b"\n:62", body - 1) + 1
        if not (closing and text.startswith((b":62F:", b":62M:"), closing)):
            closing = body if text.startswith((b":62F:", b":62M:"), body) else min(
                (at + 1 for at in (text.find(b"\n:62F:", body - 1), text.find(b"\n:62M:", body - 1)) if at >= 0),
                default=-1)
        if closing < 0:
            return None
        footer = FOOTER.fullmatch(text[closing:].decode("utf-8"))
        if footer is None or (footer["tail"] and not _quiet_tail(footer["tail"])):
            return None
        reference = header["reference"].decode("utf-8").strip()
        opening = Balance.parse(header["opening"].decode("utf-8").strip())
        closing_balance = Balance.parse(footer["closing"].strip())
        if not reference or opening is None or closing_balance is None:
            return None
        number = header["number"]
        if number is not None:
            number = number.decode("utf-8")
        statement = Statement(
            first_line=0, first_tag="20", message_type="940", reference=reference,
            account_raw=header["account"].decode("utf-8").strip(),
            number=(re.sub(r"\s", "", number.strip()) or None) if number is not None else None,
            opening=opening, closing=closing_balance,
        )
        _validate(statement)
        if statement.problems or statement.notes:
            return None
        return cls(text, statement, body, closing)


#: A line the full reader takes as a continuation line: after spaces or tabs, a character that is
#: not whitespace (Python's), ':', '{' or '-'.
_CONTINUATION_RE2 = (r"^[ \t]*[^\s:{\-\x{0b}\x{0c}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
                     r"\x{202f}\x{205f}\x{3000}]")
#: Field 61 as mt940._STATEMENT_LINE reads it, with the references cut at the first '//' (the
#: specification _parse_61 follows in the bytes; the tests hold one to the other).
_FIELD_61_RE2 = (r"^:61:(?P<value_date>[0-9]{6})(?P<entry_date>[0-9]{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?"
                 r"(?P<whole>[0-9]+)(?P<fraction>,[0-9]*)?(?P<kind>[A-Z][A-Z0-9]{3})"
                 r"(?P<customer>(?:[^/]|/[^/]|/$)*)(?P<slashes>//)?(?P<bank>.*)$")


#: First bytes of a line: the full reader's continuation line for sure (_CONTINUES), or only the
#: regular expression can tell (_UNSURE: spaces or a tab first, or a character that is not ASCII).
_CONTINUES = np.ones(256, dtype=bool)
_CONTINUES[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, ord(":"), ord("{"), ord("-")]] = False
_CONTINUES[128:] = False
_UNSURE = np.zeros(256, dtype=bool)
_UNSURE[[9, 32]] = True
_UNSURE[128:] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0"): ord("9") + 1] = True
_UPPER = np.zeros(256, dtype=bool)
_UPPER[ord("A"): ord("Z") + 1] = True
_ALNUM = _DIGIT | _UPPER
#: The boundaries of a :61: line's parts (_FIELD_61_RE2's groups), in order.
_FIELD_61_PARTS = ("value_date", "entry_date", "mark", "funds", "whole", "fraction", "kind", "customer", "slashes",
                   "bank")


def _byte(data: np.ndarray, positions: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The byte at each position, 0 at or past its line's end."""
    # (np.take clips to the last byte itself: faster than clipping the positions first)
    return np.where(positions < ends, np.take(data, positions, mode="clip"), 0)


_SPACE_OR_TAB = np.zeros(256, dtype=bool)
_SPACE_OR_TAB[[9, 32]] = True
#: The first byte of a text that may be blank (0: the text is empty).
_BLANK_START = _SPACE_OR_TAB.copy()
_BLANK_START[0] = True


def _trimmed(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spans without the spaces and tabs they start and end with."""
    starts, ends = starts.copy(), ends.copy()
    while True:
        move = (starts < ends) & _SPACE_OR_TAB[_byte(data, starts, ends)]
        if not move.any():
            break
        starts += move
    while True:
        move = (ends > starts) & _SPACE_OR_TAB[data[np.maximum(ends - 1, 0)]]
        if not move.any():
            return starts, ends
        ends -= move


def _parse_61(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Field 61 lines (each starts with ':61:', data[starts[i]:ends[i]]) read as _FIELD_61_RE2 reads
    them, in the bytes: whether each matches, and the boundaries of its parts (one row per line:
    start, after ':61:', then the end of each of _FIELD_61_PARTS; a line that does not match has
    every part empty at its end). The regular expression's choices are all forced: the entry date
    is there when four digits follow the value date (a mark cannot start with a digit), the funds
    code when a capital follows the mark (the amount starts with a digit), the amount's digits
    run to the first other byte, and the customer reference ends at the first '//' (a '/' before
    another '/' ends it; '.' and [^/] take any other character, and UTF-8 bytes of characters
    that are not ASCII are never '/')."""

    def at(positions: np.ndarray) -> np.ndarray:
        return _byte(data, positions, ends)

    def digits_end(positions: np.ndarray) -> np.ndarray:
        """Where the digits from each position end (the amount is a few digits: one step each)."""
        positions = positions.copy()
        going = np.ones(len(positions), dtype=bool)
        while going.any():
            going &= _DIGIT[at(positions)]
            positions += going
        return positions

    ok = np.ones(len(starts), dtype=bool)
    for step in range(4, 10):
        ok &= _DIGIT[at(starts + step)]
    value_end = starts + 10
    entry = _DIGIT[at(value_end)] & _DIGIT[at(value_end + 1)] & _DIGIT[at(value_end + 2)] & _DIGIT[at(value_end + 3)]
    entry_end = value_end + 4 * entry
    first, second = at(entry_end), at(entry_end + 1)
    reversal = (first == ord("R")) & ((second == ord("C")) | (second == ord("D")))
    ok &= reversal | (first == ord("C")) | (first == ord("D"))
    mark_end = entry_end + 1 + reversal
    funds_end = mark_end + _UPPER[at(mark_end)]
    whole_end = digits_end(funds_end)
    ok &= whole_end > funds_end
    comma = at(whole_end) == ord(",")
    fraction_end = np.where(comma, digits_end(whole_end + 1), whole_end)
    ok &= (_UPPER[at(fraction_end)] & _ALNUM[at(fraction_end + 1)] & _ALNUM[at(fraction_end + 2)]
           & _ALNUM[at(fraction_end + 3)])
    kind_end = fraction_end + 4
    slash = np.flatnonzero(data == ord("/"))
    pairs = slash[:-1][slash[1:] - slash[:-1] == 1]  # the first '/' of each '//'
    pair = np.append(pairs, len(data))[np.searchsorted(pairs, np.minimum(kind_end, ends))]
    slashes = pair + 1 < ends
    customer_end = np.where(slashes, pair, ends)
    slashes_end = np.where(slashes, pair + 2, ends)
    bounds = np.stack([starts, starts + 4, value_end, entry_end, mark_end, funds_end, whole_end, fraction_end,
                       kind_end, customer_end, slashes_end, ends], axis=1)
    bounds[~ok, 1:] = ends[~ok, None]
    return ok, bounds


class _Columns:
    """The rows of a segment's fast statements in columns, before their line ids. Works on the
    segment's bytes and its lines' (start, end): each body line is a :61:, a :86: or a
    continuation line (else the statement is the full reader's); a row is a :61: with the lines up
    to the next one."""

    def __init__(self, statements: list[_FastStatement], data: np.ndarray, line_starts: np.ndarray,
                 line_ends: np.ndarray):
        sizes = [fast.body_lines for fast in statements]
        index = np.concatenate([np.arange(f.start_line + f.body_line, f.start_line + f.body_line + f.body_lines)
                                for f in statements]).astype(np.int64)
        owner = np.repeat(np.arange(len(statements)), sizes)
        starts, ends = line_starts[index], line_ends[index]
        head = [_byte(data, starts + step, ends) for step in range(4)]
        tag = (head[0] == ord(":")) & (head[3] == ord(":"))
        is61 = tag & (head[1] == ord("6")) & (head[2] == ord("1"))
        is86 = tag & (head[1] == ord("8")) & (head[2] == ord("6"))
        other = ~is61 & ~is86 & (ends > starts)
        continuation = other & _CONTINUES[head[0]]
        unsure = np.flatnonzero(other & _UNSURE[head[0]])
        if len(unsure):
            continuation[unsure] = _mask(pc.match_substring_regex(
                spans(data, starts[unsure], ends[unsure]), _CONTINUATION_RE2))
        self.ok = np.ones(len(statements), dtype=bool)
        self.ok[np.unique(owner[~(is61 | is86 | continuation)])] = False
        first = np.concatenate([[0], np.cumsum(sizes)])[:-1]
        if len(index):
            starts_badly = (np.array(sizes) > 0) & ~is61[np.minimum(first, len(index) - 1)]
            self.ok[starts_badly] = False
        # rows: one per :61:, with its continuation lines (before its :86:) and its :86: lines;
        # a line's row is the last :61: before it in its statement (a statement starts with one)
        item = np.cumsum(is61) - 1
        row_lines = np.flatnonzero(is61)
        self.length = length = len(row_lines)
        if length:  # a line before its statement's first :61: belongs to no row (that statement is not ok)
            item = np.where(owner == owner[row_lines][np.maximum(item, 0)], item, -1)
        seen86 = np.cumsum(is86)
        after86 = np.zeros(len(index), dtype=bool)
        if length:
            after86 = (seen86 - seen86[row_lines][np.maximum(item, 0)]) > 0
            twice86 = np.bincount(item[is86 & (item >= 0)], minlength=length) > 1
            self.ok[np.unique(owner[row_lines][twice86])] = False
        row_owner = owner[row_lines]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(row_owner, minlength=len(statements)))])
        for number, fast in enumerate(statements):
            fast.number = number
            fast.rows = (int(bounds[number]), int(bounds[number + 1]))
        self.statement_of = row_owner
        self.line_in_segment = index[row_lines]
        self._field_61(data, starts[row_lines], ends[row_lines])
        supplementary = np.flatnonzero(continuation & ~after86 & (item >= 0))
        self.supplementary = _clean(null_if_empty(_grouped(
            spans(data, starts[supplementary], ends[supplementary]), item[supplementary], length, " ")))
        # field 86 of each row: its lines (the first one after ':86:'), joined without separator
        information = np.flatnonzero((is86 | continuation) & after86 & (item >= 0))
        info_starts, info_ends = starts[information] + 4 * is86[information], ends[information]
        info_row = item[information]
        has86 = np.zeros(length, dtype=bool)
        has86[item[is86 & (item >= 0)]] = True

        def lines_of(row: int) -> list[str]:
            first, stop = np.searchsorted(info_row, [row, row + 1])
            return [data[start:end].tobytes().decode("utf-8")
                    for start, end in zip(info_starts[first:stop].tolist(), info_ends[first:stop].tolist())]

        self.ok[np.unique(self.statement_of[~self.row_ok])] = False
        joined = spans(data, info_starts, info_ends, groups=info_row, count=length, valid=has86)
        self.information = _information(joined, lines_of)

    def _field_61(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        length = self.length
        matched, bounds = _parse_61(data, starts, ends)
        if length:
            # every part of every line, in one column over the segment's bytes (between two lines,
            # the bytes that separate them), then each part's column
            offsets = pa.py_buffer(bounds.ravel().astype(np.int32))
            parts = pa.StringArray.from_buffers(12 * length - 1, offsets, pa.py_buffer(data))
            field = {name: parts.take(pa.array(np.arange(number, 12 * length, 12)))
                     for number, name in enumerate(_FIELD_61_PARTS, start=1)}
        else:
            field = {name: pa.array([], pa.string()) for name in _FIELD_61_PARTS}
        value_date, mark, whole, fraction, kind = (field[name] for name in ("value_date", "mark", "whole",
                                                                            "fraction", "kind"))
        self.value_date_raw = value_date
        self.entry_date_raw = pc.if_else(pa.array(bounds[:, 3] > bounds[:, 2]), field["entry_date"], _NONE)
        self.mark = mark
        self.funds_code = pc.if_else(pa.array(bounds[:, 5] > bounds[:, 4]), field["funds"], _NONE)
        self.transaction_type = kind
        # references: str.partition("//"), each part strip()ped: in the bytes when they are ASCII
        # (whitespace there is spaces and tabs: the other kinds are gone with the control bytes),
        # else Python's strip() and upper()
        customer_start, customer_end = _trimmed(data, bounds[:, 8], bounds[:, 9])
        bank_start, bank_end = _trimmed(data, bounds[:, 10], bounds[:, 11])
        has_customer, has_bank = customer_end > customer_start, bank_end > bank_start
        nonref = has_customer & (customer_end - customer_start == 6)
        for step, letter in enumerate(b"nonref"):
            nonref &= (_byte(data, customer_start + step, customer_end) | 0x20) == letter
        self.customer_ref = spans(data, customer_start, customer_end, valid=has_customer)
        self.bank_ref = spans(data, bank_start, bank_end, valid=has_bank)
        # the bank's own reference: after //, else the customer reference unless NONREF
        reference = spans(data, np.where(has_bank, bank_start, customer_start), np.where(has_bank, bank_end, customer_end),
                          valid=has_bank | (has_customer & ~nonref))
        # (the references' bytes only: the segment's :86: texts hold far more characters that are not ASCII)
        plain = _mask(pc.string_is_ascii(spans(data, bounds[:, 8], bounds[:, 11])))
        if not plain.all():
            rows = np.flatnonzero(~plain)
            customers, banks, references = [], [], []
            for row in rows.tolist():
                text = data[bounds[row, 8]: bounds[row, 11]].tobytes().decode("utf-8")
                c, _, b = text.strip().partition("//")
                customer, bank = c.strip() or None, b.strip() or None
                customers.append(customer)
                banks.append(bank)
                references.append(bank or (None if customer is None or customer.upper() == "NONREF" else customer))
            other = pa.array(~plain)
            self.customer_ref = pc.if_else(other, _scatter(pa.array(customers, pa.string()), rows, length), self.customer_ref)
            self.bank_ref = pc.if_else(other, _scatter(pa.array(banks, pa.string()), rows, length), self.bank_ref)
            reference = pc.if_else(other, _scatter(pa.array(references, pa.string()), rows, length), reference)
        self.reference = reference
        # dates and amounts; a line that would warn makes its statement the full reader's
        self.value_date = _map(value_date, swift_date)
        dates = spans(data, bounds[:, 1], bounds[:, 3])  # the value date and the entry date
        self.booking_date = _map(dates, lambda pair: entry_date(pair[:6], pair[6:]) if pair[6:] else swift_date(pair))
        negative = pc.invert(pc.is_in(mark, value_set=pa.array(["C", "RD"])))
        self.amount = _amounts(whole, fraction, negative)
        self.row_ok = matched & ~(_mask(pc.is_null(self.value_date)) | _mask(pc.is_null(self.booking_date))
                                  | _mask(pc.is_null(self.amount)))


def _map(values: pa.Array, function) -> pa.Array:
    """function(value) over an array of few distinct values."""
    distinct = pc.unique(values)
    return pc.take(pa.array([function(v) if v is not None else None for v in distinct.to_pylist()], pa.string()),
                   pc.index_in(values, distinct))


def _amounts(whole: pa.Array, comma_part: pa.Array, negative: pa.Array) -> pa.Array:
    """mt940.swift_amount over an array (digits, and ',' with the decimals or ''): '1234.50', signed."""
    digits = pc.utf8_ltrim(whole, "0")
    digits = pc.if_else(pc.equal(digits, ""), pa.scalar("0"), digits)
    fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(comma_part, 1), 2, "0")
    nonzero = pc.or_(pc.not_equal(digits, "0"), pc.not_equal(pc.utf8_trim(fraction, "0"), ""))
    sign = pc.if_else(pc.and_(negative, nonzero), pa.scalar("-"), pa.scalar(""))
    amount = pc.binary_join_element_wise(sign, digits, ".", fraction, "")
    # more than 26 digits, or digits that are not ASCII: mt940's own function
    odd = pc.or_(pc.greater(pc.add(pc.utf8_length(whole), pc.utf8_length(comma_part)), 27),
                 pc.invert(pc.and_(pc.string_is_ascii(whole), pc.string_is_ascii(comma_part))))
    if pc.any(odd).as_py():
        raw = pc.binary_join_element_wise(whole, comma_part, "")
        amount = patch(amount, odd, lambda pair: swift_amount(pair["raw"], pair["negative"]),
                       pa.StructArray.from_arrays([raw, negative], names=["raw", "negative"]))
    return amount


# --------------------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------------------


class Mt940Stream:
    """Mt940Source.stream(): the full reader's pass over the text, with the fast statements cut out."""

    def __init__(self, source: Mt940Source, path: Path, batch_size: int):
        self.source = source
        self.path = path
        self.batch_size = batch_size
        self.transactions_found = 0
        self.warnings: list[str] = []
        self.checks: list = []
        #: repeated lines are numbered (the occurrence counter), so every line id is unique
        self.unique_line_ids = True
        self.fast_lines = 0

    def batches(self) -> Iterator[RecordBatch]:
        reader = _Reader(self.source, self.path, keep_statements=True, keep_line_ids=False)
        builder = BatchBuilder(self.batch_size)
        self._reader, self._builder, self._known = reader, builder, 0
        carry = b""
        texts = utf8_blocks(reader, block_bytes(self.batch_size))
        text = next(texts, None)
        while text is not None:
            following = next(texts, None)
            text = carry + text if carry else text
            if following is None:
                segment, carry = text, b""
            else:
                cut = text.rfind(b"\n:20:") + 1
                segment, carry = text[:cut], text[cut:]
            if segment:
                self._segment(segment)
                if builder.full:
                    yield builder.take()
            text = following
        if carry:
            self._segment(carry)
        reader.close()
        self._ready()
        self._statements()
        last = builder.take()
        if last is not None:
            yield last
        self.transactions_found = reader.found
        self.warnings = reader.all_warnings()

    def _ready(self) -> None:
        reader = self._reader
        for record, index in zip(reader.ready, reader.ready_index):
            self._builder.add_record(record, index)
        reader.ready, reader.ready_index = [], []

    def _statements(self) -> None:
        """The summaries of the statements whose records have all gone out (a batch's summaries
        come with or after their last record: a broken statement's records wait, see mt940)."""
        reader = self._reader
        known = min(reader.held_index) if reader.held_index else len(reader.statements)
        for index in range(self._known, known):
            self._builder.add_statement(index, reader.statements[index])
            reader.statements[index] = None  # handed on: a 1 GB file has tens of thousands
        self._known = max(self._known, known)

    def _segment(self, segment: bytes) -> None:
        """Whole lines (UTF-8): statements read here or by the full reader, in file order."""
        starts = [0] if segment.startswith(b":20:") else []
        find, at = segment.find, segment.find(b"\n:20:")
        while at >= 0:
            starts.append(at + 1)
            at = find(b"\n:20:", at + 4)
        pieces: list[bytes | _FastStatement] = [segment[: starts[0]] if starts else segment]
        fast: list[_FastStatement] = []
        places: list[int] = []  # where each fast statement starts, its header ends, its footer starts
        for start, end in zip(starts, starts[1:] + [len(segment)]):
            text = segment[start:end]
            statement = _FastStatement.read(text)
            if statement is None:
                pieces.append(text)
            else:
                places += (start, start + statement.header_end, start + statement.footer_start, end)
                pieces.append(statement)
                fast.append(statement)
        columns = None
        if fast:
            data = np.frombuffer(segment, dtype=np.uint8)
            newlines = np.flatnonzero(data == ord("\n"))
            # the line counts, from the line feeds before each place (read() leaves them to this)
            lines_before = np.searchsorted(newlines, np.array(places, dtype=np.int64)).reshape(-1, 4).tolist()
            for statement, (start_line, body_line, footer_line, end_line) in zip(fast, lines_before):
                statement.start_line = start_line
                statement.body_line = body_line - start_line
                statement.body_lines = footer_line - body_line
                statement.line_count = end_line - start_line
            columns = _Columns(fast, data, np.concatenate([[0], newlines + 1]), np.append(newlines, len(data)))
        run: list[_FastStatement] = []
        for piece in pieces:
            if isinstance(piece, _FastStatement) and columns.ok[piece.number]:
                run.append(piece)
                continue
            self._run(run, columns)
            run = []
            text = piece.text if isinstance(piece, _FastStatement) else piece
            if text:
                self._reader.feed(text.decode("utf-8"))
                self._ready()
        self._run(run, columns)
        self._statements()

    def _run(self, run: list[_FastStatement], columns: _Columns | None) -> None:
        """Consecutive fast statements: counted by the full reader, their records in columns."""
        if not run:
            return
        reader = self._reader
        reader.flush()
        self._ready()
        if reader.message_type != "940":
            for fast in run:  # after an MT942 header: the full reader says what these are
                reader.feed(fast.text.decode("utf-8"))
                self._ready()
            return
        first_row, stop_row = run[0].rows[0], run[-1].rows[1]
        length = stop_row - first_row
        # statement by statement, as _end_statement counts them (a first fine one releases held records)
        summary_index = np.empty(len(run), dtype=np.int64)
        base = reader.number + 1 - run[0].start_line  # line number = base + place among the segment's lines
        line = reader.number + 1
        for position, fast in enumerate(run):
            fast.statement.first_line = line
            summary_index[position] = reader.end_fast_statement(fast.statement, fast.rows[1] - fast.rows[0])
            line += fast.line_count
            if position == 0:
                self._ready()
        reader.number = line - 1
        self.fast_lines += length
        if not length:
            return
        rows = slice(first_row, stop_row)
        statement_of = columns.statement_of[rows] - run[0].number
        take = pa.array(statement_of)

        def per_statement(values: list) -> pa.Array:
            return pa.array(values, pa.string()).take(take)

        def part(values: pa.Array) -> pa.Array:
            return values.slice(first_row, length)

        account = per_statement([fast.statement.account for fast in run])
        currency = per_statement([fast.statement.currency for fast in run])
        line_numbers = base + columns.line_in_segment[rows]
        bank_ref, value_date_raw, entry_date_raw = part(columns.bank_ref), part(columns.value_date_raw), part(
            columns.entry_date_raw)
        amount, mark, customer_ref = part(columns.amount), part(columns.mark), part(columns.customer_ref)
        # line ids: as the full reader makes them, each line first as the first of its kind ("\x1f1")
        identities = pc.binary_join_element_wise(
            pa.scalar(reader.name), *[pc.fill_null(values, "") for values in (
                account, bank_ref, value_date_raw, entry_date_raw, amount, mark, customer_ref)], "1", "\x1f")
        # a repeated line is hashed again with its occurrence number in place of the "1"
        digests = line_digests(identities, reader.seen, lambda text, count: f"{text[:-1]}{count}")
        information = columns.information
        structure = part(information.structure)
        extra = {
            "statement_ref": per_statement([fast.statement.reference for fast in run]),
            "statement_number": per_statement([fast.statement.number for fast in run]),
            "line": pa.array(line_numbers, pa.int64()),
            "mark": mark,
            "funds_code": part(columns.funds_code),
            "transaction_type": part(columns.transaction_type),
            "customer_ref": customer_ref,
            "supplementary_details": part(columns.supplementary),
            "details_structure": structure,
            **{key: part(values) for key, values in information.extra.items()},
        }
        fields = {name: part(values) for name, values in information.fields.items()}
        self._builder.add_columns({
            "record_type": pa.repeat(pa.scalar("bank_line"), length),
            "source_format": pa.repeat(pa.scalar(reader.name), length),
            "account": account,
            "booking_date": part(columns.booking_date),
            "value_date": part(columns.value_date),
            "amount": amount,
            "currency": currency,
            "counterparty_name": fields["counterparty_name"],
            "counterparty_account": fields["counterparty_account"],
            "counterparty_tax_id": pa.nulls(length, pa.string()),
            "remittance": fields["remittance"],
            "end_to_end_id": fields["end_to_end_id"],
            "bank_ref": part(columns.reference),
            "line_id": hex_ids(digests),
            "extra": json_objects(extra, length),
            "statement": pa.array(summary_index[statement_of], pa.int64()),
        })
