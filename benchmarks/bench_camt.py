"""Throughput and peak memory of the camt source on a synthetic camt.053 with many entries.

    .venv/bin/python benchmarks/bench_camt.py [--entries 200000]

Writes a camt.053.001.02 statement with N booked entries (one TxDtls each: refs, debtor, creditor,
remittance) to a temporary file, then reads it in two fresh processes, so each peak RSS
(resource.getrusage ru_maxrss) belongs to one way of reading:

- parse:  CamtSource().parse(path), every record kept in the ParseResult;
- stream: CamtSource().iter_records(path), records dropped as they come (the XML side alone).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

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


def write_statement(path: Path, entries: int) -> None:
    """Streams the synthetic statement to disk (never the whole text in memory)."""
    closing_cents = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for number in range(entries):
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
        # Balances sit before entries in the schema; a closing one after them is still read.
        out.write(
            FOOTER.format(
                closing=f"{abs(closing_cents) // 100}.{abs(closing_cents) % 100:02d}",
                indicator="CRDT" if closing_cents >= 0 else "DBIT",
            )
        )


def measure(mode: str, path: Path) -> dict:
    """Runs in a child process: one way of reading the file, timed, with its peak RSS."""
    sys.path.insert(0, str(REPO))
    from sources.camt import CamtSource

    source = CamtSource()
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if mode == "parse":
        result = source.parse(path)
        count = len(result.records)
    else:
        count = sum(1 for _ in source.iter_records(path))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": mode,
        "records": count,
        "seconds": round(seconds, 2),
        "entries_per_second": round(count / seconds),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_before_mib": round(baseline_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--child", choices=("parse", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.file)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_camt_") as folder:
        path = Path(folder) / "camt053_synthetic.xml"
        started = time.perf_counter()
        write_statement(path, args.entries)
        size_mib = os.path.getsize(path) / 2**20
        print(f"synthetic camt.053: {args.entries} entries, {size_mib:.0f} MiB, written in {time.perf_counter() - started:.1f} s")
        for mode in ("stream", "parse"):
            output = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--file", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output)
            print(
                f"{result['mode']:>6}: {result['records']} records in {result['seconds']} s = "
                f"{result['entries_per_second']} entries/s; peak RSS {result['peak_rss_mib']} MiB "
                f"(after imports {result['rss_before_mib']} MiB)"
            )


if __name__ == "__main__":
    main()
