"""Throughput and peak memory of the PDF statement source on a long generated statement.

    .venv/bin/python benchmarks/bench_pdf.py [--pages 50]

Draws a PrivatBank-style statement (tests/pdf_factory.py: Дебет/Кредит, running balance, multi-line
descriptions and counterparty cells, header and footer on every page) of about N pages, then parses
it in a fresh process, so the peak RSS (resource.getrusage ru_maxrss) belongs to the parse alone.
Needs the test extras (fpdf2, matplotlib) to draw the file.
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
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINES_PER_PAGE = 23  # statement lines on a page of the generated layout, about


def measure(path: Path) -> dict:
    """Runs in a child process: one parse, timed, with its peak RSS."""
    sys.path.insert(0, str(REPO))
    from sources.pdf_statement import PdfStatementSource

    source = PdfStatementSource()
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = source.parse(path)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": len(result.records),
        "pages": max(record.extra["page"] for record in result.records),
        "check_passed": all(check.passed for check in result.checks),
        "seconds": round(seconds, 2),
        "lines_per_second": round(len(result.records) / seconds),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_before_mib": round(baseline_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    sys.path.insert(0, str(REPO))
    from tests import pdf_factory

    with tempfile.TemporaryDirectory(prefix="bench_pdf_") as folder:
        path = Path(folder) / "statement.pdf"
        started = time.perf_counter()
        spec = pdf_factory.ukrainian_spec(count=args.pages * LINES_PER_PAGE, start=date(2026, 1, 1), end=date(2026, 12, 31))
        pages = pdf_factory.write_ukrainian_statement(path, spec)
        size_kib = os.path.getsize(path) / 1024
        print(f"generated statement: {len(spec.transactions)} lines on {pages} pages, {size_kib:.0f} KiB, "
              f"drawn in {time.perf_counter() - started:.1f} s")
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True
        ).stdout
        result = json.loads(output)
        print(
            f" parse: {result['records']} lines ({result['pages']} pages) in {result['seconds']} s = "
            f"{result['lines_per_second']} lines/s, {result['pages'] / result['seconds']:.1f} pages/s; "
            f"peak RSS {result['peak_rss_mib']} MiB (after imports {result['rss_before_mib']} MiB); "
            f"running balance check passed: {result['check_passed']}"
        )


if __name__ == "__main__":
    main()
