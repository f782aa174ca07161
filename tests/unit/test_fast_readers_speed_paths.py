"""The faster paths of the fast readers give what the full readers give: the MT940 reader's byte
blocks (BOM, line ends, control bytes, other encodings: the full reader's text in every case) and
field 86 rules read in bytes (a subfield twice, a subfield mt940 keeps in extra, ?32/?33 joined or
not, several SEPA keywords in one text); camt's byte checks of character data and of the markup.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.camt import CamtSource
from sources.fast_common import is_utf8
from sources.fast_mt940 import _without_cr
from sources.mt940 import Mt940Source, _normalized_utf8
from tests.fast_equality import differences, streamed

CAMT, MT940 = CamtSource(), Mt940Source()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _statement(number: int, details: str) -> str:
    return (f":20:REF{number}\n:25:DE02120300000000202051\n:28C:{number}/1\n:60F:C260101EUR10,00\n"
            f":61:2601020102C5,00NTRFK{number}//B{number}\n:86:{details}\n:62F:C260102EUR15,00\n-\n")


FIELD_86 = [
    "166?00GUTSCHRIFT?20EREF+E1?20SVWZ+twice",  # a subfield twice: read_information
    "166?00GUTSCHRIFT?35other?20SVWZ+x",  # a subfield mt940 keeps in extra
    "166?20SVWZ+Rechnung?32Kurz?33GmbH",  # a short ?32: joined with a space
    "166?20SVWZ+x?32" + "A" * 27 + "?33weiter",  # a full ?32: joined without one
    "166?20SVWZ+x?32" + "\u00e4" * 27 + "?33weiter",  # full in characters, not in bytes
    "166?20SVWZ+x?32" + "A" * 27 + "?33EREF+neu",  # a ?33 that opens a new item
    "166?20SVWZ+x?32" + "A" * 27 + "?33ABCD:neu",  # four capitals and a colon
    "166?20SVWZ+x?32EREF+kurz?33weiter",  # a keyword in a short ?32: mt940 decides
    "166?20SVWZ+x?32Name?33BIC+X",  # BIC+ (four bytes) opening the ?33
    "166?20EREF+E1?21MREF+M1?22CRED+C1?23IBAN+DE02 1203?24BIC+BYLADEM1?25ABWA+Someone?26SVWZ+Zweck",
    "166?20EREF+" + "E" * 22 + "?21weiter?22SVWZ+Zweck",  # a keyword's value in two full subfields
    "166?20EREF+NOTPROVIDED?21SVWZ+x?31DE02 1203 0000 0000 2020 51",  # spaces in the account
    "166?20SVWZ+x?3",  # a '?' without two digits at the end
    "166?20SVWZ+x??21y",  # a '?' that is no marker
]


def test_field_86_rules_read_in_bytes_give_the_full_readers_records(tmp_path):
    text = "".join(_statement(number, details) for number, details in enumerate(FIELD_86))
    path = tmp_path / "field86.sta"
    path.write_text(text, encoding="utf-8")
    assert differences(MT940, path) == []


@pytest.mark.parametrize("case", ["bom", "crlf", "cr", "mixed", "controls", "latin-1", "bad-utf8"])
def test_mt940_byte_blocks_give_the_full_readers_text(tmp_path, case):
    text = "".join(_statement(number, FIELD_86[number % 5]) for number in range(40)).replace("EREF+", "EREF+\u00e4")
    data = text.encode("utf-8")
    if case == "bom":
        data = "\ufeff".encode() + data
    elif case == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif case == "cr":
        data = data.replace(b"\n", b"\r")
    elif case == "mixed":
        half = len(data) // 2
        data = data[:half].replace(b"\n", b"\r\n") + data[half:].replace(b"\n", b"\r")
    elif case == "controls":
        data = b"\x01" + data.replace(b":62F:", b"\x03:62F:", 3)
    elif case == "latin-1":
        data = text.encode("latin-1")
    else:
        data = data + b"\xed\xa0\x80\n"  # a surrogate: not UTF-8 for Python
    path = tmp_path / f"{case}.sta"
    path.write_bytes(data)
    assert differences(MT940, path, batch_size=7) == []


@given(data=st.binary(max_size=40))
def test_is_utf8_agrees_with_pythons_decoder(data):
    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert is_utf8(data) == expected


@given(data=st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"\xc3\xa4"]), max_size=20).map(b"".join))
def test_without_cr_is_the_full_readers_normalization(data):
    assert _without_cr(data + b"\n") == _normalized_utf8(data + b"\n")


CAMT_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>M</MsgId><CreDtTm>2026-01-31T18:00:00</CreDtTm></GrpHdr><Stmt><Id>S</Id>
<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
"""
CAMT_ENTRY = """<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-01-02</Dt></BookgDt><ValDt><Dt>2026-01-02</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>E{number}</EndToEndId></Refs>
<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties><RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls>
</Ntry>
"""


@FUZZ
@given(values=st.lists(st.tuples(
    st.sampled_from(["BANK1", "BANK1", "B 2", "B\t3", "x&amp;y", "Q\"uote", "back\\slash", "\u00e4", "  lead"]),
    st.sampled_from(["Name", "Two  spaces", "Trail ", "\u00a0nbsp", "M\u00fcller", "a\nb", "C&#38;D"]),
    st.sampled_from(["Inv 1", "Inv 1", "r\r\nn", "]]&gt;", "x!y?z"]),
), min_size=1, max_size=6), tail=st.sampled_from(["", "<!-- c -->", "<?pi x?>"]))
def test_camt_byte_checks_give_the_full_readers_records(tmp_path, values, tail):
    entries = "".join(CAMT_ENTRY.format(amount="1.50", ref=ref, number=number, name=name, remittance=remittance)
                      for number, (ref, name, remittance) in enumerate(values))
    text = CAMT_HEAD + entries + tail + "</Stmt></BkToCstmrStmt></Document>\n"
    path = tmp_path / "checks.xml"
    path.write_text(text, encoding="utf-8")
    assert differences(CAMT, path, batch_size=2) == []


def test_repeated_lines_are_numbered_as_the_full_readers_number_them(tmp_path):
    """Every line seen before (fast_common.line_digests' second hashing): an MT940 file whose
    statements all come twice, a camt statement whose entries all come twice."""
    mt940 = tmp_path / "twice.sta"
    text = "".join(_statement(n, FIELD_86[n % len(FIELD_86)]) for n in range(1, 40))
    mt940.write_text(text + text + text, encoding="utf-8")
    assert differences(MT940, mt940) == []
    records = list(MT940.parse(mt940).records)
    assert len({r.line_id for r in records}) == len(records) == 3 * 39
    assert streamed(MT940, mt940)[-1].fast_lines == 3 * 39  # all of them on the fast path
    camt = tmp_path / "twice.xml"
    entries = "".join(
        f'<Ntry><Amt Ccy="EUR">{n}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-01-05</Dt></BookgDt>'
        f'<AcctSvcrRef>R{n}</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>Rechnung {n}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n'
        for n in range(1, 40))
    camt.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        '<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-01-05T10:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>'
        '<CreDtTm>2026-01-05T10:00:00</CreDtTm><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>EUR</Ccy></Acct>\n'
        + entries + entries + '</Stmt></BkToCstmrStmt></Document>\n', encoding="utf-8")
    assert differences(CAMT, camt) == []
    records = list(CAMT.parse(camt).records)
    assert len({r.line_id for r in records}) == len(records) == 2 * 39
    assert streamed(CAMT, camt)[-1].fast_entries == 2 * 39
