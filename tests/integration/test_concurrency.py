"""Nightly runs started at once on PostgreSQL end with the ledger of one run (PRODUCT.md: "nothing is
counted twice: ... concurrent runs").

Every run has its own engine, as separate workers would. The first test starts three whole nightlies
(ingest, match and credit, reports, notifications) in three processes at the same moment. The
property test drives random interleavings with threads: each worker ingests the inbox's files in
its own order (sometimes one twice), then reconciles and notifies, sometimes again; workers start
a few milliseconds apart and pause a random moment before each SQL statement, so their statements
interleave differently in every example. Each ends compared with a sequential run of the same
workspace: every table (wall-clock columns aside), the emails the SMTP server received, the flags
raised (one Prefect event each) and the credits the runs' summaries count.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from ledger.db import create_ledger_engine, upgrade
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.settings import Settings
from payrecon.storage import LocalStore
from tests.conftest import fresh_postgres_url
from tests.integration.test_notifications import free_port
from tests.nightly_services import NightlySteps, SmtpInbox, ledger_snapshot, report_tables, restore, snapshot_differences, table_rows

pytestmark = pytest.mark.postgres
FINANCE = "finance@payrecon.test"
#: The property test runs examples for this long (each takes one to three seconds), at least
#: MIN_EXAMPLES; PAYRECON_TEST_INTERLEAVING_SECONDS=600 soaks.
BUDGET_SECONDS = int(os.environ.get("PAYRECON_TEST_INTERLEAVING_SECONDS", "8"))
MIN_EXAMPLES = 4


@dataclass
class Demo:
    url: str  # a ledger reset to its state after the demo's billing exports were imported
    home: Path  # its inbox and raw files
    imported: dict[str, list[dict]]  # every table's rows after the import
    smtp: SmtpInbox
    smtp_port: int

    def reset(self) -> None:
        """Back to the imported state (much faster than a new database per example)."""
        engine = create_ledger_engine(self.url)
        restore(engine, self.imported)
        engine.dispose()

    def settings(self, reports: Path) -> Settings:
        return Settings.from_env({
            "PAYRECON_HOME": str(self.home), "PAYRECON_DATABASE_URL": self.url, "PAYRECON_REPORTS_URL": str(reports),
            "PAYRECON_SMTP_HOST": "127.0.0.1", "PAYRECON_SMTP_PORT": str(self.smtp_port), "PAYRECON_SMTP_SECURITY": "none",
            "PAYRECON_FINANCE_EMAILS": FINANCE,
        })


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    url = fresh_postgres_url()
    home = tmp_path_factory.mktemp("demo")
    engine = create_ledger_engine(url)
    upgrade(engine)
    paths = write_demo_files(home)
    for kind in IMPORT_ORDER:
        import_export(engine, LocalStore(home / "objects"), kind, paths[kind])
    imported = table_rows(engine)
    engine.dispose()
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Demo(url, home, imported, inbox, controller.port)
    controller.stop()


@dataclass
class Outcome:
    snapshot: dict
    emails: Counter
    raised: int  # flags raised, i.e. payrecon.flag.raised events emitted
    credits: int  # credits the runs' summaries count
    topups: int  # billing notifications the runs' summaries count as sent


def _outcome(engine, runs: list[NightlySteps], emails: Counter) -> Outcome:
    return Outcome(
        snapshot=ledger_snapshot(engine),
        emails=emails,
        raised=sum(len(changes.raised) for run in runs for _, changes in run.notified),
        credits=sum(r.credits for run in runs for r in run.reconciled),
        topups=sum(n.topups_sent for run in runs for n, _ in run.notified),
    )


@pytest.fixture(scope="module")
def baseline(demo, tmp_path_factory) -> tuple[Outcome, dict]:
    """One nightly, alone; then a second one, which must change nothing and send nothing."""
    demo.reset()
    engine = create_ledger_engine(demo.url)
    reports = tmp_path_factory.mktemp("baseline-reports")
    try:
        run = NightlySteps(demo.settings(reports), engine)
        run.run(DEMO_DAY)
        outcome = _outcome(engine, [run], demo.smtp.take())
        assert outcome.credits == 23 and outcome.raised > 0 and outcome.topups == 29, "the demo changed: adjust this test"
        NightlySteps(demo.settings(reports), engine).run(DEMO_DAY, stages=("ingest", "reconcile", "notify"))
        assert ledger_snapshot(engine) == outcome.snapshot and not demo.smtp.take()
        return outcome, report_tables(reports)
    finally:
        engine.dispose()


def _assert_same(got: Outcome, expected: Outcome) -> None:
    assert not snapshot_differences(got.snapshot, expected.snapshot), snapshot_differences(got.snapshot, expected.snapshot)
    assert got.emails == expected.emails, (
        f"emails sent: {sum(got.emails.values())}, one run sends {sum(expected.emails.values())}; "
        f"doubled: {[k[:2] for k, n in got.emails.items() if n > 1][:3]}"
    )
    assert (got.raised, got.credits, got.topups) == (expected.raised, expected.credits, expected.topups)


# --- three whole nightlies in three processes, started at once -------------------------------------


def _nightly_process(settings: Settings, start: "multiprocessing.synchronize.Barrier", results) -> None:
    engine = create_ledger_engine(settings.database_url)
    run = NightlySteps(settings, engine)
    start.wait(60)
    try:
        run.run(DEMO_DAY)
        results.put((sum(r.credits for r in run.reconciled), sum(n.topups_sent for n, _ in run.notified),
                     sum(len(c.raised) for _, c in run.notified), None))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put((0, 0, 0, f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


def test_three_nightlies_started_at_once_credit_and_notify_once(demo, baseline, tmp_path):
    expected, expected_reports = baseline
    demo.reset()
    reports = tmp_path / "reports"
    settings = demo.settings(reports)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.nightly_services", "great_expectations"])
    start, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_nightly_process, args=(settings, start, results)) for _ in range(3)]
    try:
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(30)
        assert [o[3] for o in outcomes] == [None] * 3
        engine = create_ledger_engine(demo.url)
        got = Outcome(ledger_snapshot(engine), demo.smtp.take(), *(sum(o[i] for o in outcomes) for i in (2, 0, 1)))
        engine.dispose()
        _assert_same(got, expected)
        assert report_tables(reports) == expected_reports
    finally:
        for worker in workers:
            worker.kill()


# --- random interleavings --------------------------------------------------------------------------


@dataclass
class WorkerPlan:
    start_ms: int  # when the worker starts, after the others are ready
    pause_ms: int  # the longest random pause before each of its SQL statements
    seed: int
    steps: list[tuple[str, ...]]


@st.composite
def worker_plans(draw, files: list[str]) -> list[WorkerPlan]:
    plans = []
    for _ in range(draw(st.integers(2, 3))):
        order = draw(st.permutations(files)) + draw(st.lists(st.sampled_from(files), max_size=1))
        # A worker matches once its files are in: earlier, the night's outcome would legitimately
        # depend on when each file arrived (a plan fee activates on the balance known then).
        again = draw(st.lists(st.sampled_from(["reconcile", "notify"]), max_size=2))
        plans.append(WorkerPlan(
            start_ms=draw(st.integers(0, 40)),
            pause_ms=draw(st.sampled_from([0, 1, 3])),
            seed=draw(st.integers(0, 2**31)),
            steps=[("ingest", name) for name in order] + [("reconcile",), ("notify",)] + [(step,) for step in again],
        ))
    return plans


def _work(run: NightlySteps, plan: WorkerPlan, ready: threading.Barrier, errors: list) -> None:
    pauses = random.Random(plan.seed)
    if plan.pause_ms:
        event.listen(run.engine, "before_cursor_execute", lambda *_: time.sleep(pauses.randint(0, plan.pause_ms) / 1000))
    ready.wait(30)
    time.sleep(plan.start_ms / 1000)
    try:
        for step in plan.steps:
            if step[0] == "ingest":
                run.ingest(run.settings.inbox / step[1])
            else:
                getattr(run, step[0])(DEMO_DAY)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(f"{type(exc).__name__}: {exc}")


def test_random_interleavings_of_concurrent_nightlies_end_with_one_nightlys_ledger(demo, baseline, tmp_path_factory):
    expected, _ = baseline
    files = sorted(p.name for p in (demo.home / "inbox").iterdir())
    tried: list[int] = []
    failing: list[bool] = []
    stop_after = time.monotonic() + BUDGET_SECONDS

    @settings(max_examples=max(40, 2 * BUDGET_SECONDS), deadline=None, suppress_health_check=list(HealthCheck))
    @given(worker_plans(files))
    def interleaving(plans: list[WorkerPlan]) -> None:
        # As many examples as the time budget holds, at least MIN_EXAMPLES; shrinking a failure
        # is never cut short.
        assume(failing or len(tried) < MIN_EXAMPLES or time.monotonic() < stop_after)
        demo.reset()
        engines = [create_ledger_engine(demo.url) for _ in plans]
        reports = tmp_path_factory.mktemp("reports")
        try:
            runs = [NightlySteps(demo.settings(reports), engine) for engine in engines]
            ready, errors = threading.Barrier(len(plans)), []
            threads = [threading.Thread(target=_work, args=(run, plan, ready, errors)) for run, plan in zip(runs, plans)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            tried.append(len(plans))
            assert not errors, errors
            _assert_same(_outcome(engines[0], runs, demo.smtp.take()), expected)
        except BaseException:
            failing.append(True)
            raise
        finally:
            for engine in engines:
                engine.dispose()
            shutil.rmtree(reports, ignore_errors=True)

    interleaving()
    print(f"interleavings tried: {len(tried)} ({dict(Counter(tried))} by number of workers)")
    assert len(tried) >= MIN_EXAMPLES


# --- the window no random pause reliably hits -------------------------------------------------------


def _once(engine, when: str, fragment: str, action) -> None:
    """Run `action` once, `when` ("before" or "after") the engine's first statement containing
    `fragment` is executed."""
    fired = threading.Event()

    def listener(conn, cursor, statement, *_):
        if fragment in statement and not fired.is_set():
            fired.set()
            action()

    event.listen(engine, f"{when}_cursor_execute", listener)


def test_a_crediting_run_never_decides_from_half_of_another_runs_work(demo, tmp_path):
    """Run B reads the unmatched lines while run A is crediting them, and the open invoices after A
    committed: from that mixed view B would decide the same payments against invoices A has just
    settled. Crediting runs must queue (payrecon/services/reconcile.py takes an advisory lock), so
    B reads after A. Only the bank statement is loaded: settlement rows would make B wait on A's
    uncommitted settlement links before it read anything, hiding the window."""

    def fresh_runs(count: int) -> list[NightlySteps]:
        demo.reset()
        runs = [NightlySteps(demo.settings(tmp_path / "reports"), create_ledger_engine(demo.url)) for _ in range(count)]
        runs[0].ingest(next(p for p in runs[0].inbox() if p.name.startswith("privat24")))
        return runs

    [alone] = fresh_runs(1)
    alone.reconcile(DEMO_DAY)
    expected, credits = ledger_snapshot(alone.engine), alone.reconciled[0].credits
    alone.engine.dispose()

    runs = fresh_runs(2)
    a_reading, b_started, a_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[str] = []
    # A holds its transaction open from its read of unmatched lines until B has read them too; B
    # reads the open invoices and their allocations only once A has committed.
    _once(runs[0].engine, "after", "LEFT OUTER JOIN matches", lambda: (a_reading.set(), b_started.wait(10), time.sleep(0.3)))
    _once(runs[1].engine, "before", "invoice_allocations", lambda: a_done.wait(10))

    def run_a() -> None:
        try:
            runs[0].reconcile(DEMO_DAY)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))
        a_done.set()

    def run_b() -> None:
        b_started.set()
        try:
            runs[1].reconcile(DEMO_DAY)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))

    try:
        first = threading.Thread(target=run_a)
        first.start()
        assert a_reading.wait(30)
        second = threading.Thread(target=run_b)
        second.start()
        first.join(60)
        second.join(60)
        assert not errors, errors
        got = ledger_snapshot(runs[0].engine)
        assert not snapshot_differences(got, expected), snapshot_differences(got, expected)
        assert sum(r.reconciled[0].credits for r in runs) == credits
    finally:
        for run in runs:
            run.engine.dispose()
