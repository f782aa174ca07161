"""The fast readers (sources/fast_camt.py, sources/fast_mt940.py) give exactly what the full readers
give: every real fixture, generated statements of the benchmark's kind, odd files that make them
fall back, and hypothesis-generated entries and statements. Also the occurrence counter they share.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sources.fast_camt as fast_camt
import sources.fast_mt940 as fast_mt940
from sources.camt import CamtSource
from sources.errors import MalformedFile
from sources.fast_common import Occurrences
from sources.mt940 import Mt940Source
from tests.conftest import load_benchmark
from tests.fast_equality import differences, streamed

CAMT, MT940 = CamtSource(), Mt940Source()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fixtures(fixtures_dir: Path, kind: str, pattern: str) -> list[Path]:
    return sorted((fixtures_dir / kind).rglob(pattern))


# --------------------------------------------------------------------------------------------
# Real fixtures and generated statements
# --------------------------------------------------------------------------------------------


def test_every_real_camt_fixture_streams_as_it_parses(fixtures_dir):
    for path in _fixtures(fixtures_dir, "camt", "*.xml"):
        assert differences(CAMT, path) == [], path.name


def test_every_real_mt940_fixture_streams_as_it_parses(fixtures_dir):
    for path in _fixtures(fixtures_dir, "mt940", "*.sta"):
        assert differences(MT940, path) == [], path.name


def test_real_fixtures_take_the_fast_path_where_they_are_plain(fixtures_dir):
    """The comparison above is not empty: most real entries and lines go through the fast code."""
    camt = sum(streamed(CAMT, p)[4].fast_entries for p in _fixtures(fixtures_dir, "camt", "*.xml")
               if not isinstance(streamed(CAMT, p), Exception))
    mt940 = sum(streamed(MT940, p)[4].fast_lines for p in _fixtures(fixtures_dir, "mt940", "*.sta")
                if not isinstance(streamed(MT940, p), Exception))
    assert camt >= 8 and mt940 >= 130


def test_generated_camt_past_line_65535_with_odd_entries_mixed_in(tmp_path, monkeypatch):
    """The benchmark's statement, long enough for libxml2's big line numbers, with entries the
    template does not take (batches, charges, pending) and a second statement, in small blocks."""
    bench = load_benchmark("bench_camt")
    path = tmp_path / "big.xml"
    bench.write_statement(path, entries=2600)
    text = path.read_text(encoding="utf-8")
    odd = (
        '<Ntry><Amt Ccy="EUR">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-01-05</Dt>'
        '</BookgDt><Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">0.10</TtlChrgsAndTaxAmt></Chrgs></Ntry>\n'
        '<Ntry><Amt Ccy="EUR">4.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts><BookgDt><Dt>2026-01-05</Dt>'
        '</BookgDt></Ntry>\n'
        '<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-01-05</Dt>'
        '</BookgDt><NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch><TxDtls><Refs><EndToEndId>A</EndToEndId></Refs>'
        '</TxDtls><TxDtls><Refs><EndToEndId>B</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>\n'
    )
    middle = text.index("      <Ntry>", len(text) // 2)
    second = text[text.index("    <Stmt>"): text.index("    </Stmt>") + len("    </Stmt>\n")]
    second = second.replace("BENCH-STMT-1", "BENCH-STMT-2").replace(
        "<IBAN>DE89370400440532013000</IBAN></Id><Ccy>", "<IBAN>DE02120300000000202051</IBAN></Id><Ccy>")
    text = text[:middle] + odd + text[middle:]
    text = text.replace("    </Stmt>\n", "    </Stmt>\n" + second, 1)
    path.write_text(text, encoding="utf-8")
    assert text.count("\n") > 65535 + 20_000  # the second statement is past libxml2's line 65535
    monkeypatch.setattr(fast_camt, "BLOCK_BYTES", 200_000)
    assert differences(CAMT, path, batch_size=700) == []
    records, statements, _, _, stream = streamed(CAMT, path)
    assert stream.fast_entries == 2 * 2600 and not stream.replayed
    assert len(statements) == 2 and len(records) == 2 * 2600 + 2


def test_the_benchmarks_baseline_loop_reads_every_entry_of_its_statement(tmp_path):
    """bench_camt's machine-speed reference (the plain iterparse loop) reads what the fast reader reads."""
    bench = load_benchmark("bench_camt")
    path = tmp_path / "baseline.xml"
    bench.write_statement(path, entries=250)
    assert bench.plain_iterparse(path) == 250 == len(streamed(CAMT, path)[0])


def test_generated_mt940_with_envelopes_interim_and_broken_statements(tmp_path, monkeypatch):
    bench = load_benchmark("bench_mt940")
    path = tmp_path / "bench.sta"
    bench.write_statements(path, lines=3000)
    text = path.read_bytes().decode("utf-8")
    statements = text.split(":20:")
    statements[3] = re.sub(r":60F:[^\r]*\r\n", "", statements[3])  # no opening balance: broken
    statements[5] = statements[5] + "{1:F01BANKDEFFXXX0000000000}{2:O9420000BANKDEFFXXXX}{4:\r\n"  # MT942 next
    statements[7] = statements[7] + "-}{5:{CHK:123456789ABC}}\r\n{1:F01BANKDEFFXXX0000000000}{2:O9400000BANKDEFFXXXX}{4:\r\n"
    statements[9] = statements[9].replace("\r\n:86:", "\r\n\r\n:86:", 2)  # blank lines inside
    mangled = ":20:".join(statements)
    path.write_bytes(mangled.encode("utf-8"))
    monkeypatch.setattr(fast_mt940, "BLOCK_BYTES", 30_000)
    assert differences(MT940, path, batch_size=500) == []
    records, _, _, _, stream = streamed(MT940, path)
    assert 2000 < stream.fast_lines < len(records)


def test_statements_in_swift_envelopes_take_the_fast_path(tmp_path):
    """Envelope and end-of-message lines between statements change nothing but line numbers."""
    statement = (":20:REF{n}\r\n:25:DE02120300000000202051\r\n:28C:{n}/1\r\n:60F:C260101EUR10,00\r\n"
                 ":61:2601020102C5,00NTRFNONREF//B{n}\r\n:86:166?00GUTSCHRIFT?20EREF+E{n}?21SVWZ+Rechnung {n}\r\n"
                 ":62F:C260102EUR15,00\r\n")
    envelope = "{1:F01BANKDEFFXXX0000000000}{2:O9400000BANKDEFFXXXX}{4:\r\n"
    text = "".join(envelope + statement.format(n=n) + "-}{5:{CHK:123456789ABC}}\r\n" for n in range(6))
    path = tmp_path / "enveloped.sta"
    path.write_bytes(text.encode("ascii"))
    assert differences(MT940, path, batch_size=2) == []
    assert streamed(MT940, path)[4].fast_lines == 6
    interim = text.replace("O9400000", "O9420000", 1).replace("{2:O9400000", "{2:O9420000", 2)
    path.write_bytes(interim.encode("ascii"))  # an MT942 header: the next statements are the full reader's
    assert differences(MT940, path, batch_size=2) == []


def test_a_statement_the_full_reader_reads_lends_no_line_to_the_one_before(fixtures_dir, tmp_path):
    """Hypothesis found it: a wrapped :60F: makes a statement start with a continuation line,
    which must not join the :86: of the fast statement before it."""
    data = bytearray((fixtures_dir / "mt940" / "betterplace" / "sepa_mt9401.sta").read_bytes())
    data[3479:3480] = b"\n"  # :60F:C070903EUR3 / 92675,04
    path = tmp_path / "wrapped.sta"
    path.write_bytes(bytes(data))
    assert differences(MT940, path) == []


ODD_61_LINES = [
    ":61:2601020103RC5,00NTRF//",  # no customer reference, nothing after //
    ":61:260102D12NTRF   ",  # no decimals, a reference of spaces
    ":61:260102C5,NTRFa///b",  # three slashes
    ":61:260102C5,00NTRFab/",  # a slash at the end
    ":61:260102CR5,00NTRF  NonRef  ",  # a funds code; NONREF in other letters, spaces around
    ":61:2601021231D0,00NMSC\u00e4//\u00f6",  # references that are not ASCII
    ":61:260102C5,00NTRF\tK1\t//\tB1\t",  # tabs
    ":61:260102C5,00NTRF\u00a0K1//B1\u00a0",  # no-break spaces: Python's strip() takes them
    ":61:260102C00000000000000000000000000001,5NTRFLONG",  # more than 26 digits
    ":61:260102C5,00NTR",  # no transaction type: the full reader's
    ":61:26010201C5,00NTRFX",  # a two-digit entry date: the full reader's
    ":61:260102C5,00NTRF\"quoted\" back\\slash//B\"1",  # what JSON escapes
]
ODD_86 = [
    "166?21Rechnung 12?20EREF+E1?00GUTSCHRIFT",  # subfields out of order
    "166?20   ?21SVWZ+Zweck",  # a blank subfield
    "166?20" + "\u00e4" * 27 + "?21weiter?32" + "\u00df" * 27 + "?33Name",  # full subfields of wide characters
    "166?20EREF+A+B?21SVWZ+C",  # a '+' inside a value
    "166?20SVWZ+x\u2007y?32Name\u200bZwei",  # a figure space (Python's whitespace), a zero width space (not)
    "166?20SVWZ+\"Zitat\"\tTab\\?32M\u00fcller",  # what JSON escapes
    "",  # an empty :86:
]
ODD_CONTINUATIONS = ["\tTab first", "  spaces first", "\u00c4rger", "\u00a0no-break space", "-", "{brace", ":7x:"]


def _odd_statement(number: int, body: str, closing: str = ":62F:C260102EUR1,00\n") -> str:
    return f":20:ODD{number}\n:25:DE02120300000000202051\n:28C:{number}/1\n:60F:C260101EUR1,00\n{body}{closing}-\n"


def test_odd_lines_read_in_the_bytes_as_the_full_reader_reads_them(tmp_path, monkeypatch):
    """Field 61, continuation lines and field 86 are read in the segment's bytes: the cases the
    byte rules must get right (or leave to the full reader), each in a statement of its own."""
    statements = []
    for line in ODD_61_LINES:
        statements.append(_odd_statement(len(statements), f"{line}\n:86:166?00TEST?20SVWZ+x\n"))
    for information in ODD_86:
        statements.append(_odd_statement(len(statements), f":61:260102C5,00NTRFK//B\n:86:{information}\n"))
    for line in ODD_CONTINUATIONS:
        statements.append(_odd_statement(len(statements), f":61:260102C5,00NTRFK//B\n{line}\n:86:166?20a\n"))
        statements.append(_odd_statement(len(statements), f":61:260102C5,00NTRFK//B\n:86:166?20a\n{line}\n"))
    # closing balances: two of them, :62M: then :62F:, a :62 line of another kind last
    body = ":61:260102C5,00NTRFK//B\n:86:166?20a\n"
    statements.append(_odd_statement(len(statements), body, ":62F:C260102EUR1,00\n:62F:C260102EUR1,00\n"))
    statements.append(_odd_statement(len(statements), body, ":62M:C260102EUR1,00\n" + body + ":62F:C260102EUR1,00\n"))
    statements.append(_odd_statement(len(statements), body, ":62F:C260102EUR1,00\n:62X:C260102EUR1,00\n"))
    statements.append(_odd_statement(len(statements), body + ":62F:C260102EUR1,00\n" + body))
    plain = _odd_statement(len(statements), body * 3)
    text = plain + "".join(statements) + plain.replace(":20:ODD", ":20:END")
    path = tmp_path / "odd.sta"
    half = len(text) // 2
    for ends in (text, text.replace("\n", "\r\n"), text.replace("\n", "\r"),
                 text[:half].replace("\n", "\r\n") + text[half:].replace("\n", "\r")):
        path.write_bytes(ends.encode("utf-8"))
        assert differences(MT940, path, batch_size=3) == []
        monkeypatch.setattr(fast_mt940, "BLOCK_BYTES", 300)
        assert differences(MT940, path, batch_size=3) == []
        monkeypatch.undo()
    records, _, _, _, stream = streamed(MT940, path)
    assert stream.fast_lines > len(records) // 2


# --------------------------------------------------------------------------------------------
# Files that make the fast camt reader step back
# --------------------------------------------------------------------------------------------

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n'
STATEMENT = (
    "<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>\n<Stmt><Id>S-1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN>"
    "</Id></Acct>\n{entries}\n</Stmt></BkToCstmrStmt></Document>\n"
)


def _entry(number: int, extra: str = "") -> str:
    return (
        f'<Ntry>\n  <Amt Ccy="EUR">{number}.50</Amt>\n  <CdtDbtInd>CRDT</CdtDbtInd>\n  <Sts>BOOK</Sts>\n'
        f"  <BookgDt><Dt>2026-01-0{number % 9 + 1}</Dt></BookgDt>\n  <AcctSvcrRef>R{number}</AcctSvcrRef>{extra}\n</Ntry>"
    )


@pytest.mark.parametrize(
    "text, replayed",
    [
        (HEAD + STATEMENT.format(entries="\n".join(_entry(n) for n in range(5))), False),
        # a comment after the first entry: from there on lxml reads everything
        (HEAD + STATEMENT.format(entries=_entry(1) + "<!-- note <Ntry> -->" + _entry(2) + _entry(3)), False),
        # entries outside any statement: the full reader's warning, replayed from the start
        (HEAD + "<BkToCstmrStmt>" + _entry(1) + STATEMENT.format(entries=_entry(2))[15:], True),
        # the statement in a prefixed namespace, the entries in another default one
        (HEAD.replace('<Document xmlns="', '<Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" xmlns="')
         + STATEMENT.format(entries=_entry(1)).replace("<Stmt>", "<c:Stmt>").replace("</Stmt>", "</c:Stmt>"), False),
        # an entity the template does not know, and one that is declared in a DOCTYPE
        (HEAD + STATEMENT.format(entries=_entry(1, "<AddtlNtryInf>A&#65;B&amp;C</AddtlNtryInf>")), False),
        ('<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x "EXPANDED">]>\n' + HEAD.split("\n", 1)[1]
         + STATEMENT.format(entries=_entry(1, "<AddtlNtryInf>&x;</AddtlNtryInf>") + _entry(2)), False),
        # cut short after some entries: the same error, after the same records
        ((HEAD + STATEMENT.format(entries="\n".join(_entry(n) for n in range(50))))[:1500], True),
        # a mismatched tag inside an entry that otherwise looks plain
        (HEAD + STATEMENT.format(entries=_entry(1) + _entry(2).replace("</AcctSvcrRef>", "</AcctSvcrRe>")), True),
        # ISO-8859-1: lxml reads the file
        (HEAD.replace("UTF-8", "ISO-8859-1") + STATEMENT.format(entries=_entry(1, "<AddtlNtryInf>Gebühr</AddtlNtryInf>")), False),
    ],
    ids=["plain", "comment", "outside", "prefixed", "char-ref", "doctype", "truncated", "mismatched", "latin-1"],
)
def test_camt_files_the_template_does_not_take_read_as_the_full_reader_reads_them(tmp_path, text, replayed):
    path = tmp_path / "odd.xml"
    path.write_bytes(text.encode("latin-1" if "ISO-8859-1" in text else "utf-8"))
    assert differences(CAMT, path, batch_size=2) == []
    result = streamed(CAMT, path)
    if not isinstance(result, Exception):
        assert result[4].replayed == replayed


def test_a_file_that_fails_half_way_delivers_the_same_records_first(tmp_path):
    text = HEAD + STATEMENT.format(entries="\n".join(_entry(n) for n in range(400)))
    path = tmp_path / "cut.xml"
    path.write_text(text[: len(text) * 3 // 4], encoding="utf-8")
    got, expected = [], []
    with pytest.raises(MalformedFile) as fast_error:
        for batch in CAMT.stream(path, 50).batches():
            got.extend(batch.records())
    with pytest.raises(MalformedFile) as full_error:
        for record in CAMT.iter_records(path):
            expected.append(record)
    assert "not well-formed XML" in str(fast_error.value) and str(fast_error.value) == str(full_error.value)
    assert len(got) >= 200 and [r.as_dict() for r in got] == [r.as_dict() for r in expected[: len(got)]]


# --------------------------------------------------------------------------------------------
# Hypothesis: generated camt entries
# --------------------------------------------------------------------------------------------

TEXT = st.lists(
    st.sampled_from(list("abcXYZ 019-/.,") + ["&amp;", "&lt;", "&quot;", "\n", "\t", "  ", "\xa0", "ı", "ä", '"', "\\",
                                             "4111 1111 1111 1111", "NOTPROVIDED", "ž"]),
    max_size=8,
).map("".join)
OUR_IBAN = "DE89370400440532013000"


def _maybe(draw, strategy, probability: float = 0.5):
    return draw(strategy) if draw(st.floats(0, 1)) < probability else None


@st.composite
def camt_entry(draw) -> str:
    def leaf(tag, text):
        return "" if text is None else (f"<{tag}/>" if text == "" and draw(st.booleans()) else f"<{tag}>{text}</{tag}>")

    def party(tag):
        name, tax = _maybe(draw, TEXT), _maybe(draw, TEXT, 0.3)
        body = leaf("Nm", name) + ("<PstlAdr><AdrLine>x</AdrLine></PstlAdr>" if draw(st.booleans()) else "")
        if tax is not None:
            body += f"<Id><OrgId><Othr><Id>{tax}</Id></Othr></OrgId></Id>"
        if draw(st.booleans()):
            body = f"<Pty>{body}</Pty>"
        return f"<{tag}>{body}</{tag}>"

    def account(tag):
        iban = draw(st.sampled_from([OUR_IBAN, "DE02120300000000202051", "", " DE02 1203 "]))
        if draw(st.booleans()):
            return f"<{tag}><Id><IBAN>{iban}</IBAN></Id></{tag}>"
        return f"<{tag}><Id><Othr><Id>{iban}</Id><Issr>x</Issr></Othr></Id><Nm>n</Nm></{tag}>"

    plain = draw(st.floats(0, 1)) < 0.7  # mostly what the template takes; the rest for lxml
    amount = draw(st.sampled_from(["10.00", "0", "0.00", "1234567.5", "5", "0.10"] if plain else ["010.5", "1e3", " 5"]))
    indicator = draw(st.sampled_from(["CRDT", "DBIT"] if plain else ["XXX", "crdt"]))
    status = draw(st.sampled_from(["<Sts>BOOK</Sts>", "<Sts><Cd>BOOK</Cd></Sts>"] if plain else
                                  ["<Sts>PDNG</Sts>", "<Sts> BOOK </Sts>"]))
    booking = draw(st.sampled_from(["<Dt>2026-01-15</Dt>", "<DtTm>2026-01-15T10:00:00</DtTm>", "<Dt>2026-02-30</Dt>",
                                    "<Dt></Dt>", "<Dt>15.01.2026</Dt>"] + ([] if plain else [None])))
    parts = [leaf("NtryRef", _maybe(draw, TEXT, 0.3)), f'<Amt Ccy="EUR">{amount}</Amt>',
             f"<CdtDbtInd>{indicator}</CdtDbtInd>",
             leaf("RvslInd", _maybe(draw, st.sampled_from(["true", "false", "1", "TRUE"]), 0.3)), status]
    if booking is not None:
        parts.append(f"<BookgDt>{booking}</BookgDt>")
    if draw(st.booleans()):
        parts.append("<ValDt><Dt>2026-01-16</Dt></ValDt>")
    parts.append(leaf("AcctSvcrRef", _maybe(draw, st.sampled_from(["SAME", "R1", "R2", ""]), 0.8)))
    parts.append(draw(st.sampled_from(["", "<BkTxCd/>", "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
                                       "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>",
                                       "<BkTxCd><Prtry><Cd>NMSC+051</Cd><Issr>DK</Issr></Prtry></BkTxCd>"])))
    details = draw(st.integers(0, 2))
    if details or draw(st.booleans()):
        inner = ""
        if draw(st.floats(0, 1)) < 0.3:
            inner += f"<Btch><NbOfTxs>{draw(st.sampled_from(['1', '2', 'x', '']))}</NbOfTxs></Btch>"
        for _ in range(details):
            tx = ""
            if draw(st.booleans()):
                tx += ("<Refs>" + leaf("AcctSvcrRef", _maybe(draw, TEXT, 0.3)) + leaf("InstrId", _maybe(draw, TEXT, 0.2))
                       + leaf("EndToEndId", _maybe(draw, st.sampled_from(["E1", "NOTPROVIDED", "notprovıded", ""]), 0.7))
                       + leaf("TxId", _maybe(draw, TEXT, 0.4)) + "</Refs>")
            if draw(st.floats(0, 1)) < 0.3:
                tx += f'<Amt Ccy="{draw(st.sampled_from(["EUR", "CHF"]))}">{draw(st.sampled_from(["1.00", "5"]))}</Amt>'
            tx += draw(st.sampled_from(["", "<BkTxCd><Prtry><Cd>X</Cd></Prtry></BkTxCd>"]))
            if draw(st.booleans()):
                tx += "<RltdPties>"
                for tag, kind in (("Dbtr", party), ("DbtrAcct", account), ("Cdtr", party), ("CdtrAcct", account)):
                    if draw(st.booleans()):
                        tx += kind(tag)
                if draw(st.floats(0, 1)) < 0.3:
                    tx += f"<UltmtDbtr><Nm>{draw(TEXT)}</Nm></UltmtDbtr>"
                tx += "</RltdPties>"
            remittance = draw(st.integers(0, 3))
            if remittance == 1:
                tx += "<RmtInf>" + "".join(f"<Ustrd>{draw(st.sampled_from(['x' * 140, draw(TEXT), 'Inv 1']))}</Ustrd>"
                                            for _ in range(draw(st.integers(1, 3)))) + "</RmtInf>"
            elif remittance == 2:
                tx += (f"<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{draw(TEXT)}</Ref>"
                       f"</CdtrRefInf>{leaf('AddtlRmtInf', _maybe(draw, TEXT))}</Strd></RmtInf>")
            tx += leaf("AddtlTxInf", _maybe(draw, TEXT, 0.3))
            inner += f"<TxDtls>{tx}</TxDtls>"
        parts.append(f"<NtryDtls>{inner}</NtryDtls>")
    parts.append(leaf("AddtlNtryInf", _maybe(draw, TEXT, 0.3)))
    glue = draw(st.sampled_from(["", "\n  ", "\r\n\t"]))
    return "<Ntry>" + glue + glue.join(p for p in parts if p) + glue + "</Ntry>"


@FUZZ
@given(entries=st.lists(camt_entry(), min_size=1, max_size=6), version=st.sampled_from(["02", "04", "08"]))
def test_fuzz_generated_camt_entries_stream_as_they_parse(tmp_path, entries, version):
    text = HEAD.replace("001.02", f"001.{version}") + STATEMENT.format(entries="\n".join(entries))
    path = tmp_path / "fuzz.xml"
    path.write_text(text, encoding="utf-8")
    assert differences(CAMT, path, batch_size=3) == []


CAMT_BASES = ("camt053.v2.minimal.xml", "camt054.v4.xml", "camt052.v8.xml", "camt053.v4.xml")


@FUZZ
@given(base=st.sampled_from(CAMT_BASES), mutations=st.lists(
    st.tuples(st.integers(0, 2**20), st.sampled_from(["replace", "delete", "insert"]), st.binary(min_size=1, max_size=3)),
    min_size=1, max_size=4))
def test_fuzz_mutated_camt_fixtures_stream_as_they_parse(fixtures_dir, tmp_path, base, mutations):
    data = bytearray((fixtures_dir / "camt" / base).read_bytes())
    for where, operation, chunk in mutations:
        position = where % (len(data) + 1)
        if operation == "replace":
            data[position: position + len(chunk)] = chunk
        elif operation == "delete":
            del data[position: position + len(chunk)]
        else:
            data[position:position] = chunk
    path = tmp_path / "mutated.xml"
    path.write_bytes(bytes(data))
    assert differences(CAMT, path) == []


# --------------------------------------------------------------------------------------------
# Hypothesis: generated MT940 statements
# --------------------------------------------------------------------------------------------

SUBFIELD_TEXT = st.lists(st.sampled_from(list("abcXYZ 09.,/+:") + ["EREF+", "SVWZ+", "MREF+", "IBAN+", "BIC+", "KREF+",
                                                                     "ä", "ß", "?", "\xa0", "MTLG:", "x" * 27]),
                         max_size=6).map("".join)


@st.composite
def field_86(draw) -> str:
    kind = draw(st.sampled_from(["gvc", "gvc", "gvc", "nl", "free", "mbank", "gvc-odd"]))
    if kind == "nl":
        return f"/EREF/{draw(SUBFIELD_TEXT)}/NAME/{draw(SUBFIELD_TEXT)}/REMI/USTD//{draw(SUBFIELD_TEXT)}"
    if kind == "free":
        return draw(SUBFIELD_TEXT) + " free text"
    if kind == "mbank":
        return f"911 TRANSAKCJA; TYT.: {draw(SUBFIELD_TEXT)}; TNR: 1"
    keys = draw(st.lists(st.sampled_from(["00", "10", "20", "21", "22", "23", "29", "60", "30", "31", "32", "33", "34",
                                          "99"]), max_size=8))
    if kind != "gvc-odd":
        keys = sorted(set(keys) - {"99"})
    text = draw(st.sampled_from(["166", "105", "805", "999"]))
    for key in keys:
        text += f"?{key}{draw(SUBFIELD_TEXT)}"
    return text


@st.composite
def mt940_line(draw, plain: bool = False) -> str:
    """A :61: line with its :86:; `plain` lines have readable dates and amounts (the fast path's)."""
    value = draw(st.sampled_from(["260102", "261231"] if plain else ["260102", "261231", "260230", "2601O2"]))
    entry = draw(st.sampled_from(["", "0103", "1231", "0101"] if plain else ["", "0103", "1231", "0101", "0230"]))
    mark = draw(st.sampled_from(["C", "D", "RC", "RD"]))
    amount = draw(st.sampled_from(["5,00", "0,00", "1500,", "000147,64", "7,5"] if plain else
                                  ["5,00", "0,00", "1500,", "000147,64", "1,2,3", "12345678901234567890123456789,1"]))
    reference = draw(st.sampled_from(["NONREF", "K1//B1", "K1//", "nonref", "SAME//SAME", " X // Y ", "A//B//C", "ä//ö"]))
    line = f":61:{value}{entry}{mark}{draw(st.sampled_from(['', 'R']))}{amount}NTRF{reference}\n"
    if draw(st.floats(0, 1)) < 0.2:
        line += f"/OCMT/EUR{amount}/  \n"
    if draw(st.floats(0, 1)) < 0.85:
        information = draw(field_86())
        wrapped = [information[i: i + 65] for i in range(0, len(information), 65)] or [""]
        line += ":86:" + "\n".join(wrapped) + "\n"
    if not plain and draw(st.floats(0, 1)) < 0.05:
        line += ":NS:extra\n"
    return line


@st.composite
def mt940_statement(draw, number: int) -> str:
    """Mostly plain statements (the fast path's), some with what sends them to the full reader."""
    plain = draw(st.floats(0, 1)) < 0.8
    lines = "".join(draw(st.lists(mt940_line(plain=plain), max_size=5)))
    header = f":20:ST{number}\n:25:{draw(st.sampled_from(['DE02120300000000202051', '12345678/0000012345EUR', '']))}\n"
    header += draw(st.sampled_from([":28C:1/1\n", ":28:00001\n", ""]))
    if plain:
        opening = draw(st.sampled_from([":60F:C260101EUR100,00\n", ":60M:D260101EUR5,\n"]))
        closing = draw(st.sampled_from([":62F:C260102EUR100,00\n", ":62M:C260102EUR1,00\n"]))
        tail = draw(st.sampled_from(["-\n", "", "\n-\n", ":64:C260102EUR1,00\n-\n", ":86:closing info\n-\n"]))
        envelope = draw(st.sampled_from(["", "", "", ":940:\n"]))
    else:
        opening = draw(st.sampled_from([":60F:C260101EUR100,00\n", ":60M:D260101EUR5,\n", "", ":60F:X\n"]))
        closing = draw(st.sampled_from([":62F:C260102EUR100,00\n", ":62M:C260102EUR1,00\n", ""]))
        tail = draw(st.sampled_from(["-\n", "", "\n-\n", ":64:C260102EUR1,00\n-\n", ":86:closing info\n-\n"]))
        envelope = draw(st.sampled_from(["", "{1:F01BANKDEFFXXX0000000000}{2:O9400000BANKDEFFXXXX}{4:\n",
                                         "{1:F01BANKDEFFXXX0000000000}{2:O9420000BANKDEFFXXXX}{4:\n", ":940:\n"]))
    return envelope + header + opening + lines + closing + tail


@FUZZ
@given(data=st.data(), count=st.integers(1, 4), line_ends=st.sampled_from(["\n", "\r\n"]))
def test_fuzz_generated_mt940_statements_stream_as_they_parse(tmp_path, data, count, line_ends):
    text = "".join(data.draw(mt940_statement(number)) for number in range(count))
    path = tmp_path / "fuzz.sta"
    path.write_bytes(text.replace("\n", line_ends).encode("utf-8"))
    assert differences(MT940, path, batch_size=2) == []


MT940_BASES = ("betterplace/sepa_mt9401.sta", "cmxl/mt940.sta", "mBank/mt940.sta", "self-provided/raphaelm.sta")


@FUZZ
@given(base=st.sampled_from(MT940_BASES), mutations=st.lists(
    st.tuples(st.integers(0, 2**20), st.sampled_from(["replace", "delete", "insert"]),
              st.sampled_from([b":", b"\n", b"?2", b"-", b"{", b" ", b"\xc3\xa4", b"//", b"C", b"0", b"\xff"])),
    min_size=1, max_size=4))
def test_fuzz_mutated_mt940_fixtures_stream_as_they_parse(fixtures_dir, tmp_path, base, mutations):
    data = bytearray((fixtures_dir / "mt940" / base).read_bytes())
    for where, operation, chunk in mutations:
        position = where % (len(data) + 1)
        if operation == "replace":
            data[position: position + len(chunk)] = chunk
        elif operation == "delete":
            del data[position: position + len(chunk)]
        else:
            data[position:position] = chunk
    path = tmp_path / "mutated.sta"
    path.write_bytes(bytes(data))
    assert differences(MT940, path) == []


FIELD_61_PIECES = st.sampled_from(["260102", "0103", "12", "RC", "RD", "C", "D", "R", "N", "5", "000", ",", ",50",
                                    "NTRF", "NMSC", "N1", "K1", "/", "//", "///", " ", "\t", "\u00e4", "\u00a0", "x"])


FIELD_61_LINE = st.one_of(
    st.lists(FIELD_61_PIECES, max_size=12).map(lambda pieces: ":61:" + "".join(pieces)),
    # mostly the parts of a line that matches, now and then one that does not
    st.tuples(*(st.sampled_from(good * 8 + bad) for good, bad in [
        (["260102"], ["26010", "2601021"]), (["", "0103"], ["01", "010", "0103C"]),
        (["C", "D", "RC", "RD"], ["R", "X", ""]), (["", "", "R", "N"], ["1"]), (["5", "000", "120"], ["", "\u0661"]),
        (["", ",", ",50"], [",5,", ".5"]), (["NTRF", "N1X2", "NTRFF"], ["NTR", "ntrf", "1TRF"])]),
              st.lists(FIELD_61_PIECES, max_size=6).map("".join)).map(lambda parts: ":61:" + "".join(parts)),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(FIELD_61_LINE, min_size=1, max_size=8))
def test_field_61_read_in_the_bytes_as_the_regular_expression_reads_it(lines):
    """fast_mt940._parse_61 (the bytes) gives what _FIELD_61_RE2 (pyarrow's RE2) captures."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = [line.encode("utf-8") for line in lines]
    starts = np.cumsum([0] + [len(line) + 1 for line in encoded[:-1]])
    ends = starts + np.array([len(line) for line in encoded])
    data = np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
    matched, bounds = fast_mt940._parse_61(data, starts, ends)
    captured = pc.extract_regex(pa.array(lines), fast_mt940._FIELD_61_RE2).to_pylist()
    for row, expected in enumerate(captured):
        assert matched[row] == (expected is not None), lines[row]
        if expected is not None:
            got = {name: data[bounds[row, number]: bounds[row, number + 1]].tobytes().decode("utf-8")
                   for number, name in enumerate(fast_mt940._FIELD_61_PARTS, start=1)}
            assert got == {name: expected[name] or "" for name in fast_mt940._FIELD_61_PARTS}, lines[row]


# --------------------------------------------------------------------------------------------
# The occurrence counter
# --------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(st.one_of(st.integers(0, 40), st.lists(st.integers(0, 40), max_size=60)), max_size=30),
       limit=st.sampled_from([2, 5, 4096]), fan_in=st.sampled_from([2, 3, 8]), run_limit=st.sampled_from([6, 1 << 20]))
def test_occurrences_count_blocks_as_they_count_one_by_one(steps, limit, fan_in, run_limit):
    def digest(number: int) -> bytes:
        full = hashlib.sha256(str(number).encode()).digest()[:16]
        return full[:8] + bytes(8) if number % 7 == 0 else full  # some share their first half

    counter, expected = Occurrences(), Counter()
    counter._PENDING_LIMIT, counter._FAN_IN, counter._RUN_LIMIT = limit, fan_in, run_limit
    for step in steps:
        if isinstance(step, int):
            expected[step] += 1
            assert counter.add(digest(step)) == expected[step]
        else:
            got = counter.add_many(b"".join(digest(n) for n in step)).tolist()
            want = []
            for number in step:
                expected[number] += 1
                want.append(expected[number])
            assert got == want


def test_occurrences_past_filter_growth_and_merges():
    """Tens of thousands of digests (the bit filter grows; runs merge in tiers, up to the run limit),
    many of them repeated across blocks and inside one."""
    import random

    rng = random.Random(7)
    counter, expected = Occurrences(), Counter()
    counter._PENDING_LIMIT, counter._FAN_IN, counter._RUN_LIMIT = 64, 3, 20_000
    for _ in range(60):
        numbers = [rng.randrange(40_000) for _ in range(rng.randrange(1, 1500))]
        digests = b"".join(hashlib.sha256(str(n).encode()).digest()[:16] for n in numbers)
        want = []
        for number in numbers:
            expected[number] += 1
            want.append(expected[number])
        assert counter.add_many(digests).tolist() == want
    assert counter._bits > 1 << 16 and len(counter._runs) > 1
