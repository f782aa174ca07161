"""Throughput and peak memory of the OFX source on generated bank statements, OFX 1.x and 2.x.

    .venv/bin/python benchmarks/bench_ofx.py [--transactions 200000] [--modes parse]

Writes two statements of N transactions each, the way banks send them: OFX 1.03 SGML (the
`KEY:VALUE` header, CHARSET 1252, leaf elements without end tags, CRLF) and OFX 2.1.1 XML (the
`<?OFX?>` processing instruction, every element closed), with TRNTYPE, DTPOSTED, DTUSER, TRNAMT,
FITID, NAME and MEMO (some with `&amp;`), a FITID that repeats now and then with another amount
(kept: the key is account + FITID + amount + date) and a LEDGERBAL. Each is read by
`OfxSource().parse()` in a fresh child process (see _harness.py): the OFX reader reads a whole
file at once (statements are small: a month of one account), so the figure is its throughput and
the memory a file of this size needs. Figures are single-core (one process, one thread).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

SGML_HEADER = (
    "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:103\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\n"
    "COMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
)
XML_HEADER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
)
PAYEES = ["ACME SUPPLIES INC", "CITY WATER & POWER", "PAYROLL DEPOSIT", "AMAZON MKTPLACE", "CHECK 1042",
          "JOHNSON & SONS LLC", "INTEREST PAYMENT", "ATM WITHDRAWAL"]
FIRST_DAY = date(2026, 1, 1)


def _transactions(count: int) -> list[dict[str, str]]:
    """The statement's transactions (the same for both versions), oldest first."""
    rng = random.Random(7)
    rows = []
    for number in range(count):
        cents = rng.randrange(1, 5_000_00)
        credit = number % 3 == 0
        day = FIRST_DAY + timedelta(days=number * 28 // max(count, 1))
        fitid = f"2026{number:010d}" if number % 997 else f"2026{number - 1:010d}"  # a FITID now and then twice
        rows.append({
            "TRNTYPE": "CREDIT" if credit else "DEBIT",
            "DTPOSTED": f"{day:%Y%m%d}120000.000[-5:EST]",
            "DTUSER": f"{day:%Y%m%d}",
            "TRNAMT": f"{'' if credit else '-'}{cents // 100}.{cents % 100:02d}",
            "FITID": fitid,
            "NAME": PAYEES[number % len(PAYEES)].replace("&", "&amp;"),
            "MEMO": f"REF {number:08d} INVOICE INV-2026-{number % 50_000:06d}",
        })
    return rows


def write_statement(path: Path, transactions: int, version: str) -> int:
    """An OFX statement of `transactions` transactions, `version` "sgml" (1.03) or "xml" (2.1.1);
    returns the transactions written."""
    rows = _transactions(transactions)
    cents = sum(int(row["TRNAMT"].replace(".", "")) for row in rows)
    balance = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"  # opening balance 0
    closed = version == "xml"
    newline = "\n" if closed else "\r\n"

    def element(tag: str, value: str) -> str:
        return f"<{tag}>{value}</{tag}>" if closed else f"<{tag}>{value}"

    with open(path, "w", encoding="utf-8" if closed else "cp1252", newline="") as out:
        out.write(XML_HEADER if closed else SGML_HEADER)
        out.write(newline.join([
            "<OFX>", "<SIGNONMSGSRSV1><SONRS><STATUS>", element("CODE", "0"), element("SEVERITY", "INFO"),
            "</STATUS>", element("DTSERVER", "20260201080000"), element("LANGUAGE", "ENG"), "</SONRS></SIGNONMSGSRSV1>",
            "<BANKMSGSRSV1><STMTTRNRS>", element("TRNUID", "1001"), "<STATUS>", element("CODE", "0"),
            element("SEVERITY", "INFO"), "</STATUS><STMTRS>", element("CURDEF", "USD"), "<BANKACCTFROM>",
            element("BANKID", "121000248"), element("ACCTID", "4120098765"), element("ACCTTYPE", "CHECKING"),
            "</BANKACCTFROM><BANKTRANLIST>", element("DTSTART", "20260101"), element("DTEND", "20260131"), "",
        ]))
        for row in rows:
            out.write("<STMTTRN>" + newline + newline.join(element(tag, value) for tag, value in row.items())
                      + newline + "</STMTTRN>" + newline)
        out.write(newline.join([
            "</BANKTRANLIST><LEDGERBAL>", element("BALAMT", balance), element("DTASOF", "20260131"),
            "</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>", "",
        ]))
    return transactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=200_000, help="transactions in each statement")
    parser.add_argument("--modes", default="parse", help="comma-separated: parse (the OFX reader reads whole files)")
    parser.add_argument("--keep", type=Path, help="write the files into this folder and keep them")
    parser.add_argument("--child", choices=_harness.MODES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        source = _harness.source("sources.ofx", "OfxSource")
        print(json.dumps(_harness.measure(source, args.child, args.file)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_ofx_") as folder:
        for version in ("sgml", "xml"):
            label = f"OFX {'1.03 SGML' if version == 'sgml' else '2.1.1 XML'}"
            path = (args.keep or Path(folder)) / f"ofx_{version}_{args.transactions}.ofx"
            lines, seconds = _harness.timed_write(lambda: write_statement(path, args.transactions, version))
            print(f"synthetic {label}: {_harness.describe(path, lines, seconds)}", flush=True)
            for mode in filter(None, args.modes.split(",")):
                _harness.report(label, _harness.run_child(__file__, mode, path))
            if not args.keep:
                path.unlink()


if __name__ == "__main__":
    main()
