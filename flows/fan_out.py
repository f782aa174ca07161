"""Where file ingestion runs: PAYRECON_TASK_RUNNER.

- `thread` (the default): in the flow's own process, one file after another, as a plain sequence
  of `ingest-file` task runs.
- `dask`: a temporary local Dask cluster (`PAYRECON_DASK_WORKERS` worker processes on 127.0.0.1,
  no dashboard), one `ingest-file` task per file, parsed in parallel.
- `dask://host:port` or `tcp://host:port`: an existing Dask scheduler (e.g. a Dask cluster on
  Kubernetes); its workers need the payrecon package, the same PAYRECON_* settings and the inbox
  (a shared volume).

With Dask, the files go through a subflow `ingest-files` whose task runner is the Dask one; its
only parameter is the list of paths (settings, which hold secrets, are never flow parameters: the
Prefect API stores those). Each file is still stored, parsed, validated and loaded in one task, and
ingestion is idempotent, so the ledger is the same whichever runner ran it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, unmapped

from payrecon.services.ingest import FileOutcome
from payrecon.settings import Settings
from tasks.pipeline import ingest_file_task


def dask_task_runner(setting: str, workers: int = 2):
    """The DaskTaskRunner a PAYRECON_TASK_RUNNER value other than `thread` names."""
    from prefect_dask import DaskTaskRunner

    if setting == "dask":
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": workers, "threads_per_worker": 1, "processes": True,
            "host": "127.0.0.1", "dashboard_address": None,
        })
    scheme, _, address = setting.partition("://")
    return DaskTaskRunner(address=f"tcp://{address}" if scheme == "dask" else setting)


@flow(name="ingest-files")
def ingest_files_fanned_out(paths: list[Path]) -> list[FileOutcome]:
    settings = Settings.from_env()
    return ingest_file_task.map(settings=unmapped(settings), path=paths).result()


def ingest_files(settings: Settings, paths: list[Path]) -> list[FileOutcome]:
    """Ingest `paths` on the task runner the settings name; outcomes in the order of `paths`."""
    if settings.task_runner == "thread" or len(paths) < 2:
        return [ingest_file_task(settings, path) for path in paths]
    runner = dask_task_runner(settings.task_runner, settings.dask_workers)
    return ingest_files_fanned_out.with_options(task_runner=runner)(list(paths))
