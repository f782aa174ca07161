"""Shared by the bench_*.py scripts: time one way of reading a file in a fresh child process and
report lines per second (wall clock, and per CPU-second of the child, which other load on the
machine disturbs less) and the child's peak RSS.

Each measurement runs in its own `python bench_x.py --child MODE --file PATH` process, so the peak
resident set (VmHWM from /proc/self/status, else ru_maxrss) belongs to that one run and nothing
else: not the generator, not an earlier run. All figures are single-process, single-thread.

Modes:
- stream: `source.iter_records(path)`, every record built and dropped as it comes: the memory a
  caller that streams (the 1 GB case) needs;
- parse:  `source.parse(path)`, every record kept in the ParseResult (memory grows with the file);
- fast:   `source.stream(path)`, the columnar batches of the fast readers (sources/fast_*.py),
  each dropped once counted: what ingest reads a large statement with;
- baseline: a plain loop the bench script gives (bench_camt.py: lxml iterparse reading five values
  of each entry), no payrecon code: how fast this machine is, for comparing figures across machines.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
MODES = ("stream", "parse", "fast", "baseline")


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


def source(module: str, name: str) -> Callable[[], object]:
    """A maker of the source class `name` of payrecon's `module` (imported in the child only)."""

    def make() -> object:
        import importlib

        sys.path.insert(0, str(REPO))
        return getattr(importlib.import_module(module), name)()

    return make


def measure(make_source: Callable[[], object], mode: str, path: Path,
            baseline: Callable[[Path], int] | None = None) -> dict:
    """In the child: read the file one way, timed; returns the figures as a dict."""
    source = make_source()
    baseline_kib = peak_rss_kib()
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "baseline":
        if baseline is None:
            raise SystemExit("this benchmark has no baseline loop")
        count = baseline(path)
    elif mode == "parse":
        result = source.parse(path)
        count = len(result.records)
    elif mode == "fast":
        count = 0
        for batch in source.stream(path).batches():
            count += len(batch)
    else:
        count = 0
        for _ in source.iter_records(path):
            count += 1
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "mode": mode,
        "records": count,
        "seconds": round(seconds, 2),
        "lines_per_second": round(count / seconds) if seconds else None,
        "cpu_seconds": round(cpu_seconds, 2),
        "lines_per_cpu_second": round(count / cpu_seconds) if cpu_seconds else None,
        "peak_rss_mib": round(peak_rss_kib() / 1024, 1),
        "rss_before_mib": round(baseline_kib / 1024, 1),
        "load_average": round(os.getloadavg()[0], 2),  # the machine's 1-minute load as the run ended
    }


def run_child(script: str, mode: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, script, "--child", mode, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(label: str, result: dict, target: int | None = None) -> None:
    verdict = ""
    if target:
        verdict = "  (target {:,}/s: {})".format(target, "met" if result["lines_per_second"] >= target else "NOT met")
    cpu = ""
    if "lines_per_cpu_second" in result:
        cpu = f" ({result['lines_per_cpu_second']:,} per CPU-second)"
    if "load_average" in result:
        verdict += f"  [load average {result['load_average']}]"
    print(
        f"  {label} {result['mode']:>6}: {result['records']:,} lines in {result['seconds']} s = "
        f"{result['lines_per_second']:,} lines/s{cpu}; peak RSS {result['peak_rss_mib']} MiB "
        f"(after imports {result['rss_before_mib']} MiB){verdict}",
        flush=True,
    )


def describe(path: Path, lines: int, seconds: float) -> str:
    size = os.path.getsize(path)
    return f"{lines:,} lines, {size / 2**20:,.0f} MiB ({size:,} bytes), written in {seconds:.1f} s"


def timed_write(write: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    lines = write()
    return lines, time.perf_counter() - started
