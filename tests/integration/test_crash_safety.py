"""Crash safety: a nightly killed with SIGKILL at random moments and run again ends with the ledger
and the reports of a nightly never interrupted, and no reader ever sees a half-written partition.

Each run is a child process (forked from a server that has imported everything once, so a run
costs its work only). A cycle starts from the demo workspace with its billing exports imported:
the nightly is killed after a random delay (one to three times, each rerun resuming the night),
then run to the end; the ledger (wall-clock columns aside), the report datasets and the emails the
SMTP server received are compared with an uninterrupted run's. After every kill each report
dataset must read back whole. A notification claimed but not sent when the run died stays
`sending` and is never sent twice (payrecon/services/notifications.py): that row's status is the
only difference allowed.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ledger import schema
from ledger.db import create_ledger_engine, upgrade
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.storage import LocalStore
from tests.integration.test_notifications import free_port
from tests.nightly_services import SmtpInbox, ledger_snapshot, report_tables, restore, run_in_child, snapshot_differences, table_rows

#: One crash cycle per listed stage (its first kill inside that stage), then more while this many
#: seconds last (PAYRECON_TEST_CRASH_SECONDS=600 soaks). Reports, the longest stage, is where most
#: second kills land; SQLite's cycles cover the stages whose transactions it must roll back.
BUDGET_SECONDS = int(os.environ.get("PAYRECON_TEST_CRASH_SECONDS", "0"))
STAGES = ("ingest", "reconcile", "reports", "notify")
CYCLES = {"postgresql": ("ingest", "reconcile", "notify"), "sqlite": ("ingest", "reconcile")}
KILLS_PER_CYCLE = 2
#: What may differ after a crash: a notification claimed when the run died is never sent twice.
IN_FLIGHT = frozenset({"notifications.status", "notifications.error"})


@pytest.fixture(scope="module")
def smtp():
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _markers(path: Path) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(float(line.split(" ", 1)[0]), line.split(" ", 1)[1]) for line in lines if " " in line]


class Nightlies:
    """Starts nightlies as child processes and kills them."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.env, self.folder, self.count = env, folder, 0
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["tests.nightly_services", "great_expectations"])

    def start(self, stage: str = "start") -> tuple[multiprocessing.Process, Path]:
        """A nightly, returned once it has begun `stage` (or ended)."""
        self.count += 1
        markers = self.folder / f"run-{self.count}.log"
        process = self.context.Process(target=run_in_child, args=(self.env, DEMO_DAY, str(markers)))
        process.start()
        deadline = time.monotonic() + 60
        while process.is_alive() and time.monotonic() < deadline and not any(m.startswith(stage) for _, m in _markers(markers)):
            time.sleep(0.002)
        return process, markers

    def run_to_end(self) -> list[tuple[float, str]]:
        process, markers = self.start()
        process.join(120)
        assert process.exitcode == 0, f"the nightly failed (exit code {process.exitcode})"
        return _markers(markers)


def test_a_nightly_killed_anywhere_and_run_again_ends_as_if_never_interrupted(database_url, tmp_path, smtp):
    inbox, port = smtp
    home, reports = tmp_path / "home", tmp_path / "home" / "reports"
    engine = create_ledger_engine(database_url)
    upgrade(engine)
    paths = write_demo_files(home)
    for kind in IMPORT_ORDER:
        import_export(engine, LocalStore(home / "objects"), kind, paths[kind])
    imported = table_rows(engine)
    env = {"PAYRECON_HOME": str(home), "PAYRECON_DATABASE_URL": database_url, "PAYRECON_SMTP_HOST": "127.0.0.1",
           "PAYRECON_SMTP_PORT": str(port), "PAYRECON_SMTP_SECURITY": "none", "PAYRECON_FINANCE_EMAILS": "finance@payrecon.test"}
    nightlies = Nightlies(env, tmp_path)
    inbox.take()

    def fresh_night() -> None:
        restore(engine, imported)
        shutil.rmtree(reports, ignore_errors=True)
        shutil.rmtree(home / "data-docs", ignore_errors=True)

    try:
        timeline = nightlies.run_to_end()
        night = timeline[-1][0]  # seconds an uninterrupted nightly takes
        began = [min(t for t, what in timeline if what.startswith(stage)) for stage in STAGES]
        lasts = dict(zip(STAGES, (end - start for start, end in zip(began, [*began[1:], night]))))  # seconds per stage
        expected = ledger_snapshot(engine, IN_FLIGHT), report_tables(reports), inbox.take()
        assert sum(expected[2].values()) == 30 and len(expected[1]["credits"]) == 29, "the demo changed: adjust this test"

        rng = random.Random()
        killed_in: Counter = Counter()
        cycles, leftovers = 0, 0
        stop_after = time.monotonic() + BUDGET_SECONDS
        stages = CYCLES[engine.dialect.name]
        while cycles < len(stages) or time.monotonic() < stop_after:
            fresh_night()
            # The first kill lands at a random moment of one stage (each in turn), a second one
            # anywhere in the rerun.
            stage = stages[cycles % len(stages)]
            for attempt in range(rng.randint(1, KILLS_PER_CYCLE)):
                process, markers = nightlies.start(stage if attempt == 0 else "start")
                time.sleep(rng.uniform(0, lasts[stage] if attempt == 0 else night / 2))
                if not process.is_alive():
                    break  # it finished first
                process.kill()
                process.join(30)
                killed_in[_markers(markers)[-1][1].split(" ")[0]] += 1
                # Whatever the moment, every dataset reads back whole: nothing half-written is visible.
                report_tables(reports)
            nightlies.run_to_end()
            cycles += 1
            leftovers += sum(1 for p in reports.rglob(".tmp-*"))

            got = ledger_snapshot(engine, IN_FLIGHT)
            assert not snapshot_differences(got, expected[0]), snapshot_differences(got, expected[0])
            assert report_tables(reports) == expected[1]
            emails = inbox.take()
            assert max(emails.values(), default=1) == 1, "an email was sent twice"
            assert not emails - expected[2], "an email an uninterrupted run does not send"
            with engine.connect() as conn:
                statuses = Counter(conn.execute(select(schema.notifications.c.status)).scalars())
            assert set(statuses) <= {"sent", "sending"}
            assert statuses["sending"] > 0 or emails == expected[2]
        print(f"{cycles} crash cycles, {sum(killed_in.values())} kills by stage reached: {dict(killed_in)}; "
              f"an uninterrupted nightly takes {night:.1f} s; temporary files left by killed writers (invisible to readers): {leftovers}")
    finally:
        engine.dispose()
