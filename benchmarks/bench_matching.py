"""Throughput and peak memory of the matching engine: N bank lines against 200k open invoices of
100k organizations.

    .venv/bin/python benchmarks/bench_matching.py [--sizes 10000 100000 1000000] [--orgs 100000]

The data comes from the evaluation world (tests/matching_eval.py, `World.stream`): a realistic mix
of invoice payments in every spelling, top-ups by tax ID and known account, ФОП payments, foreign
transfers, transit accounts, conflicts, interest, refunds and returns. Each payer's bank shows the
same registered name and the same account or two most of the time, as real statements do.

The parent generates each data set once and pickles it; a fresh child process per size loads it and
runs `reconcilers.engine.match` once, so each peak RSS (resource.getrusage ru_maxrss) belongs to one
run and includes the inputs it was given. Reported per size: seconds, peak RSS, the RSS the inputs
alone took, microseconds per line, and the engine's own per-step timings.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate(path: Path, n_lines: int, n_orgs: int, seed: int) -> dict:
    sys.path.insert(0, str(REPO))
    from tests.matching_eval import World

    started = time.perf_counter()
    world = World(n_orgs=n_orgs, seed=seed, invoices_per_org=(2, 2), status_weights=(0.94, 0.06, 0, 0))  # all open
    data = world.stream(n_lines)
    with open(path, "wb") as out:
        pickle.dump(data, out, protocol=5)
    open_invoices = int(data.invoices["status"].isin(["open", "partially_paid"]).sum())
    return {"seconds": round(time.perf_counter() - started, 1), "organizations": len(data.organizations),
            "open_invoices": open_invoices, "lines": len(data.lines)}


def measure(path: Path) -> dict:
    """Runs in a child process: load one data set, match it once."""
    sys.path.insert(0, str(REPO))
    from reconcilers.engine import match
    from reconcilers.plan import MatchPlan

    with open(path, "rb") as handle:
        data = pickle.load(handle)
    inputs_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = match(data.lines, data.organizations, data.organization_ibans, data.invoices, MatchPlan(),
                   organization_names=data.organization_names)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = result.decisions["status"].value_counts().to_dict()
    truth = data.labels.merge(result.decisions[["line_id", "status", "org_id"]], on="line_id")
    credited = truth[truth["status"] == "matched"]
    return {
        "lines": len(data.lines),
        "seconds": round(seconds, 2),
        "us_per_line": round(seconds / len(data.lines) * 1e6, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "inputs_rss_mib": round(inputs_kib / 1024),
        "status": status,
        "wrong_credits": int((credited["org_id"] != credited["true_org"]).sum()),
        "allocations": len(result.allocations),
        "learned": len(result.learned),
        "steps": result.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_matching_") as folder:
        rows = []
        for size in args.sizes:
            path = Path(folder) / f"lines_{size}.pkl"
            made = generate(path, size, args.orgs, args.seed)
            print(f"generated {made['lines']} lines, {made['organizations']} organizations, "
                  f"{made['open_invoices']} open invoices in {made['seconds']} s", flush=True)
            output = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True,
                                    text=True).stdout
            result = json.loads(output.strip().splitlines()[-1])
            rows.append(result)
            print(f"{result['lines']:>9} lines: {result['seconds']:>6} s ({result['us_per_line']} µs/line), "
                  f"peak RSS {result['peak_rss_mib']} MiB (inputs {result['inputs_rss_mib']} MiB), "
                  f"{result['status']}, wrong credits {result['wrong_credits']}", flush=True)
            print(f"           steps (s): {result['steps']}", flush=True)
        if len(rows) > 1:
            first, last = rows[0], rows[-1]
            factor = last["lines"] / first["lines"]
            print(f"{factor:.0f}x the lines took {last['seconds'] / first['seconds']:.1f}x the time "
                  f"({first['us_per_line']} -> {last['us_per_line']} µs per line)")


if __name__ == "__main__":
    main()
