"""Benchmark (issue 5): three-way reconciliation of 1M settlement rows.

500k platform card payments, 1M provider rows (500k settlements and their 500k fees) in 1,000
payout batches, and the 1,000 bank lines that received the payouts; runs the production functions
(reconcilers.settlements.link_payments, payouts, link_payouts) in a child process and reports each
stage's seconds and the child's peak memory. Usage: python benchmarks/bench_settlement_matching.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path


def child(rows: int) -> dict:
    import numpy as np
    import pandas as pd

    from reconcilers.settlements import link_payments, link_payouts, payouts

    rng = np.random.default_rng(11)
    n = rows // 2
    cents = rng.integers(100, 500_000, n)
    amounts = [Decimal(int(c)).scaleb(-2) for c in cents]
    fees = [Decimal(int(c * 29 // 1000 + 25)).scaleb(-2) for c in cents]
    ids = [f"pi_{i:09d}" for i in range(n)]
    start = date(2026, 11, 1)
    days = [start + timedelta(days=int(d)) for d in rng.integers(0, 30, n)]
    t0 = time.perf_counter()
    payments = pd.DataFrame({"payment_id": [f"card-{i:09d}" for i in range(n)], "provider": "stripe", "provider_ref": ids,
                             "currency": "EUR", "amount": amounts})
    batch = rng.integers(0, 1000, n)
    settle = pd.DataFrame({"line_id": [f"s{i}" for i in range(n)], "record_type": "settlement", "source_format": "stripe",
                           "bank_ref": [f"txn_{i}" for i in range(n)], "end_to_end_id": ids, "currency": "EUR", "amount": amounts,
                           "booking_date": days})
    fee_rows = settle.assign(line_id=[f"f{i}" for i in range(n)], record_type="fee", amount=[-f for f in fees])
    nets = pd.Series([a - f for a, f in zip(amounts, fees)]).groupby(batch).agg(lambda s: sum(s, Decimal(0)))
    payout_rows = pd.DataFrame({"line_id": [f"p{b}" for b in nets.index], "record_type": "payout", "source_format": "stripe",
                                "bank_ref": [f"po_{b}" for b in nets.index], "end_to_end_id": None, "currency": "EUR",
                                "amount": [-v for v in nets.values], "booking_date": [start + timedelta(days=int(b % 30)) for b in nets.index]})
    rows_frame = pd.concat([settle, fee_rows, payout_rows], ignore_index=True)
    bank = pd.DataFrame({"line_id": [f"b{b}" for b in nets.index], "booking_date": [start + timedelta(days=int(b % 30) + 1) for b in nets.index],
                         "currency": "EUR", "amount": list(nets.values), "counterparty_name": "STRIPE PAYMENTS EUROPE LTD",
                         "remittance": "STRIPE PAYOUT"})
    generate = time.perf_counter() - t0

    t1 = time.perf_counter()
    links = link_payments(payments, rows_frame)
    t2 = time.perf_counter()
    found = payouts(rows_frame)
    received = link_payouts(found, bank)
    t3 = time.perf_counter()
    peak = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
    return {"settlement_rows": len(settle) + len(fee_rows), "payments": n, "payouts": len(found), "generate_s": round(generate, 1),
            "link_payments_s": round(t2 - t1, 2), "payments_linked": len(links), "link_payouts_s": round(t3 - t2, 2),
            "payouts_linked": len(received), "reconcile_s": round(t3 - t1, 2), "peak_rss_mb": round(peak / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rows)))
        return
    out = subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    print(json.dumps(json.loads(out.stdout.strip().splitlines()[-1]), indent=2))


if __name__ == "__main__":
    main()
