"""Throughput and peak memory of the MT940 source on synthetic German bank statements.

    .venv/bin/python benchmarks/bench_mt940.py [--lines 1000000] [--gib 1.0] [--modes fast,stream]
                                               [--gib-modes fast]

Writes an MT940 file the way German banks send them (CRLF, UTF-8 umlauts in names, many statements
of 20 to 180 lines for a handful of accounts with a consistent balance chain, every :61: followed by
a :86: in the DFÜ structure: GVC, ?00 booking text, ?10 primanota, ?20-?29 purpose with EREF+/MREF+/
CRED+/SVWZ+ cut into 27-character subfields, ?30 BIC, ?31 IBAN, ?32/?33 name, ?34, wrapped at 65
characters) to a temporary file, then reads it in fresh child processes (see _harness.py): `fast`
is Mt940Source().stream(), the fast reader's columnar batches (sources/fast_mt940.py, what ingest
uses; the target is 150,000 lines/s), `stream` the full reader's iter_records() and `parse` its
parse(). A second file of about --gib GiB is written and read the same way (by default with the fast
reader only: the full reader takes minutes, and parse() would keep its 4.6 million records), then
deleted. Figures are single-core (one process, one thread). Machines differ by more than 2x: for a
figure that compares across machines, run `bench_camt.py --modes baseline` on the same machine (the
plain lxml iterparse loop the issue's targets were set against, "about 33k camt lines/s here").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

TARGET_LINES_PER_SECOND = 150_000

ACCOUNTS = [("37040044", "0532013000"), ("50010517", "5319112233"), ("20041133", "0777123400")]
NAMES = [
    "Müller Gärten GmbH", "Bäckerei Schröder", "Jürgen Weiß", "Özdemir Handels KG", "Stadtwerke München",
    "Deutsche Telekom AG", "Zahnarztpraxis Dr. Käthe Groß", "Hausverwaltung Süd", "Amazon Payments Europe S.C.A.",
]
BICS = ["COBADEFFXXX", "DEUTDEDBXXX", "GENODEF1M04", "BYLADEMMXXX", "PBNKDEFFXXX"]


def _iban(number: int) -> str:
    return f"DE{10 + number % 89:02d}{370400440000000000 + number * 7919 % 10**10:018d}"


def _amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _wrap(text: str, width: int = 65) -> str:
    return "\r\n".join(text[i : i + width] for i in range(0, len(text), width))


def _details(number: int, rng: random.Random, incoming: bool) -> str:
    """Field 86 content in the German GVC structure (one string, before wrapping at 65)."""
    name = NAMES[number % len(NAMES)]
    kind = number % 10
    if kind == 9:  # a bank charge: no counterparty, no SEPA keywords
        return f"805?00ABSCHLUSS?10{9000 + number % 900}?20Entgelt fuer Kontofuehrung?21Abrechnung 01.2026?34000"
    if incoming:
        gvc, booking = "166", "GUTSCHRIFT"
        items = [f"EREF+INV-2026-{number:08d}", f"SVWZ+Rechnung {number:08d} Kunde {number % 5000} vom {1 + number % 28:02d}.01.2026 Danke"]
    elif kind % 2:
        gvc, booking = "105", "FOLGELASTSCHRIFT"
        items = [
            f"EREF+DD{number:010d}", f"MREF+M-{number % 7000:06d}", "CRED+DE98ZZZ09999999999",
            f"SVWZ+Beitrag {1 + number % 12:02d}/2026 Vertrag {number % 7000}",
        ]
    else:
        gvc, booking = "116", "SEPA-UEBERWEISUNG"
        items = ["EREF+NOTPROVIDED", f"SVWZ+Miete {1 + number % 12:02d}/2026 Whg. {number % 300}"]
    # Each SEPA keyword opens a subfield; a longer value runs on in the next ones (27 characters each).
    subfields = [item[i : i + 27] for item in items for i in range(0, len(item), 27)][:10]
    text = f"{gvc}?00{booking}?10{rng.randrange(100, 9999)}"
    text += "".join(f"?{20 + i}{part}" for i, part in enumerate(subfields))
    text += f"?30{BICS[number % len(BICS)]}?31{_iban(number % 100_003)}?32{name[:27]}"
    if len(name) > 27:
        text += f"?33{name[27:54]}"
    return text + "?34" + ("997" if incoming else "000")


def write_statements(path: Path, lines: int | None = None, min_bytes: int | None = None) -> int:
    """Streams statements to disk until `lines` :61: lines or `min_bytes` bytes; returns the lines written."""
    rng = random.Random(940)
    balances = {account: 100_000_00 for account in ACCOUNTS}
    written = statement = 0
    with open(path, "wb") as out:
        while (lines is None or written < lines) and (min_bytes is None or out.tell() < min_bytes):
            statement += 1
            account = ACCOUNTS[statement % len(ACCOUNTS)]
            count = rng.randrange(20, 181)
            if lines is not None:
                count = min(count, lines - written)
            day = 1 + statement % 28
            opening = balances[account]
            parts = [
                f":20:STMT{statement:010d}",
                f":25:{account[0]}/{account[1]}",
                f":28C:{statement % 366:05d}/001",
                f":60F:{'C' if opening >= 0 else 'D'}2601{day:02d}EUR{_amount(abs(opening))}",
            ]
            for _ in range(count):
                number = written
                incoming = number % 3 != 0
                cents = rng.randrange(1, 250_000_00) if number % 50 else 1_500_00  # some identical lines
                balances[account] += cents if incoming else -cents
                mark = ("C" if incoming else "D") + ("R" if number % 4 == 0 else "")
                customer = "NONREF" if number % 5 == 0 else f"K{number:09d}"
                bank = f"//26{day:02d}{number:010d}" if number % 7 else ""
                entry = f"01{day + 1:02d}" if number % 6 else ""
                tx_type = ("NTRF", "NDDT", "NMSC", "NCHG")[number % 4]
                parts.append(f":61:2601{day:02d}{entry}{mark}{_amount(cents)}{tx_type}{customer}{bank}")
                if number % 11 == 0:
                    parts.append(f"/OCMT/EUR{_amount(cents)}/")  # supplementary details (34x)
                parts.append(":86:" + _wrap(_details(number, rng, incoming)))
                written += 1
            closing = balances[account]
            parts.append(f":62F:{'C' if closing >= 0 else 'D'}2601{day:02d}EUR{_amount(abs(closing))}")
            parts.append(f":64:{'C' if closing >= 0 else 'D'}2601{day:02d}EUR{_amount(abs(closing))}")
            parts.append("-")
            out.write(("\r\n".join(parts) + "\r\n").encode("utf-8"))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help=":61: lines of the first file (0: skip it)")
    parser.add_argument("--gib", type=float, default=1.0, help="size of the second file in GiB (0: skip it)")
    parser.add_argument("--modes", default="fast,stream", help="comma-separated: fast, stream, parse")
    parser.add_argument(
        "--gib-modes", default="fast",
        help="modes for the GiB file (parse keeps every record: about 1.7 GB per million lines)",
    )
    parser.add_argument("--keep", type=Path, help="write the files into this folder and keep them")
    parser.add_argument("--child", choices=_harness.MODES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        source = _harness.source("sources.mt940", "Mt940Source")
        print(json.dumps(_harness.measure(source, args.child, args.file)))
        return
    runs = []
    if args.lines:
        runs.append((f"{args.lines:,} lines", dict(lines=args.lines), args.modes))
    if args.gib:
        runs.append((f"{args.gib:g} GiB", dict(min_bytes=int(args.gib * 2**30)), args.gib_modes))
    with tempfile.TemporaryDirectory(prefix="bench_mt940_") as folder:
        for label, size, modes in runs:
            path = (args.keep or Path(folder)) / f"mt940_{label.replace(',', '').replace(' ', '_')}.sta"
            lines, seconds = _harness.timed_write(lambda: write_statements(path, **size))
            print(f"synthetic MT940 ({label}): {_harness.describe(path, lines, seconds)}", flush=True)
            for mode in filter(None, modes.split(",")):
                _harness.report(label, _harness.run_child(__file__, mode, path), TARGET_LINES_PER_SECOND)
            if not args.keep:
                path.unlink()


if __name__ == "__main__":
    main()
