"""The nightly flow's steps as the plain service calls tasks/pipeline.py makes inside Prefect, for
tests that start several nightlies at once or kill one: no Prefect server, one engine per caller.

`ledger_snapshot` is what "the same ledger" means in those tests: every table's rows, without the
wall-clock columns (when a row was written differs between runs; what it says must not).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import tqdm
from sqlalchemy import DateTime, Engine, delete, insert, select

from ledger import schema
from ledger.db import create_ledger_engine
from payrecon.mail import Mailer
from payrecon.services.ingest import FileOutcome, expand_paths, ingest_file
from payrecon.services.notifications import FlagChanges, NotificationSummary, current_flags, send_notifications, update_flags
from payrecon.services.reconcile import ReconcileSummary, reconcile
from payrecon.services.reports import ReportSummary, build_reports
from payrecon.settings import Settings
from payrecon.storage import open_store
from reconcilers.plan import MatchPlan
from sources.registry import build_sources

STAGES = ("ingest", "reconcile", "reports", "notify")

# great-expectations' progress bars make tqdm create a multiprocessing lock on first use. Made here,
# in the process that forks the tests' nightlies, a nightly killed with SIGKILL leaks no semaphore.
tqdm.tqdm.get_lock()


@dataclass
class NightlySteps:
    """One nightly run's context: the settings, its own engine, and what each step returned."""

    settings: Settings
    engine: Engine
    mailer: Mailer | None = None
    files: list[FileOutcome] = field(default_factory=list)
    reconciled: list[ReconcileSummary] = field(default_factory=list)
    reports: list[ReportSummary] = field(default_factory=list)
    notified: list[tuple[NotificationSummary, FlagChanges]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mailer is None and self.settings.smtp is not None:
            self.mailer = Mailer(self.settings.smtp)
        self.raw_store = open_store(self.settings.storage_url)
        self.report_store = open_store(self.settings.reports_url)
        self.sources = build_sources(self.settings.privat24_columns)

    def inbox(self) -> list[Path]:
        return expand_paths([self.settings.inbox])

    def ingest(self, path: Path) -> FileOutcome:
        outcome = ingest_file(self.engine, self.raw_store, self.sources, path)
        self.files.append(outcome)
        return outcome

    def reconcile(self, as_of: date) -> ReconcileSummary:
        summary = reconcile(self.engine, MatchPlan.from_settings(self.settings), as_of)
        self.reconciled.append(summary)
        return summary

    def build_reports(self, as_of: date) -> ReportSummary:
        s = self.settings
        summary = build_reports(self.engine, self.report_store, as_of, s.report_lookback_days, calendar=s.calendar,
                                suspense_days=s.suspense_days, docs_dir=str(s.data_docs), settlement_days=s.settlement_days,
                                payout_days=s.payout_days)
        self.reports.append(summary)
        return summary

    def notify(self, as_of: date) -> tuple[NotificationSummary, FlagChanges]:
        s = self.settings
        flags = current_flags(self.engine, as_of, s.calendar, s.suspense_days, s.settlement_days, s.payout_days)
        changes = update_flags(self.engine, flags, as_of, s.calendar, s.escalate_days)
        summary = send_notifications(self.engine, self.mailer, s.finance_emails, flags, changes.escalated)
        self.notified.append((summary, changes))
        return summary, changes

    def run(self, as_of: date, stages: tuple[str, ...] = STAGES, on_stage=None) -> None:
        """The whole nightly in the flow's order; `on_stage(name)` is called as each step starts."""
        for stage in stages:
            if stage == "ingest":
                for path in self.inbox():
                    if on_stage:
                        on_stage(f"ingest {path.name}")
                    self.ingest(path)
                continue
            if on_stage:
                on_stage(stage)
            {"reconcile": self.reconcile, "reports": self.build_reports, "notify": self.notify}[stage](as_of)


def run_in_child(env: dict[str, str], as_of: date, markers: str) -> None:
    """A whole nightly in a (forked) child process, appending "<seconds> <stage>" to the file
    `markers` as each step starts and "<seconds> done" at the end, so a test can kill it anywhere."""
    import time

    settings = Settings.from_env(env)
    engine = create_ledger_engine(settings.database_url)
    started = time.perf_counter()
    with open(markers, "a", encoding="utf-8") as out:

        def mark(stage: str) -> None:
            out.write(f"{time.perf_counter() - started:.3f} {stage}\n")
            out.flush()

        mark("start")
        NightlySteps(settings, engine).run(as_of, on_stage=mark)
        mark("done")
    engine.dispose()


def table_rows(engine: Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {name: [dict(r._mapping) for r in conn.execute(select(table))] for name, table in schema.metadata.tables.items()}


def restore(engine: Engine, rows: dict[str, list[dict]]) -> None:
    """Put every table back to `rows` (from `table_rows`): faster than a new database."""
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(delete(table))
        for table in schema.metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(insert(table), rows[table.name])


class SmtpInbox:
    """A real SMTP server on loopback; remembers every message it received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((message["To"], message["Subject"], message.get_content()))
        return "250 OK"

    def take(self) -> Counter:
        with self.lock:
            taken, self.messages = Counter(self.messages), []
        return taken


def ledger_snapshot(engine: Engine, leave_out: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), leaving out the columns that record when a row was written
    and the `leave_out` ones ("table.column")."""
    snapshot = {}
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            columns = [c for c in table.columns if not isinstance(c.type, DateTime) and not (c.primary_key and c.autoincrement is True)
                       and f"{name}.{c.name}" not in leave_out]
            rows = conn.execute(select(*columns)).all()
            snapshot[name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


def snapshot_differences(got: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> list[str]:
    """What differs, table by table, in words short enough for an assertion message."""
    problems = []
    for name in sorted(set(got) | set(expected)):
        have, want = set(got.get(name, [])), set(expected.get(name, []))
        if len(got.get(name, [])) != len(expected.get(name, [])) or have != want:
            problems.append(f"{name}: {len(got.get(name, []))} rows, expected {len(expected.get(name, []))}; "
                            f"extra {sorted(have - want, key=repr)[:2]}, missing {sorted(want - have, key=repr)[:2]}")
    return problems


def report_tables(root: Path) -> dict[str, object]:
    """Each report dataset read back whole with pandas (which fails on a damaged partition), as
    sorted rows without the wall-clock columns, plus the list of partition files."""
    import pandas as pd
    import pyarrow as pa

    from payrecon.reports.datasets import DATASETS

    # Readers skip dot-files (pyarrow, DuckDB's *.parquet globs): a ".tmp-" file is not a partition.
    visible = (p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    tables: dict[str, object] = {"files": sorted(p.relative_to(root).as_posix() for p in visible)}
    for name, dataset in DATASETS.items():
        folder = root / name
        if not folder.is_dir():
            continue
        frame = pd.read_parquet(folder)
        keep = ["date", *(c.name for c in dataset.columns if not pa.types.is_timestamp(c.type))]
        tables[name] = sorted(tuple(str(v) for v in row) for row in frame[keep].itertuples(index=False))
    return tables
