"""Throughput and peak memory of the settlement-report sources on synthetic files.

    .venv/bin/python benchmarks/bench_settlements.py [--rows 1000000]

Writes a PayPal STL report and an Adyen settlement details report holding `--rows` transaction rows
between them (half each): the STL in two sections with footers that add up, mixing payments with
fees, refunds, chargebacks, conversions and a withdrawal; the SDR in batches of 1,000 rows, each
closed by its MerchantPayout. Each file is then read in fresh processes, so each peak RSS (VmHWM,
else ru_maxrss) belongs to one source and one way of reading:

- stream: `source.iter_records(path)`, records built and dropped as they come;
- parse:  `source.parse(path)`, every record kept in the ParseResult, and checked: every footer and
  batch ControlCheck must pass.

Rows per second counts transaction rows (a row with a fee gives two records). CPU seconds are
reported too: on a shared machine they vary less than the wall clock.
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

STL_CH = (
    '"CH","Transaction ID","Invoice ID","PayPal Reference ID","PayPal Reference ID Type","Transaction Event Code",'
    '"Transaction Initiation Date","Transaction Completion Date","Transaction  Debit or Credit","Gross Transaction Amount",'
    '"Gross Transaction Currency","Fee Debit or Credit","Fee Amount","Fee Currency","Custom Field","Consumer ID",'
    '"Payment Tracking ID","Store ID","Bank Reference ID","Credit Transactional Fee","Credit Promotional Fee","Credit Term"\n'
)
#: (event code, gross direction, fee direction) by row number modulo 20.
STL_MIX = {0: ("T1107", "DR", "CR"), 7: ("T1201", "DR", ""), 13: ("T0200", "DR", ""), 19: ("T0400", "DR", "")}

SDR_HEADER = (
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,"
    "Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),"
    "Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,"
    "Modification Merchant Reference,Batch Number,Reserved4,Reserved5,Reserved6,Reserved7,Reserved8,Reserved9,Reserved10\n"
)
SDR_BATCH = 1000


def _cents(value: int) -> str:
    return f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"


def write_stl(path: Path, rows: int) -> None:
    """Streams an STL report with `rows` SB rows in two sections (USD), footers computed on the way."""
    report = [0, 0, 0, 0]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write('"RH","2026/01/13 02:10:44 -0800","A","BENCHACCOUNT1","009",""\n"FH","01"\n')
        halves = (rows // 2, rows - rows // 2)
        number = 0
        for section, count in enumerate(halves, start=1):
            totals = [0, 0, 0, 0]  # gross CR, gross DR, fee CR, fee DR (minor units)
            out.write(f'"SH","2026/01/12 00:00:00 -0800","2026/01/12 23:59:59 -0800","BENCHACCOUNT{section}",""\n')
            out.write(STL_CH)
            for _ in range(count):
                code, gross_dir, fee_dir = STL_MIX.get(number % 20, ("T0006", "CR", "DR"))
                gross = 500 + number % 250_000
                fee = 30 + gross * 29 // 1000 if fee_dir else 0
                totals[0 if gross_dir == "CR" else 1] += gross
                if fee_dir:
                    totals[2 if fee_dir == "CR" else 3] += fee
                moment = f"2026/01/12 {number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d} -0800"
                out.write(
                    f'"SB","{number:017d}","2026-{number % 99_999:05d}","EC-{number:017d}","ODR","{code}",{moment},{moment},'
                    f'"{gross_dir}",{gross},"USD","{fee_dir}",{fee if fee_dir else ""},"{"USD" if fee_dir else ""}",'
                    f'"org-{number % 5000}","PAYER{number % 100_000:06d}","","","","","",""\n'
                )
                number += 1
            out.write(f'"SF","USD",{totals[0]},{totals[1]},{totals[2]},{totals[3]},"CR",0,"CR",0,"CR",0,"CR",0,"CR",0,"CR",0\n')
            out.write(f'"SC",{count}\n')
            report = [a + b for a, b in zip(report, totals)]
        out.write(f'"RF","USD",{report[0]},{report[1]},{report[2]},{report[3]},"CR",0,"CR",0,"CR",0,"CR",0,"CR",0,"CR",0\n')
        out.write(f'"RC",{rows}\n"FF",{rows + 12}\n')


def write_sdr(path: Path, rows: int) -> None:
    """Streams an SDR with `rows` rows: batches of SDR_BATCH-1 journal rows and their MerchantPayout."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(SDR_HEADER)
        written, batch = 0, 1000
        while written < rows:
            in_batch = min(SDR_BATCH, rows - written)
            net_total = 0
            for index in range(in_batch - 1):
                number = written + index
                gross = 500 + number % 90_000
                fees = 12 + gross // 50
                created = f"2026-11-{1 + number % 28:02d} {number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
                if number % 10 == 9:  # a refund: Net Debit includes the fees
                    net_total -= gross + fees
                    journal, gdebit, gcredit, ndebit, ncredit = "Refunded", _cents(gross), "", _cents(gross + fees), ""
                else:
                    net_total += gross - fees
                    journal, gdebit, gcredit, ndebit, ncredit = "Settled", "", _cents(gross), "", _cents(gross - fees)
                out.write(
                    f"PayreconDemo,PayreconDemoEUR,PSP{number:013d},card-2026-{number:07d},visa,{created},CET,{journal},"
                    f"MOD{number:013d},EUR,{gdebit},{gcredit},1,EUR,{ndebit},{ncredit},{_cents(fees // 3)},{_cents(fees // 3)},"
                    f"{_cents(fees // 6)},{_cents(fees - 2 * (fees // 3) - fees // 6)},visacredit,,{batch},,,,,,,\n"
                )
            out.write(
                f'PayreconDemo,PayreconDemoEUR,,,,2026-11-28 18:00:00,CET,MerchantPayout,"TX{batch}XT batch {batch}, PayreconDemoEUR",'
                f",,,,EUR,{_cents(net_total)},,,,,,,,{batch},,,,,,,\n"
            )
            written += in_batch
            batch += 1


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(kind: str, mode: str, path: Path, rows: int) -> dict:
    """Runs in a child process: read one file one way, timed, with its peak RSS."""
    sys.path.insert(0, str(REPO))
    from sources.adyen_reports import AdyenSettlementSource
    from sources.paypal_reports import PaypalSettlementSource

    source = PaypalSettlementSource() if kind == "paypal_stl" else AdyenSettlementSource()
    baseline_kib = peak_rss_kib()
    started, cpu_started = time.perf_counter(), time.process_time()
    failed = checks = None
    if mode == "parse":
        result = source.parse(path)
        records, rows = len(result.records), result.transactions_found
        checks, failed = len(result.checks), sum(not c.passed for c in result.checks)
    else:
        records = sum(1 for _ in source.iter_records(path))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "source": kind, "mode": mode, "rows": rows, "records": records, "checks": checks, "failed_checks": failed,
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "rows_per_second": round(rows / seconds),
        "rows_per_cpu_second": round(rows / cpu), "peak_rss_mib": round(peak_rss_kib() / 1024, 1),
        "rss_before_mib": round(baseline_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transaction rows in both files together")
    parser.add_argument("--child", choices=("paypal_stl", "adyen_sdr"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("stream", "parse"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--file-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.mode, args.file, args.file_rows)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_settlements_") as folder:
        files = {"paypal_stl": Path(folder) / "STL-20260112.01.009.CSV", "adyen_sdr": Path(folder) / "settlement_detail_report_batch.csv"}
        counts = {"paypal_stl": args.rows // 2, "adyen_sdr": args.rows - args.rows // 2}
        for kind, writer in (("paypal_stl", write_stl), ("adyen_sdr", write_sdr)):
            started = time.perf_counter()
            writer(files[kind], counts[kind])
            size_mib = os.path.getsize(files[kind]) / 2**20
            print(f"synthetic {kind}: {counts[kind]} rows, {size_mib:.0f} MiB, written in {time.perf_counter() - started:.1f} s")
        totals: dict[str, list[float]] = {}
        for mode in ("stream", "parse"):
            for kind, path in files.items():
                command = [sys.executable, __file__, "--child", kind, "--mode", mode, "--file", str(path), "--file-rows", str(counts[kind])]
                result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
                rows, seconds = totals.setdefault(mode, [0.0, 0.0])
                totals[mode] = [rows + result["rows"], seconds + result["seconds"]]
                checks = "" if result["checks"] is None else f"; {result['checks']} checks, {result['failed_checks']} failed"
                print(
                    f"{result['source']:>10} {mode:>6}: {result['rows']} rows -> {result['records']} records in "
                    f"{result['seconds']} s ({result['cpu_seconds']} s CPU) = {result['rows_per_second']} rows/s "
                    f"({result['rows_per_cpu_second']} per CPU second){checks}; peak RSS {result['peak_rss_mib']} MiB "
                    f"(after imports {result['rss_before_mib']} MiB)"
                )
        for mode, (rows, seconds) in totals.items():
            print(f"{'together':>10} {mode:>6}: {int(rows)} rows in {seconds:.1f} s = {rows / seconds:.0f} rows/s")


if __name__ == "__main__":
    main()
