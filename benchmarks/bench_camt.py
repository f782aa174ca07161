"""Throughput and peak memory of the camt source on a synthetic camt.053 with many entries.

    .venv/bin/python benchmarks/bench_camt.py [--entries 1000000] [--gib 1.0] [--modes fast,stream]
                                              [--gib-modes fast]

Writes a camt.053.001.02 statement with N booked entries (one TxDtls each: refs, debtor, creditor,
remittance) to a temporary file, and a second one of about --gib GiB, and reads each in fresh child
processes (see _harness.py), so each peak RSS belongs to one way of reading:

- fast:   CamtSource().stream(path), the fast reader's columnar batches (sources/fast_camt.py),
          what ingest uses; the target is 80,000 lines/s;
- stream: CamtSource().iter_records(path), the full reader, records dropped as they come;
- parse:  CamtSource().parse(path), the full reader, every record kept in the ParseResult;
- baseline: no payrecon code, the plain lxml iterparse loop the targets were set against (the
          issue: "about 33k camt lines/s on one core here"): each entry's amount, indicator,
          booking date, bank reference and remittance read with findtext, then the entry cleared.
          Machines differ (a bare iterparse-and-clear loop measured 43k/s on one machine of this
          project and 108k/s on another), so each run prints how many times this loop the fast
          reader goes.

The files are deleted afterwards. Figures are single-core (one process, one thread).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

TARGET_LINES_PER_SECOND = 80_000

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2026-01-31T18:00:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>BENCH-STMT-1</Id>
      <ElctrncSeqNb>1</ElctrncSeqNb>
      <CreDtTm>2026-01-31T18:00:00+01:00</CreDtTm>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>
"""

ENTRY = """      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-01-{day:02d}</Dt></BookgDt>
        <ValDt><Dt>2026-01-{day:02d}</Dt></ValDt>
        <AcctSvcrRef>BANKREF{number:09d}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-{number:09d}</EndToEndId><TxId>TX{number:09d}</TxId></Refs>
            <RltdPties>
              <Dbtr><Nm>Customer {number} GmbH</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>
              <Cdtr><Nm>Our Company AG</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>Invoice INV-{number:07d} customer {number}</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
"""

FOOTER = """      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{closing}</Amt><CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>2026-01-31</Dt></Dt></Bal>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def write_statement(path: Path, entries: int | None = None, min_bytes: int | None = None) -> int:
    """Streams the synthetic statement to disk (never the whole text in memory) until `entries`
    entries or `min_bytes` bytes; returns the entries written."""
    closing_cents = 0
    number = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        while (entries is None or number < entries) and (min_bytes is None or out.tell() < min_bytes):
            cents = 100 + number % 99_900
            credit = number % 3 != 0
            closing_cents += cents if credit else -cents
            out.write(
                ENTRY.format(
                    amount=f"{cents // 100}.{cents % 100:02d}",
                    indicator="CRDT" if credit else "DBIT",
                    day=1 + number % 28,
                    number=number,
                )
            )
            number += 1
        # Balances sit before entries in the schema; a closing one after them is still read.
        out.write(
            FOOTER.format(
                closing=f"{abs(closing_cents) // 100}.{abs(closing_cents) % 100:02d}",
                indicator="CRDT" if closing_cents >= 0 else "DBIT",
            )
        )
    return number


def plain_iterparse(path: Path) -> int:
    """The baseline: entries read by a plain lxml iterparse loop (five values each), cleared as it goes."""
    from lxml import etree

    ns = "{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}"
    count = 0
    for _, entry in etree.iterparse(str(path), events=("end",), tag=ns + "Ntry"):
        values = (entry.findtext(ns + "Amt"), entry.findtext(ns + "CdtDbtInd"), entry.findtext(f"{ns}BookgDt/{ns}Dt"),
                  entry.findtext(ns + "AcctSvcrRef"), entry.findtext(f".//{ns}Ustrd"))
        count += values[0] is not None
        entry.clear()
        while entry.getprevious() is not None:
            del entry.getparent()[0]
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries of the first file (0: skip it)")
    parser.add_argument("--gib", type=float, default=1.0, help="size of the second file in GiB (0: skip it)")
    parser.add_argument("--modes", default="baseline,fast,stream",
                        help="comma-separated: baseline, fast, stream, parse")
    parser.add_argument("--gib-modes", default="fast", help="modes for the GiB file (the full reader takes minutes)")
    parser.add_argument("--keep", type=Path, help="write the files into this folder and keep them")
    parser.add_argument("--child", choices=_harness.MODES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        source = _harness.source("sources.camt", "CamtSource")
        print(json.dumps(_harness.measure(source, args.child, args.file, plain_iterparse)))
        return
    runs = []
    if args.entries:
        runs.append((f"{args.entries:,} entries", dict(entries=args.entries), args.modes))
    if args.gib:
        runs.append((f"{args.gib:g} GiB", dict(min_bytes=int(args.gib * 2**30)), args.gib_modes))
    with tempfile.TemporaryDirectory(prefix="bench_camt_") as folder:
        for label, size, modes in runs:
            modes = [mode for mode in modes.split(",") if mode]
            path = (args.keep or Path(folder)) / f"camt053_{label.replace(',', '').replace(' ', '_')}.xml"
            lines, seconds = _harness.timed_write(lambda: write_statement(path, **size))
            print(f"synthetic camt.053 ({label}): {_harness.describe(path, lines, seconds)}", flush=True)
            baseline = None
            for mode in modes:
                result = _harness.run_child(__file__, mode, path)
                if mode == "baseline":
                    baseline = result["lines_per_second"]
                    _harness.report(label, result)
                    continue
                _harness.report(label, result, TARGET_LINES_PER_SECOND)
                if baseline:
                    print(f"    = {result['lines_per_second'] / baseline:.2f} x the plain iterparse loop "
                          f"(the target is {TARGET_LINES_PER_SECOND / 33_000:.2f} x the issue's 33k)", flush=True)
            if not args.keep:
                path.unlink()


if __name__ == "__main__":
    main()
