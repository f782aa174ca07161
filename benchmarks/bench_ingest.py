"""End-to-end ingest of large statements: store, stream, mask, validate, load (records/s, peak RSS).

    .venv/bin/python benchmarks/bench_ingest.py [--camt-entries 200000] [--mt940-lines 500000]
                                                [--gib 1.0] [--gib-format camt] [--postgres URL]

Writes the camt.053 of bench_camt.py and the MT940 of bench_mt940.py, and a file of about --gib GiB,
then ingests each (payrecon.services.ingest.ingest_file) into a fresh workspace with a SQLite ledger,
and with --postgres (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) into a fresh database on
that server as well. Each ingest runs in its own child process, so its peak RSS (VmHWM) is its own;
the figure "after imports" is the process with payrecon, great-expectations and the sources loaded,
before the file is read. Figures are single-core; the files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402


def _child(path: Path, database_url: str, home: Path) -> dict:
    os.environ["PAYRECON_HOME"] = str(home)
    os.environ["PAYRECON_DATABASE_URL"] = database_url
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    sys.path.insert(0, str(_harness.REPO))
    import pandas as pd

    from data_contracts import validate
    from data_contracts.contract import columns_of
    from payrecon.services.ingest import ingest_file
    from payrecon.workspace import Workspace

    workspace = Workspace()
    workspace.engine.dispose()
    validate(pd.DataFrame({c: pd.array(["x"], dtype="str") for c in columns_of("normalized_lines")}), "normalized_lines")
    baseline = _harness.peak_rss_kib()
    cpu_started, started = time.process_time(), time.perf_counter()
    outcome = ingest_file(workspace.engine, workspace.raw_store, workspace.sources, path)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    count = outcome.records_loaded + outcome.rows_quarantined
    return {
        "mode": "ingest",
        "records": count,
        "status": outcome.status,
        "seconds": round(seconds, 2),
        "lines_per_second": round(count / seconds) if seconds else None,
        "cpu_seconds": round(cpu_seconds, 2),
        "lines_per_cpu_second": round(count / cpu_seconds) if cpu_seconds else None,
        "peak_rss_mib": round(_harness.peak_rss_kib() / 1024, 1),
        "rss_before_mib": round(baseline / 1024, 1),
    }


def _fresh_postgres(url: str) -> str:
    import sqlalchemy

    name = f"payrecon_bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(url: str, database: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--camt-entries", type=int, default=200_000, help="entries of the camt.053 (0: skip it)")
    parser.add_argument("--mt940-lines", type=int, default=500_000, help=":61: lines of the MT940 (0: skip it)")
    parser.add_argument("--gib", type=float, default=1.0, help="size of the large file in GiB (0: skip it)")
    parser.add_argument("--gib-format", choices=("camt", "mt940"), default="camt")
    parser.add_argument("--postgres", help="also ingest into a fresh database on this PostgreSQL server")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.database, args.home)))
        return
    import bench_camt
    import bench_mt940

    runs = []
    if args.camt_entries:
        runs.append((f"camt.053 {args.camt_entries:,} entries", "xml", lambda p: bench_camt.write_statement(p, entries=args.camt_entries)))
    if args.mt940_lines:
        runs.append((f"MT940 {args.mt940_lines:,} lines", "sta", lambda p: bench_mt940.write_statements(p, lines=args.mt940_lines)))
    if args.gib:
        size = int(args.gib * 2**30)
        writer = (lambda p: bench_camt.write_statement(p, min_bytes=size)) if args.gib_format == "camt" else (
            lambda p: bench_mt940.write_statements(p, min_bytes=size))
        runs.append((f"{args.gib_format} {args.gib:g} GiB", "xml" if args.gib_format == "camt" else "sta", writer))
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as folder:
        for label, suffix, write in runs:
            path = Path(folder) / f"statement.{suffix}"
            lines, seconds = _harness.timed_write(lambda: write(path))
            print(f"{label}: {_harness.describe(path, lines, seconds)}", flush=True)
            targets = [("SQLite", f"sqlite:///{folder}/ledger-{uuid.uuid4().hex[:6]}.db", None)]
            if args.postgres:
                database = _fresh_postgres(args.postgres)
                targets.append(("PostgreSQL", database, database.rsplit("/", 1)[1]))
            for name, url, database in targets:
                home = Path(folder) / f"home-{uuid.uuid4().hex[:6]}"
                output = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), "--database", url, "--home", str(home)],
                    check=True, capture_output=True, text=True,
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                _harness.report(f"{label} into {name}", result)
                if database:
                    _drop_postgres(args.postgres, database)
            path.unlink()


if __name__ == "__main__":
    main()
