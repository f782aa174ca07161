"""Benchmark (issue 8): one year of usage for 10k organizations across 8 channels, about 29M rows,
aggregated into channel_spend, checked against its contract and written as 365 date partitions.

Runs the production code path (payrecon.reports.spend.channel_spend and publish_events) in a child
process so that its peak memory (VmHWM) is its own. Usage: python benchmarks/bench_reports.py
[--orgs 10000] [--days 365] [--docs]

`--contracts ROWS` instead times the data-contract checks (issue 9): `validate` of ROWS normalized
bank lines (a statement's worth of dates, every amount distinct, some rows bad) by the vectorised
checks and by great-expectations itself, and checks both quarantine the same rows for the same reasons.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

CHANNELS = ["email", "sms", "viber", "webpush", "mobilepush", "app_inbox", "telegram", "whatsapp"]


def make_usage(orgs: int, days: int, seed: int = 7):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n = orgs * len(CHANNELS) * days
    start = (date(2025, 11, 21) - date(1970, 1, 1)).days
    day = np.repeat(np.arange(start, start + days, dtype=np.int32), orgs * len(CHANNELS))
    org = np.tile(np.repeat(np.arange(orgs), len(CHANNELS)), days)
    channel = np.tile(np.arange(len(CHANNELS), dtype=np.int32), orgs * days)
    quantity = rng.integers(0, 5000, n, dtype=np.int64)
    price_minor = np.array([5, 92, 55, 3, 3, 2, 10, 140], dtype=np.int64)[channel]  # kopecks per message
    amount_units = quantity * price_minor * 100  # ten-thousandths
    org_names = pa.array([f"org-{i:05d}" for i in range(orgs)])
    return pa.table(
        {
            "date": pa.array(day, pa.date32()),
            "org_id": pa.DictionaryArray.from_arrays(pa.array(org, pa.int32()), org_names).cast(pa.string()),
            "channel": pa.DictionaryArray.from_arrays(pa.array(channel), pa.array(CHANNELS)).cast(pa.string()),
            "quantity": pa.array(quantity),
            "currency": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array(["UAH"])).cast(pa.string()),
            "amount": pa.array(amount_units, pa.int64()).cast(pa.decimal128(20, 0)).cast(pa.decimal128(24, 4)),
        }
    )


def child(orgs: int, days: int, docs: bool) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    from payrecon.reports.datasets import MONEY
    from payrecon.reports.publish import publish_events
    from payrecon.reports.spend import channel_spend
    from payrecon.storage import LocalStore

    timings = {}
    t0 = time.perf_counter()
    usage = make_usage(orgs, days)
    # the amount arrives as decimal ten-thousandths scaled up by the generator: bring it to money units
    usage = usage.set_column(5, "amount", pc.divide(usage.column("amount"), pa.scalar(10000, pa.decimal128(5, 0))).cast(MONEY))
    timings["generate_s"] = round(time.perf_counter() - t0, 2)
    rows = usage.num_rows
    with tempfile.TemporaryDirectory() as folder:
        t1 = time.perf_counter()
        spend = channel_spend(usage)
        timings["aggregate_s"] = round(time.perf_counter() - t1, 2)
        del usage
        t2 = time.perf_counter()
        first = spend.column("date")[0].as_py() if spend.num_rows else date.today()
        window = (first, first + timedelta(days=days - 1))
        written = publish_events(LocalStore(folder), "channel_spend", spend, window, str(Path(folder) / "docs") if docs else None)
        timings["check_and_write_s"] = round(time.perf_counter() - t2, 2)
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
    peak = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
    return {"rows_in": rows, "rows_out": spend.num_rows, "partitions": written, "parquet_mb": round(size / 2**20, 1),
            **timings, "aggregate_check_write_s": round(timings["aggregate_s"] + timings["check_and_write_s"], 2),
            "peak_rss_mb": round(peak / 1024)}


def contracts(rows: int, bad_every: int = 1000) -> dict:
    import numpy as np
    import pandas as pd

    from data_contracts import validate
    from sources.records import RECORD_FIELDS

    rng = np.random.default_rng(7)
    days = pd.date_range("2026-01-01", periods=300).strftime("%Y-%m-%d").to_numpy()
    frame = pd.DataFrame({c: pd.array([None] * rows, dtype="str") for c in RECORD_FIELDS})
    frame["record_type"], frame["source_format"], frame["account"] = "bank_line", "camt", "UA213052990000026007233566001"
    frame["booking_date"] = days[rng.integers(0, len(days), rows)]
    frame["value_date"] = frame["booking_date"]
    frame["amount"] = [f"{x / 100:.2f}" for x in rng.integers(1, 10**8, rows)]
    frame["currency"] = "UAH"
    frame["remittance"] = "Оплата за рахунком № 2026-00123 від 12.11.2026, у т.ч. ПДВ 20%"
    frame["line_id"] = [f"{i:032x}" for i in range(rows)]
    bad = np.arange(0, rows, bad_every)
    frame.loc[bad, "booking_date"] = "2026-02-30"
    frame.loc[bad + 1, "amount"] = "1,5"
    frame = frame.astype("str")
    validate(frame.head(3), "normalized_lines", engine="gx")  # imports and contexts made before timing
    result = {"rows": rows}
    outcomes = {}
    for engine in ("auto", "gx"):
        started = time.perf_counter()
        outcomes[engine] = validate(frame, "normalized_lines", engine=engine)
        result[f"{'vectorised' if engine == 'auto' else 'great_expectations'}_s"] = round(time.perf_counter() - started, 3)
    same = outcomes["auto"].quarantined.equals(outcomes["gx"].quarantined) and outcomes["auto"].valid.equals(outcomes["gx"].valid)
    result.update(quarantined=len(outcomes["auto"].quarantined), same_result=bool(same),
                  speedup=round(result["great_expectations_s"] / max(result["vectorised_s"], 1e-6), 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--docs", action="store_true", help="also render great-expectations Data Docs")
    parser.add_argument("--contracts", type=int, metavar="ROWS", help="time the contract checks on ROWS bank lines instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contracts:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        print(json.dumps(contracts(args.contracts), indent=2))
        return
    if args.child:
        print(json.dumps(child(args.orgs, args.days, args.docs)))
        return
    command = [sys.executable, __file__, "--child", "--orgs", str(args.orgs), "--days", str(args.days)] + (["--docs"] if args.docs else [])
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
