"""The fast camt reader: the same records as sources/camt.py, in columnar batches, several times faster.

How it works (the full reader, `_CamtReader` in camt.py, stays the reference):

1. The file is read in blocks of about BLOCK_BYTES that end after an `</Ntry>`.
2. In each block, entries are matched against one compiled template (ENTRY): a regular expression
   of the ReportEntry structure (camt.052/053/054 versions .02 to .08) that captures every value
   the full reader reads and skips, element by element, what it ignores (up to SKIP_DEPTH levels;
   the elements it reads are never skipped, so a repeated or misplaced one makes the entry fail
   the template). A matched entry is well-formed by construction. The template is slow (tens of
   microseconds), so the first entry of each layout also gives a shape: the same markup as a strict
   pattern, about ten times faster (see the Shapes section); the next entries of that layout are
   matched by their shape. Consecutive matched entries form a run.
3. What is not in a run (the statement headers, balances, and every entry the template does not
   take: several TxDtls, charges, return information, v8 agents, odd markup, entries the full
   reader warns about) is fed, unchanged, to an lxml pull parser driven by the full reader's own
   event handler, with each run replaced by one empty placeholder `Ntry` element followed by the
   run's line feeds (so every line number stays right). When the placeholder's event comes, the
   full reader is exactly where it would be at the run's first entry (statement, header, balances,
   occurrence counts), and the run's records are made from the captured values in columns
   (pyarrow compute), with the per-record helpers of camt.py for the rare values the vectorised
   functions do not cover (whitespace other than space, TAB, LF, CR; entities; several Ustrd).
4. Anything the fast path does not know at the file level (another encoding, version .01 or
   newer than .08, a DOCTYPE, comments or processing instructions after the root, namespace
   declarations after the root, characters XML forbids, `]]>`) stops the cutting: from there on
   the text goes to lxml unchanged, which is the full reader. An XML error, or a run whose
   statement context is not the plain one (entries outside a statement, another namespace), makes
   the stream re-read the file with the full reader from the start, skipping the records and
   statements it already delivered (they are the same), so errors and warnings are its own.

Line numbers follow libxml2's, which the full reader reports: from line 65535 on, libxml2 gives an
element the line of its first child's text end (for a pretty-printed `<Ntry>`, the next line).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from sources.camt import (
    CREDIT,
    DEBIT,
    NOT_PROVIDED,
    CamtSource,
    _CamtReader,
    _iso_date,
    _join_unstructured,
    _local,
    _namespace,
    text_value,
)
from sources.errors import MalformedFile
from sources.fast_common import (
    BatchBuilder,
    block_size,
    clean_values,
    hex_ids,
    is_utf8,
    line_digests,
    join_present,
    json_objects,
    patch,
)
from sources.parsing import clean
from sources.records import RecordBatch

BLOCK_BYTES = 8 << 20


def block_bytes(batch_size: int) -> int:
    """The block a batch of this size needs (fast_common.block_size; an entry takes about 1 KB)."""
    return block_size(batch_size, 512, 1 << 20, BLOCK_BYTES)


#: Depth of the elements the template skips (PstlAdr/AdrLine is 1, RltdAgts/DbtrAgt/FinInstnId/BIC 3).
SKIP_DEPTH = 4
#: libxml2 keeps line numbers below this in the node; from it on, see the module docstring.
_BIG_LINE = 65535
_PLACEHOLDER_NS = "urn:payrecon:fast-run"
_RUN_ATTRIBUTE = f"{{{_PLACEHOLDER_NS}}}run"
_SUPPORTED_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.0[2-8]")

# --------------------------------------------------------------------------------------------------
# The entry template
# --------------------------------------------------------------------------------------------------

_WS = rb"[ \t\r\n]*"
#: Character data: no markup, only the predefined entities (anything else goes to lxml).
_TEXT = rb"[^<&]*(?:&(?:amp|lt|gt|quot|apos);[^<&]*)*"
_NAME = rb"[A-Za-z_][A-Za-z0-9_.\-]*"
_ATTRIBUTE = rb"(?:[ \t\r\n]+" + _NAME + rb"[ \t\r\n]*=[ \t\r\n]*(?:\"[^\"<&]*\"|'[^'<&]*'))?"

#: What the full reader reads, per element: never skipped there.
_READ_IN_NTRY = ("Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef", "NtryRef", "BkTxCd",
                 "AddtlNtryInf", "Chrgs", "NtryDtls", "TxDtls", "Btch")
_READ_IN_TX = ("Refs", "CdtDbtInd", "AmtDtls", "Amt", "RltdPties", "RmtInf", "AddtlTxInf", "BkTxCd", "RtrInf", "Chrgs")
_READ_IN_REFS = ("EndToEndId", "AcctSvcrRef", "TxId", "InstrId", "PmtInfId", "MndtId", "UETR")
_READ_IN_PARTIES = ("Dbtr", "DbtrAcct", "Cdtr", "CdtrAcct", "UltmtDbtr", "UltmtCdtr")
_READ_IN_PARTY = ("Nm", "Id", "Pty", "Agt")


class _Template:
    """Builds the entry pattern; every skipped element gets its own back-reference group."""

    def __init__(self) -> None:
        self._count = 0

    def element(self, depth: int, exclude: tuple[str, ...] = ()) -> bytes:
        self._count += 1
        group = b"k%d" % self._count
        guard = b"(?!(?:" + "|".join(exclude).encode() + rb")[ \t\r\n/>])" if exclude else b""
        content = _TEXT if depth == 0 else _TEXT + b"(?:" + self.element(depth - 1) + _TEXT + b")*"
        return (b"<" + guard + b"(?P<" + group + b">" + _NAME + b")" + _ATTRIBUTE + _WS
                + b"(?:/>|>" + content + b"</(?P=" + group + b")>)")

    def skip(self, *exclude: str) -> bytes:
        return b"(?:" + self.element(SKIP_DEPTH, exclude) + _WS + b")*"


def _leaf(tag: str, group: str) -> bytes:
    """An element with character data only, captured (an empty `<X/>` captures nothing)."""
    t = tag.encode()
    return b"<" + t + b"(?:>(?P<" + group.encode() + b">" + _TEXT + b")</" + t + b">|/>)" + _WS


def _opt(pattern: bytes) -> bytes:
    return b"(?:" + pattern + b")?"


def _bank_tx_code(prefix: str) -> bytes:
    domain = (b"<Domn>" + _WS + _leaf("Cd", prefix + "dcd") + b"<Fmly>" + _WS + _leaf("Cd", prefix + "fcd")
              + _leaf("SubFmlyCd", prefix + "sfcd") + b"</Fmly>" + _WS + b"</Domn>" + _WS)
    proprietary = (b"<Prtry>" + _WS + _leaf("Cd", prefix + "pcd") + _opt(b"<Issr>" + _TEXT + b"</Issr>" + _WS)
                   + b"</Prtry>" + _WS)
    return b"<BkTxCd(?:/>|>" + _WS + _opt(domain) + _opt(proprietary) + b"</BkTxCd>)" + _WS


def _party(t: _Template, tag: str, p: str) -> bytes:
    """Dbtr/Cdtr (v8: wrapped in Pty): Nm, and the tax id from Id/OrgId|PrvtId/Othr/Id."""
    g = p.encode()
    # The first Othr is read (find("Othr/Id")): it matches strictly, or none is there at all.
    identification = (b"<Id>" + _WS + b"<(?P<" + g + b"sch>OrgId|PrvtId)>" + _WS + t.skip("Othr")
                      + _opt(b"<Othr>" + _WS + _leaf("Id", p + "tax") + t.skip() + b"</Othr>" + _WS + t.skip())
                      + b"</(?P=" + g + b"sch)>" + _WS + b"</Id>" + _WS)
    body = _opt(_leaf("Nm", p + "nm")) + t.skip(*_READ_IN_PARTY) + _opt(identification) + t.skip(*_READ_IN_PARTY)
    tg = tag.encode()
    return (b"<" + tg + b"(?P<" + g + b"el>)(?:/>|>" + _WS + b"(?P<" + g + b"pty><Pty>" + _WS + b")?" + body
            + b"(?(" + g + b"pty)</Pty>" + _WS + b")</" + tg + b">)" + _WS)


def _account(t: _Template, tag: str, p: str) -> bytes:
    """DbtrAcct/CdtrAcct: Id first, holding IBAN or Othr/Id."""
    g, tg = p.encode(), tag.encode()
    choice = (b"(?:<IBAN>(?P<" + g + b"iban>" + _TEXT + b")</IBAN>" + _WS + b"|<Othr>" + _WS
              + b"<Id>(?P<" + g + b"othr>" + _TEXT + b")</Id>" + _WS + t.skip() + b"</Othr>" + _WS + b")")
    return (b"<" + tg + b"(?P<" + g + b"acct>)>" + _WS + b"<Id>" + _WS + choice + b"</Id>" + _WS + t.skip("Id")
            + b"</" + tg + b">" + _WS)


def _ultimate(t: _Template, tag: str, p: str) -> bytes:
    """UltmtDbtr/UltmtCdtr: Nm (v8: Pty/Nm)."""
    g, tg = p.encode(), tag.encode()
    return (b"<" + tg + b">" + _WS + b"(?P<" + g + b"upty><Pty>" + _WS + b")?" + _opt(_leaf("Nm", p + "unm"))
            + t.skip("Nm", "Pty", "Agt") + b"(?(" + g + b"upty)</Pty>" + _WS + b")</" + tg + b">" + _WS)


def _entry_pattern() -> bytes:
    t = _Template()
    refs = (b"<Refs(?:/>|>" + _WS + t.skip(*_READ_IN_REFS) + _opt(_leaf("AcctSvcrRef", "r_asr"))
            + t.skip(*_READ_IN_REFS) + _opt(_leaf("PmtInfId", "r_pmt")) + t.skip(*_READ_IN_REFS)
            + _opt(_leaf("InstrId", "r_instr")) + t.skip(*_READ_IN_REFS) + _opt(_leaf("EndToEndId", "r_e2e"))
            + t.skip(*_READ_IN_REFS) + _opt(_leaf("UETR", "r_uetr")) + t.skip(*_READ_IN_REFS)
            + _opt(_leaf("TxId", "r_txid")) + t.skip(*_READ_IN_REFS) + _opt(_leaf("MndtId", "r_mndt"))
            + t.skip(*_READ_IN_REFS) + b"</Refs>)" + _WS)
    skip_parties = t.skip(*_READ_IN_PARTIES)
    parties = (b"<RltdPties>" + _WS + skip_parties + _opt(_party(t, "Dbtr", "d_")) + t.skip(*_READ_IN_PARTIES)
               + _opt(_account(t, "DbtrAcct", "d_")) + t.skip(*_READ_IN_PARTIES) + _opt(_ultimate(t, "UltmtDbtr", "d_"))
               + t.skip(*_READ_IN_PARTIES) + _opt(_party(t, "Cdtr", "c_")) + t.skip(*_READ_IN_PARTIES)
               + _opt(_account(t, "CdtrAcct", "c_")) + t.skip(*_READ_IN_PARTIES) + _opt(_ultimate(t, "UltmtCdtr", "c_"))
               + t.skip(*_READ_IN_PARTIES) + b"</RltdPties>" + _WS)
    creditor_reference = (b"<CdtrRefInf>" + _WS + t.skip("Ref") + _opt(_leaf("Ref", "strd_ref") + t.skip())
                          + b"</CdtrRefInf>" + _WS)
    structured = (b"<Strd>" + _WS + t.skip("CdtrRefInf", "AddtlRmtInf") + _opt(creditor_reference)
                  + t.skip("CdtrRefInf", "AddtlRmtInf") + _opt(_leaf("AddtlRmtInf", "strd_add"))
                  + t.skip("CdtrRefInf", "AddtlRmtInf") + b"</Strd>" + _WS)
    unstructured = (b"<Ustrd>(?P<ustrd>" + _TEXT + b")</Ustrd>" + _WS
                    + b"(?P<ustrd_more>(?:<Ustrd>" + _TEXT + b"</Ustrd>" + _WS + b")*)")
    remittance = b"<RmtInf>" + _WS + b"(?:" + unstructured + b"|" + structured + b")</RmtInf>" + _WS
    transaction = (
        t.skip(*_READ_IN_TX) + _opt(refs)
        + _opt(b"<Amt Ccy=\"(?P<tx_ccy>[A-Z]{3})\">(?P<tx_amt>" + _TEXT + b")</Amt>" + _WS)
        + _opt(b"<CdtDbtInd>" + _TEXT + b"</CdtDbtInd>" + _WS)
        + t.skip(*_READ_IN_TX) + _opt(_bank_tx_code("t_")) + t.skip(*_READ_IN_TX) + _opt(parties)
        + t.skip(*_READ_IN_TX) + _opt(remittance) + t.skip(*_READ_IN_TX) + _opt(_leaf("AddtlTxInf", "addtl_tx"))
        + t.skip(*_READ_IN_TX)
    )
    batch = b"<Btch>" + _WS + t.skip("NbOfTxs") + _opt(_leaf("NbOfTxs", "nb_txs")) + t.skip("NbOfTxs") + b"</Btch>" + _WS
    details = (b"<NtryDtls(?:/>|>" + _WS + t.skip("TxDtls", "Btch") + _opt(batch) + t.skip("TxDtls", "Btch")
               + _opt(b"<TxDtls(?P<tx>)>" + _WS + transaction + b"</TxDtls>" + _WS)
               + t.skip("TxDtls", "Btch") + b"</NtryDtls>)" + _WS)
    return (
        b"<Ntry>(?P<lead>" + _WS + b")"
        + _opt(_leaf("NtryRef", "ntry_ref"))
        + b"<Amt Ccy=\"(?P<ccy>[A-Z]{3})\">(?P<amt>(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?)</Amt>" + _WS
        + b"<CdtDbtInd>(?P<cdi>CRDT|DBIT)</CdtDbtInd>" + _WS
        + _opt(_leaf("RvslInd", "rvsl"))
        + b"<Sts>(?:BOOK|" + _WS + b"<Cd>BOOK</Cd>" + _WS + b")</Sts>" + _WS
        + b"<BookgDt>" + _WS + b"<(?P<bk_t>Dt|DtTm)>(?P<bookg>" + _TEXT + b")</(?P=bk_t)>" + _WS + b"</BookgDt>" + _WS
        + _opt(b"<ValDt>" + _WS + b"<(?P<vd_t>Dt|DtTm)>(?P<val>" + _TEXT + b")</(?P=vd_t)>" + _WS + b"</ValDt>" + _WS)
        + _opt(_leaf("AcctSvcrRef", "e_asr"))
        + t.skip(*_READ_IN_NTRY) + _opt(_bank_tx_code("e_")) + t.skip(*_READ_IN_NTRY)
        + _opt(details) + t.skip(*_READ_IN_NTRY) + _opt(_leaf("AddtlNtryInf", "addtl")) + t.skip(*_READ_IN_NTRY)
        + b"</Ntry>"
    )


ENTRY = re.compile(_entry_pattern())
_GROUPS = sorted(ENTRY.groupindex, key=ENTRY.groupindex.get)
#: The captured values the columns are made of (the k<N> groups only check skipped element names).
#: Groups that only steer the match (which Pty, Dt or DtTm, OrgId or PrvtId); not read afterwards.
_STEERING = {"d_pty", "c_pty", "d_upty", "c_upty", "d_sch", "c_sch", "bk_t", "vd_t"}
_VALUE_GROUPS = [name for name in _GROUPS if not re.fullmatch(r"k\d+", name) and name not in _STEERING]

#: Bytes of characters XML 1.0 forbids (C0 controls but TAB, LF, CR).
_FORBIDDEN_CONTROLS = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))


def _not_xml(data: bytes) -> bool:
    """Whether `data` holds what only lxml may judge: forbidden characters (C0 controls, U+FFFE,
    U+FFFF) or `]]>` (not allowed in character data)."""
    return (len(data.translate(None, _FORBIDDEN_CONTROLS)) != len(data) or b"\xef\xbf\xbe" in data
            or b"\xef\xbf\xbf" in data or b"]]>" in data)


_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_BAD_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")


class _Replay(Exception):
    """The fast path met something only the full reader handles from the start of the file."""


# --------------------------------------------------------------------------------------------------
# Shapes: the template made strict for one layout of entry
#
# A shape is made from an entry the template matched: the entry's markup is kept literally, each
# value the template captured becomes a capture (with the template's pattern for it), whitespace
# between elements stays whitespace, and every other text must be the same. An entry that matches
# the shape is matched by the template in the same way (the template's choices depend only on the
# markup and the narrow values), so its values are the template's, at a fraction of the cost.
# Character data is `[^<]*` in a shape; an entry with an `&` is checked for predefined entities.
# --------------------------------------------------------------------------------------------------

#: Groups that only say whether an element is there (their text is not used).
_MARKERS = {"tx", "d_el", "c_el", "d_acct", "c_acct"}
#: Values with a narrower pattern than character data.
_NARROW = {"amt": rb"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", "cdi": rb"CRDT|DBIT", "ccy": rb"[A-Z]{3}",
           "tx_ccy": rb"[A-Z]{3}", "lead": _WS}
#: Whitespace, possessive: in a shape it is always followed by markup, so it never gives back.
_WS_ONCE = rb"[ \t\r\n]*+"
_TAG = re.compile(rb"<[^>]*>")
_ATTRIBUTE_VALUE = re.compile(rb"\"[^\"]*\"|'[^']*'")
_WHITESPACE = b" \t\r\n"


class _Layout:
    """Where a kind of match keeps each value: `index` (name -> group number in match.groups()),
    `constants` (markers every entry of a shape has)."""

    __slots__ = ("pattern", "index", "constants", "lead")

    def __init__(self, pattern: re.Pattern, index: dict[str, int], constants: dict[str, bytes]):
        self.pattern, self.index, self.constants = pattern, index, constants
        self.lead = index["lead"]

    @classmethod
    def template(cls) -> _Layout:
        return cls(ENTRY, {name: ENTRY.groupindex[name] - 1 for name in _VALUE_GROUPS}, {})

    @classmethod
    def shape(cls, region: bytes, match: re.Match) -> _Layout | None:
        """The strict pattern of the layout of the entry the template matched (see the section
        comment), or None when a value is not a whole text or attribute value."""
        base, stop = match.start(), match.end()
        if match.group("ustrd_more"):
            return None
        spans = {}
        for name in _VALUE_GROUPS:
            if name not in _MARKERS and match.start(name) >= 0:
                spans[(match.start(name) - base, match.end(name) - base)] = name
        entry = region[base:stop]
        # [ \t\r\n]*() first: a shape also takes the whitespace before the entry (group 1 marks
        # where the entry starts), so consecutive entries are matched without searching.
        pieces: list[bytes] = [_WS_ONCE + b"()"]
        captured: list[str] = []
        position = 0

        def text_slot(start: int, end: int) -> None:
            name = spans.pop((start, end), None)
            text = entry[start:end]
            if name is not None:
                pieces.append(b"(" + _NARROW.get(name, rb"[^<]*+") + b")")
                captured.append(name)
            elif not text.strip(_WHITESPACE):
                pieces.append(_WS_ONCE)
            else:
                pieces.append(re.escape(text))

        for tag in _TAG.finditer(entry):
            if position:
                text_slot(position, tag.start())
            inside = tag.start()
            for value in _ATTRIBUTE_VALUE.finditer(entry, tag.start(), tag.end()):
                pieces.append(re.escape(entry[inside:value.start()]))
                name = spans.pop((value.start() + 1, value.end() - 1), None)
                quote = entry[value.start():value.start() + 1]
                if name is not None:
                    pieces.append(quote + b"(" + _NARROW.get(name, rb"[^<\"']*") + b")" + quote)
                    captured.append(name)
                else:
                    pieces.append(quote + (rb'[^"<]*' if quote == b'"' else rb"[^'<]*") + quote)
                inside = value.end()
            pieces.append(re.escape(entry[inside:tag.end()]))
            position = tag.end()
        if spans or position != len(entry) or "lead" not in captured:
            return None
        index = {name: number + 1 for number, name in enumerate(captured)}
        constants = {name: b"" for name in _MARKERS if match.start(name) >= 0}
        return cls(re.compile(b"".join(pieces)), index, constants)


# --------------------------------------------------------------------------------------------------
# Values of a block's matched entries, in columns
# --------------------------------------------------------------------------------------------------

#: Values of character data (cleaned like camt.text_value); the others are narrow or markers.
_TEXT_NAMES = {name for name in _VALUE_GROUPS if name not in _MARKERS and name not in _NARROW and name != "ustrd_more"}
#: UTF-8 of the whitespace characters other than space, TAB, LF and CR (see fast_common).
_OTHER_WHITESPACE_UTF8 = re.compile(rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")


def _char_data(raw: str) -> str:
    """Raw character data as lxml gives it: predefined entities replaced, CR LF and CR as LF."""
    if "&" in raw:
        raw = _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], raw)
    return raw.replace("\r\n", "\n").replace("\r", "\n") if "\r" in raw else raw


def _xml_text(values: pa.Array) -> pa.Array:
    """Character data as lxml gives it: predefined entities replaced, CR LF and CR as LF."""
    if pc.any(pc.match_substring(values, "&")).as_py():
        for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
            values = pc.replace_substring(values, entity, char)
    if pc.any(pc.match_substring(values, "\r")).as_py():
        values = pc.replace_substring(pc.replace_substring(values, "\r\n", "\n"), "\r", "\n")
    return values


def _dates(values: pa.Array) -> pa.Array:
    """camt._iso_date over an array: each distinct value once."""
    if values.null_count == len(values):
        return values
    distinct = pc.unique(values)
    converted = pa.array([_iso_date(v) for v in distinct.to_pylist()], pa.string())
    return pc.take(converted, pc.index_in(values, distinct))


#: Bytes that make character data need work: TAB, LF, CR (whitespace to fold) and `&` (entities);
#: and those JSON escapes: `"` and backslash.
_NEEDS_WORK_BYTES = (b"\t", b"\n", b"\r", b"&")
_NEEDS_ESCAPE_BYTES = (b'"', b"\\")


def _plain_texts(columns: list[pa.Array]) -> tuple[bool, bool]:
    """Whether every value (binary arrays) is already what camt.text_value makes of it (not empty,
    no whitespace to fold or strip, no entity, no CR), and whether it also needs no JSON escape.
    Read from the arrays' buffers, without a Python object per value."""
    escapes = False
    for values in columns:
        if values.null_count == len(values):
            continue
        _, offset_buffer, data_buffer = values.buffers()
        offsets = np.frombuffer(offset_buffer, dtype=np.int32)[values.offset: values.offset + len(values) + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]: offsets[-1]] if data_buffer else None
        lengths = np.diff(offsets)
        valid = ~np.asarray(values.is_null())
        if (valid & (lengths == 0)).any():
            return False, False  # an empty value: text_value makes it None
        if data is None or not len(data):
            continue
        firsts, lasts = offsets[:-1][valid] - offsets[0], offsets[1:][valid] - 1 - offsets[0]
        if (data[firsts] == 32).any() or (data[lasts] == 32).any():
            return False, False
        # the bytes searched as bytes: `in` finds one byte with memchr, far faster than a table
        # lookup of every byte; no value starts or ends with a space, so two spaces in a row are
        # inside one value
        text = data.tobytes()
        if any(byte in text for byte in _NEEDS_WORK_BYTES) or b"  " in text:
            return False, False
        if not text.isascii() and _OTHER_WHITESPACE_UTF8.search(text) is not None:
            return False, False
        escapes = escapes or any(byte in text for byte in _NEEDS_ESCAPE_BYTES)
    return True, not escapes



def _present(values: pa.Array) -> bool:
    return values.null_count < len(values)


class _BlockColumns:
    """What the matched entries of one block say, before the statement they belong to is known."""

    def __init__(self, kinds: list[int], rows: list[tuple], layouts: list[_Layout], lines: np.ndarray):
        """`rows[i]` is the match.groups() of entry i, matched by `layouts[kinds[i]]`."""
        length = self.length = len(rows)
        parts: list[tuple[_Layout, dict[str, tuple | None], int]] = []  # per kind: its columns, its rows
        if kinds.count(kinds[0]) == length:
            order = None
            parts.append((layouts[kinds[0]], rows))
        else:
            order = np.argsort(np.array(kinds), kind="stable")
            for kind in sorted(set(kinds)):
                parts.append((layouts[kind], [rows[i] for i in range(length) if kinds[i] == kind]))
        columns: dict[str, list] = {name: [] for name in _VALUE_GROUPS}
        for layout, kind_rows in parts:
            transposed = list(zip(*kind_rows))
            count = len(kind_rows)
            for name in _VALUE_GROUPS:
                number = layout.index.get(name)
                if number is not None:
                    columns[name].append(transposed[number])
                elif name in layout.constants:
                    columns[name].append(pa.repeat(pa.scalar(b"", pa.binary()), count))
                else:
                    columns[name].append(pa.nulls(count, pa.binary()))
        inverse = None
        if order is not None:
            inverse = np.empty(length, dtype=np.int64)
            inverse[order] = np.arange(length)
            inverse = pa.array(inverse)
        binary: dict[str, pa.Array] = {}
        for name, pieces in columns.items():
            arrays = [p if isinstance(p, pa.Array) else pa.array(p, pa.binary()) for p in pieces]
            binary[name] = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays).take(inverse)
        self.plain, self.json_plain = _plain_texts([binary[name] for name in _TEXT_NAMES])
        raw = self.raw = {name: values.cast(pa.string()) if values.null_count < length else pa.nulls(length, pa.string())
                          for name, values in binary.items()}
        self.source_line = pa.array(lines, pa.int64())
        self.currency = raw["ccy"]
        self.amount_text = raw["amt"]
        self.credit_debit = raw["cdi"]
        reversal = self.text("rvsl")
        if _present(reversal):
            self.reversal = pc.fill_null(pc.is_in(pc.utf8_lower(reversal), pa.array(["true", "1"])), False)
            self.reversal = patch(self.reversal, pc.invert(pc.fill_null(pc.string_is_ascii(reversal), True)),
                                  lambda v: (v or "").lower() in ("true", "1"), reversal)
        else:
            self.reversal = pa.array(np.zeros(length, dtype=bool))
        self.booking_date = _dates(self.text("bookg"))
        self.value_date = _dates(self.text("val"))
        self.entry_ref = self.text("ntry_ref")
        self.entry_bank_ref = self.text("e_asr")
        self.entry_info = self.text("addtl")
        self.has_tx = pc.invert(pc.is_null(raw["tx"]))
        e_code, e_proprietary = self._bank_tx_code("e_")
        t_code, t_proprietary = self._bank_tx_code("t_")
        self.bank_tx_code = pc.coalesce(t_code, e_code)
        self.bank_tx_code_proprietary = pc.coalesce(t_proprietary, e_proprietary)
        self.tx_bank_ref = self.text("r_asr")
        self.end_to_end = self._end_to_end(self.text("r_e2e"))
        self.tx_id = self.text("r_txid")
        self.creditor_reference = self.text("strd_ref")
        self.extra_tx = {
            "tx_id": self.tx_id,
            "instr_id": self.text("r_instr"),
            "pmt_inf_id": self.text("r_pmt"),
            "mandate_id": self.text("r_mndt"),
            "uetr": self.text("r_uetr"),
            "tx_amount": self._shown_amount(),
            "ultimate_debtor": self.text("d_unm"),
            "ultimate_creditor": self.text("c_unm"),
            "creditor_reference": self.creditor_reference,
        }
        self.parties = {side: self._party(side) for side in ("d_", "c_")}
        # clean(" ".join(references + structured texts)), as camt._remittance makes it
        structured = clean_values(join_present([self.creditor_reference, self.text("strd_add")], " "), clean)
        self.remittance = pc.coalesce(self._unstructured(), structured, self.text("addtl_tx"))
        self.batch_size = self._batch_size(self.text("nb_txs"))

    def text(self, name: str) -> pa.Array:
        """camt.text_value of a captured value (character data as lxml gives it, then _text)."""
        values = self.raw[name]
        if self.plain or not _present(values):
            return values
        return clean_values(_xml_text(values), text_value)

    def _bank_tx_code(self, prefix: str) -> tuple[pa.Array, pa.Array]:
        """'Domn/Fmly/SubFmly' from the clean()ed leaves, and the Prtry/Cd."""
        leaves = [self.raw[prefix + name] for name in ("dcd", "fcd", "sfcd")]
        if self.plain and all(values.null_count == 0 for values in leaves):
            domain = pc.binary_join_element_wise(*leaves, "/")
        elif not any(_present(values) for values in leaves):
            domain = leaves[0]
        else:
            leaves = [values if self.plain else clean_values(_xml_text(values), clean) for values in leaves]
            domain = join_present(leaves, "/")
        return domain, self.text(prefix + "pcd")

    @staticmethod
    def _end_to_end(values: pa.Array) -> pa.Array:
        """NOTPROVIDED is no end-to-end id (Python's upper() for values that are not ASCII)."""
        if not _present(values):
            return values
        result = pc.if_else(pc.equal(pc.utf8_upper(values), NOT_PROVIDED), pa.scalar(None, pa.string()), values)
        other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True))
        return patch(result, other, lambda v: None if v is None or v.upper() == NOT_PROVIDED else v, values)

    def _shown_amount(self) -> pa.Array:
        """TxDtls/Amt as '<amount> <currency>' (extra tx_amount)."""
        currency = self.raw["tx_ccy"]
        if not _present(currency):
            return currency
        amount = self.text("tx_amt")
        return pc.if_else(pc.is_null(amount), currency, pc.binary_join_element_wise(amount, currency, " "))

    def _party(self, side: str) -> dict[str, pa.Array]:
        raw = self.raw
        return {
            "exists": pc.or_(pc.invert(pc.is_null(raw[side + "el"])), pc.invert(pc.is_null(raw[side + "acct"]))),
            "name": self.text(side + "nm"),
            "tax_id": self.text(side + "tax"),
            "account": self._account(raw[side + "iban"], raw[side + "othr"]),
        }

    def _account(self, iban: pa.Array, other: pa.Array) -> pa.Array:
        values = pc.coalesce(iban, other) if _present(other) else iban
        if self.plain or not _present(values):
            return values
        return clean_values(_xml_text(values), text_value)

    def _unstructured(self) -> pa.Array:
        """RmtInf/Ustrd: one part is clean()ed; several are joined as camt._join_unstructured does."""
        first, more = self.raw["ustrd"], self.raw["ustrd_more"]
        if not _present(first):
            return first
        joined = first if self.plain else clean_values(_xml_text(first), clean)
        several = pc.fill_null(pc.not_equal(more, ""), False)
        if _present(more) and pc.any(several).as_py():
            parts = pc.binary_join_element_wise(_xml_text(first), more, "")  # '<first><Ustrd>..</Ustrd>...'

            def join(value: str) -> str | None:
                pieces = value.split("<Ustrd>")  # the first is character data already
                texts = [pieces[0]] + [_char_data(piece.split("</Ustrd>", 1)[0]) for piece in pieces[1:]]
                return _join_unstructured(texts)

            joined = patch(joined, several, join, parts)
        return joined

    @staticmethod
    def _batch_size(text: pa.Array) -> pa.Array:
        """Btch/NbOfTxs as a number when it is digits (camt: int(text) if text is ASCII digits)."""
        if not _present(text):
            return pa.nulls(len(text), pa.int64())
        digits = pc.fill_null(pc.match_substring_regex(text, "^[0-9]+$"), False)
        size = pc.if_else(digits, text, pa.scalar(None, pa.string())).cast(pa.int64())
        other = pc.and_(pc.invert(digits), pc.invert(pc.fill_null(pc.string_is_ascii(text), True)))
        return patch(size, other, lambda v: int(v) if v and v.isascii() and v.isdigit() else None, text)


# --------------------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------------------


class CamtStream:
    """CamtSource.stream(): batches first from the fast path, else (see _Replay) the full reader."""

    def __init__(self, source: CamtSource, path: Path, batch_size: int):
        self.source = source
        self.path = path
        self.batch_size = batch_size
        self.transactions_found = 0
        self.warnings: list[str] = []
        self.checks: list = []
        #: repeated lines are numbered (the occurrence counter), so every line id is unique
        self.unique_line_ids = True
        #: entries read by the template, and by lxml (for the benchmark and tests)
        self.fast_entries = 0
        self.replayed = False

    def batches(self) -> Iterator[RecordBatch]:
        delivered_records = 0
        delivered_statements: set[int] = set()
        fast = _FastReader(self.source, self.path, self.batch_size)
        try:
            for batch in fast.batches():
                delivered_records += len(batch)
                delivered_statements.update(index for index, _ in batch.statements)
                yield batch
        except _Replay:
            self.replayed = True
            yield from self._replay(delivered_records, delivered_statements)
            return
        self.fast_entries = fast.fast_entries
        self._totals(fast.reader, fast.records)

    def _totals(self, reader: _CamtReader, records: int) -> None:
        self.transactions_found = records + reader.skipped_entries
        self.warnings = reader.warnings.lines()

    def _replay(self, skip_records: int, skip_statements: set[int]) -> Iterator[RecordBatch]:
        reader = _CamtReader(self.source, self.path, keep_line_ids=False)
        builder = BatchBuilder(self.batch_size)
        records = 0
        known = 0
        for record in reader.records():
            records += 1
            statement = reader.statement.index if reader.statement is not None else -1
            if records > skip_records:
                builder.add_record(record, statement)
            for index in range(known, len(reader.statements)):
                if index not in skip_statements:
                    builder.add_statement(index, reader.statements[index])
            known = len(reader.statements)
            if builder.full:
                yield builder.take()
        for index in range(known, len(reader.statements)):
            if index not in skip_statements:
                builder.add_statement(index, reader.statements[index])
        last = builder.take()
        if last is not None:
            yield last
        self._totals(reader, records)


class _Run:
    __slots__ = ("block", "start", "stop")

    def __init__(self, block: _BlockColumns, start: int, stop: int):
        self.block, self.start, self.stop = block, start, stop


class _FastReader:
    def __init__(self, source: CamtSource, path: Path, batch_size: int):
        self.source = source
        self.path = path
        self.reader = _CamtReader(source, path, keep_line_ids=False)
        self.builder = BatchBuilder(batch_size)
        self.block_bytes = block_bytes(batch_size)
        self.records = 0
        self.fast_entries = 0
        self.namespace: str | None = None
        self.cutting = False
        self.runs: dict[int, _Run] = {}
        self.next_run = 0
        self.expected_run = 0
        self.line = 1  # the line the next scanned byte is on
        self.layouts: list[_Layout] = [_Layout.template()]  # the template, then the shapes
        self.shapes: list[int] = []  # indexes of the shapes in layouts, most recently used first

    # -- reading ---------------------------------------------------------------------------------

    def batches(self) -> Iterator[RecordBatch]:
        parser = etree.XMLPullParser(
            events=("start", "end"), tag=_CamtReader.WATCHED, resolve_entities=False, no_network=True,
            load_dtd=False, remove_comments=True, remove_pis=True,
        )
        statements_known = 0
        started = False
        data = b""
        with open(self.path, "rb") as handle:
            size = self.block_bytes
            block = handle.read(size)
            while True:
                following = handle.read(size)
                eof = not following
                data += block
                if started:
                    skeleton, data = self._scan(data, eof)
                else:
                    skeleton, data = self._start(data, eof)
                    started = True
                self._feed(parser, skeleton)
                known = len(self.reader.statements)
                for index in range(statements_known, known):
                    self.builder.add_statement(index, self.reader.statements[index])
                statements_known = known
                if self.builder.full:
                    yield self.builder.take()
                if eof:
                    break
                block = following
        try:
            root = parser.close()
            self._events(parser)
        except etree.LxmlError:
            raise _Replay from None
        for index in range(statements_known, len(self.reader.statements)):
            self.builder.add_statement(index, self.reader.statements[index])
        self.reader.finish(root)
        last = self.builder.take()
        if last is not None:
            yield last

    def _feed(self, parser: etree.XMLPullParser, skeleton: list[bytes]) -> None:
        try:
            for piece in skeleton:
                if piece:
                    parser.feed(piece)
                    self._events(parser)
        except etree.LxmlError:
            raise _Replay from None

    def _events(self, parser: etree.XMLPullParser) -> None:
        reader, builder = self.reader, self.builder
        for event, element in parser.read_events():
            if event == "end" and element.get(_RUN_ATTRIBUTE) is not None:
                self._run(element)
                continue
            index = None
            for record in reader.handle(event, element):
                if index is None:
                    index = reader.statement.index if reader.statement is not None else -1
                builder.add_record(record, index)
                self.records += 1

    # -- the head: is the fast path possible for this file? --------------------------------------

    def _start(self, data: bytes, eof: bool) -> tuple[list[bytes], bytes]:
        first_entry = data.find(b"<Ntry>")
        if first_entry < 0:
            return [data], b""  # no entry in the first block: lxml reads the file (cutting stays off)
        head = data[:first_entry]
        self.cutting = self._fast_possible(head)
        self.line += head.count(b"\n")
        skeleton, rest = self._scan(data[first_entry:], eof)
        return [head, *skeleton], rest

    def _fast_possible(self, head: bytes) -> bool:
        """UTF-8, one default namespace of camt.05x.001.02-08 (or none) on the root, nothing but the
        XML declaration before it and no markup declarations, comments or PIs in the head."""
        text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        declaration = re.match(rb"<\?xml[ \t\r\n][^?>]*\?>", text)
        if declaration:
            encoding = re.search(rb"encoding[ \t\r\n]*=[ \t\r\n]*[\"']([^\"']*)[\"']", declaration.group())
            if encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
                return False
            text = text[declaration.end():]
        if b"<!" in text or b"<?" in text or _not_xml(head):
            return False
        root = re.match(rb"[ \t\r\n]*<(" + _NAME + rb")([^>]*)>", text)
        if root is None:
            return False
        declarations = re.findall(rb"xmlns(:[^=\s]*)?[ \t\r\n]*=[ \t\r\n]*[\"']([^\"']*)[\"']", root.group(2))
        defaults = [uri for prefix, uri in declarations if not prefix]
        if text.count(b"xmlns", root.end()) or len(defaults) > 1:
            return False
        if defaults and not _SUPPORTED_NAMESPACE.fullmatch(defaults[0]):
            return False
        self.namespace = defaults[0].decode() if defaults else ""
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    # -- blocks ----------------------------------------------------------------------------------

    def _scan(self, data: bytes, eof: bool) -> tuple[list[bytes], bytes]:
        """The skeleton of the block's complete entries (runs cut out), and the rest of `data`."""
        cut = len(data) if eof else data.rfind(b"</Ntry>") + len(b"</Ntry>")
        if cut < len(b"</Ntry>") and not eof:
            # no complete entry: keep it for the next block unless it grows large
            if len(data) < 4 * self.block_bytes:
                return [], data
            cut = len(data)
        region, rest = data[:cut], data[cut:]
        if not self.cutting:
            return [region], rest
        octets = np.frombuffer(region, dtype=np.uint8)
        line_feeds = np.flatnonzero(octets == 10)
        if not self._plain_xml(region, octets, len(line_feeds)):
            self.cutting = False
            return [region], rest
        return self._cut(region, line_feeds), rest

    @staticmethod
    def _plain_xml(region: bytes, octets: np.ndarray, line_feeds: int) -> bool:
        """Whether the region is UTF-8 and free of what only lxml may judge: characters XML forbids
        (C0 controls but TAB, LF, CR; U+FFFE, U+FFFF), `]]>`, comments, CDATA, DOCTYPE or
        processing instructions (`<!`, `<?`), and namespace declarations (`xmlns`)."""
        controls = int(np.count_nonzero(octets < 32))
        # (TAB and CR are rare: memchr tells there is none far faster than numpy counts them)
        tabs = region.count(b"\t") if b"\t" in region else 0
        returns = region.count(b"\r") if b"\r" in region else 0
        if controls != line_feeds + tabs + returns:
            return False
        # substring searches of the bytes, faster than comparing every byte in numpy; '<' is in
        # every tag, so the rare byte is looked for first (with memchr)
        for rare, markup in ((b"!", b"<!"), (b"?", b"<?"), (b"]", b"]]>")):
            if rare in region and markup in region:
                return False
        if b"xmlns" in region:
            return False
        if not region.isascii():
            if b"\xef\xbf\xbe" in region or b"\xef\xbf\xbf" in region:
                return False
            return is_utf8(region)
        return True

    def _cut(self, region: bytes, line_feeds: np.ndarray) -> list[bytes]:
        """Match the region's entries; the skeleton is the region with each run of matched entries
        replaced by a placeholder and the run's line feeds."""
        rows: list[tuple] = []
        kinds: list[int] = []
        starts: list[int] = []
        leads: list[int] = []
        runs: list[tuple[int, int, int, int]] = []  # (first row, stop row, start byte, end byte)
        layouts = self.layouts
        shapes = self.shapes  # indexes into layouts, most recently used first
        find = region.find
        big_lines = self.line + len(line_feeds) >= _BIG_LINE
        run_row = run_byte = None
        previous_end = 0
        at = find(b"<Ntry>")  # where to match: an entry, or the end of the previous matched one
        joined = False  # whether `at` is the end of the previous matched entry
        while at >= 0:
            match = None
            for kind in shapes:
                match = layouts[kind].pattern.match(region, at)
                if match is not None:
                    start, end = match.start(1), match.end()
                    if find(b"&", start, end) >= 0 and _BAD_AMPERSAND.search(region, start, end):
                        match = None
                    elif kind != shapes[0]:
                        shapes.remove(kind)
                        shapes.insert(0, kind)
                    break
            if match is None:
                start = find(b"<Ntry>", at) if joined else at
                if start < 0:
                    break
                joined = joined and not region[at:start].strip(_WHITESPACE)
                match = ENTRY.match(region, start)
                if match is None:
                    at, joined = find(b"<Ntry>", start + 6), False
                    continue
                kind, end = 0, match.end()
                if len(shapes) < 8:
                    shape = _Layout.shape(region, match)
                    if shape is not None:
                        layouts.append(shape)
                        shapes.insert(0, len(layouts) - 1)
            groups = match.groups()
            if big_lines:
                lead = groups[layouts[kind].lead]
                if not lead and not region.startswith(b"<Amt ", start + 6) and (
                        self.line + int(np.searchsorted(line_feeds, start)) >= _BIG_LINE):
                    at, joined = find(b"<Ntry>", end), False
                    continue  # libxml2's line for it is not simple: lxml reads it
                leads.append(lead.count(b"\n") if lead else 0)
            if not joined:
                if run_row is not None:
                    runs.append((run_row, len(rows), run_byte, previous_end))
                run_row, run_byte = len(rows), start
            rows.append(groups)
            kinds.append(kind)
            starts.append(start)
            previous_end = at = end
            joined = True
        if run_row is not None:
            runs.append((run_row, len(rows), run_byte, previous_end))
        first_line = self.line
        self.line += len(line_feeds)
        if not rows:
            return [region]
        lines = first_line + np.searchsorted(line_feeds, np.array(starts))
        if big_lines:
            # libxml2, from line 65535 on: the line where the entry's first text (its indent) ends
            lines = np.where(lines >= _BIG_LINE, lines + np.array(leads), lines)
        block = _BlockColumns(kinds, rows, layouts, lines)
        self.fast_entries += len(rows)
        skeleton: list[bytes] = []
        position = 0
        for first, stop, start_byte, end_byte in runs:
            skeleton.append(region[position:start_byte])
            number = self.next_run
            self.next_run += 1
            self.runs[number] = _Run(block, first, stop)
            feeds = int(np.searchsorted(line_feeds, end_byte) - np.searchsorted(line_feeds, start_byte))
            skeleton.append(b'<Ntry xmlns:r="%s" r:run="%d"/>' % (_PLACEHOLDER_NS.encode(), number) + b"\n" * feeds)
            position = end_byte
        skeleton.append(region[position:])
        return skeleton

    # -- a run's records -------------------------------------------------------------------------

    def _run(self, element: etree._Element) -> None:
        reader = self.reader
        number = int(element.get(_RUN_ATTRIBUTE))
        if number != self.expected_run or number not in self.runs:
            raise _Replay
        self.expected_run += 1
        run = self.runs.pop(number)
        statement = reader.statement
        if statement is None or statement.element is None:
            raise _Replay  # entries outside a statement: the full reader's warnings
        if not statement.header_read:
            reader._read_header(statement)
        prefix = f"{{{self.namespace}}}" if self.namespace else ""
        if statement.reader.q.prefix != prefix or _namespace(element.tag) != self.namespace or _local(element.tag) != "Ntry":
            raise _Replay
        reader._release(element)
        columns = _run_columns(reader, statement, run.block, run.start, run.stop)
        if statement.first_currency is None:
            statement.first_currency = columns["currency"][0].as_py()
        self.builder.add_columns(columns)
        self.records += run.stop - run.start


def _run_columns(reader: _CamtReader, statement, block: _BlockColumns, start: int, stop: int) -> dict[str, pa.Array]:
    """The records of block rows [start, stop) in `statement`, as the full reader's _record makes them."""
    length = stop - start

    def rows(values: pa.Array) -> pa.Array:
        return values.slice(start, length)

    account = statement.account
    currency = rows(block.currency)
    credit_debit = rows(block.credit_debit)
    amount_text = rows(block.amount_text)
    flips = reader.source.reversal_flips_sign
    outgoing = pc.equal(credit_debit, DEBIT)
    if flips:
        outgoing = pc.xor(outgoing, rows(block.reversal))
    nonzero = pc.not_equal(pc.utf8_ltrim(amount_text, "0."), "")  # amounts are (0|[1-9][0-9]*)(.[0-9]+)?
    negative = pc.and_(outgoing, nonzero)
    amount = pc.if_else(negative, pc.binary_join_element_wise("-", amount_text, ""), amount_text)
    identity_text = pc.if_else(pc.match_substring(amount_text, "."),
                               pc.utf8_rtrim(pc.utf8_rtrim(amount_text, "0"), "."), amount_text)
    identity_amount = pc.if_else(negative, pc.binary_join_element_wise("-", identity_text, ""), identity_text)
    booking_date = rows(block.booking_date)
    has_tx = rows(block.has_tx)

    # warnings the full reader gives for these entries (camt._lines), in file order
    batch_size = rows(block.batch_size)
    details = pc.if_else(has_tx, pa.scalar(1, pa.int64()), pa.scalar(0, pa.int64()))
    mismatch = pc.fill_null(pc.not_equal(batch_size, details), False)
    missing = pc.is_null(booking_date)
    noted = np.flatnonzero(pc.or_(mismatch, missing).to_numpy(zero_copy_only=False))
    if len(noted):
        lines = rows(block.source_line).to_pylist()
        refs = rows(block.entry_bank_ref).to_pylist()
        sizes, counts = batch_size.to_pylist(), details.to_pylist()
        mismatch_rows, missing_rows = mismatch.to_pylist(), missing.to_pylist()
        for row in noted.tolist():
            where = f"line {lines[row]}" + (f" ({refs[row]})" if refs[row] else "")
            if mismatch_rows[row]:
                reader.warnings.add("batches whose NbOfTxs differs from the TxDtls given (lines follow the TxDtls)",
                                    f"{where}: NbOfTxs {sizes[row]}, TxDtls {counts[row]}")
            if missing_rows[row]:
                reader.warnings.add("booked entries without a booking date (BookgDt)", where)

    # the counterparty: for a credit the debtor, for a debit the creditor, unless that is us
    incoming = pc.equal(credit_debit, CREDIT)
    debtor = {key: rows(values) for key, values in block.parties["d_"].items()}
    creditor = {key: rows(values) for key, values in block.parties["c_"].items()}
    chosen = {key: pc.if_else(incoming, debtor[key], creditor[key]) for key in debtor}
    other = {key: pc.if_else(incoming, creditor[key], debtor[key]) for key in debtor}
    if account:
        swap = pc.and_(
            pc.and_(chosen["exists"], pc.fill_null(pc.equal(chosen["account"], account), False)),
            pc.and_(other["exists"], pc.and_(
                pc.fill_null(pc.not_equal(other["account"], account), True),
                pc.or_(pc.invert(pc.is_null(other["name"])), pc.invert(pc.is_null(other["account"])))))
        )
        party = {key: pc.if_else(swap, other[key], chosen[key]) for key in chosen}
    else:
        party = chosen
    none = pa.scalar(None, pa.string())
    exists = pc.and_(has_tx, party["exists"])
    counterparty = {key: pc.if_else(exists, party[key], none) for key in ("name", "account", "tax_id")}

    tx_bank_ref = rows(block.tx_bank_ref)
    entry_bank_ref = rows(block.entry_bank_ref)
    entry_ref = rows(block.entry_ref)
    end_to_end = rows(block.end_to_end)
    tx_id = rows(block.tx_id)
    index = pc.if_else(has_tx, pa.scalar("0"), none)
    parts = [pa.scalar(reader.name), pa.scalar(account or ""), entry_bank_ref, tx_bank_ref, end_to_end, tx_id,
             index, booking_date, identity_amount, currency]
    identities = pc.binary_join_element_wise(
        *[p if isinstance(p, pa.Scalar) else pc.fill_null(p, "") for p in parts], "\x1f")
    # a repeated line (its occurrence number past 1) is hashed again with its number
    digests = line_digests(identities, reader.seen, lambda text, count: f"{text}\x1f{count}")

    extra = {
        "message": pa.scalar(statement.message, pa.string()),
        "statement_id": pa.scalar(statement.statement_id, pa.string()),
        "source_line": rows(block.source_line),
        "entry_ref": entry_ref,
        "entry_bank_ref": entry_bank_ref,
        "credit_debit": credit_debit,
        "reversal": pc.if_else(rows(block.reversal), pa.scalar("true"), none),
        "bank_tx_code": rows(block.bank_tx_code),
        "bank_tx_code_proprietary": rows(block.bank_tx_code_proprietary),
        "entry_info": rows(block.entry_info),
        "batch_size": batch_size,
        **{key: rows(values) for key, values in block.extra_tx.items()},
    }
    return {
        "record_type": pa.repeat(pa.scalar("bank_line"), length),
        "source_format": pa.repeat(pa.scalar(reader.name), length),
        "account": pa.repeat(pa.scalar(account, pa.string()), length),
        "booking_date": booking_date,
        "value_date": rows(block.value_date),
        "amount": amount,
        "currency": currency,
        "counterparty_name": counterparty["name"],
        "counterparty_account": counterparty["account"],
        "counterparty_tax_id": counterparty["tax_id"],
        "remittance": pc.coalesce(pc.if_else(has_tx, rows(block.remittance), none), rows(block.entry_info)),
        "end_to_end_id": end_to_end,
        "bank_ref": pc.coalesce(tx_bank_ref, entry_bank_ref, entry_ref),
        "line_id": hex_ids(digests),
        "extra": json_objects(extra, length, plain=block.json_plain),
        "statement": pa.repeat(pa.scalar(statement.index, pa.int64()), length),
    }


__all__ = ["CamtStream", "ENTRY", "MalformedFile"]
