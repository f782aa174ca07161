"""The nightly flow under a real (test-harness) Prefect server: tasks, artifacts, idempotency."""

import asyncio

import pandas as pd
import pytest
from sqlalchemy import func, select

from ledger import schema
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.deployments import build_deployments, load_deployment_specs
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.workspace import Workspace

pytestmark = pytest.mark.prefect


def _postings(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.postings)).scalar_one()


async def _artifacts(key):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_nightly_flow_runs_end_to_end_and_twice_adds_nothing(prefect_server, workspace_env):
    from flows.nightly import nightly
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])

    first = nightly(as_of=DEMO_DAY)
    assert first["credits"] == 23 and first["reviews"] == 1 and first["exceptions"] == 3 and first["subscription_fees"] == 4
    assert first["files_quarantined"] == 1 and first["rows_quarantined"] == 1 and first["lines_loaded"] == 29 + 4
    postings = _postings(workspace.engine)
    assert postings == 2 * (23 + 420 + 6 + 4 + 2)  # credits, usage, card top-ups, plan fees, LiqPay fees

    second = nightly(as_of=DEMO_DAY)
    assert second["credits"] == 0 and second["lines_loaded"] == 0
    assert _postings(workspace.engine) == postings

    summaries = asyncio.run(_artifacts("nightly-summary"))
    assert summaries, "the run summary artifact was not published"
    latest = max(summaries, key=lambda a: a.created)
    assert "credits: 0" in latest.data and "Quarantined files" not in latest.data
    earliest = min(summaries, key=lambda a: a.created)
    assert "credits: 23" in earliest.data and "export_broken.csv" in earliest.data
    assert "1 paypal_settlement" in earliest.data and "1 suspense" in earliest.data and "2 payments proved by settlements" in earliest.data
    tables = asyncio.run(_artifacts("nightly-files"))
    assert any("privat24_2026-11-20.csv" in str(t.data) for t in tables)
    assert len(pd.read_parquet(workspace_env.reports_url + "/credits")) == 29


def test_prefect_yaml_declares_the_nightly_schedule_that_serve_uses():
    specs = load_deployment_specs()
    nightly = next(s for s in specs if s["name"] == "nightly")
    assert nightly["entrypoint"] == "flows/nightly.py:nightly"
    assert nightly["schedules"][0] == {"cron": "0 2 * * *", "timezone": "Europe/Kyiv", "active": True}
    [deployment] = build_deployments([nightly])
    assert deployment.name == "nightly"
    schedule = deployment.schedules[0].schedule
    assert schedule.cron == "0 2 * * *" and schedule.timezone == "Europe/Kyiv"


def test_crediting_fails_loudly_without_its_concurrency_limit(prefect_server, workspace_env):
    """strict=True: a missing limit is an error, not a silent pass; set-up creates it."""
    from prefect.client.orchestration import get_client

    from payrecon.deployments import CREDIT_LIMIT, ensure_concurrency_limits
    from tasks.pipeline import reconcile_task

    with get_client(sync_client=True) as client:
        try:
            client.delete_global_concurrency_limit_by_name(CREDIT_LIMIT)
        except Exception:  # noqa: BLE001 - not there yet
            pass
    with pytest.raises(Exception, match=CREDIT_LIMIT):
        reconcile_task(workspace_env, DEMO_DAY)
    ensure_concurrency_limits()
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(CREDIT_LIMIT).limit == 1
    assert reconcile_task(workspace_env, DEMO_DAY).credits == 0


def test_inbox_delay_and_report_flows(prefect_server, workspace_env):
    from flows.daily_reports import daily_reports
    from flows.delay_watch import delay_watch
    from flows.inbox import ingest_inbox
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    first = ingest_inbox()
    assert first["credits"] == 23 and len(first["files"]) == 3
    assert ingest_inbox()["credits"] == 0
    watched = delay_watch()
    assert any("unmatched for" in reason for reason in watched["new_flags"])
    reports = daily_reports(as_of=DEMO_DAY)
    assert reports["written"]["credits"] >= 1 and reports["data_docs"].endswith("data-docs")


def test_every_deployment_of_prefect_yaml_builds():
    deployments = {d.name: d for d in build_deployments(load_deployment_specs())}
    assert set(deployments) == {"nightly", "inbox-ingestion", "receipts-intake", "ingest-partition-0-of-2", "ingest-partition-1-of-2", "delay-watch", "daily-reports", "review-payment"}
    assert all(s.schedule.timezone == "Europe/Kyiv" for d in deployments.values() for s in d.schedules)
    [trigger] = deployments["inbox-ingestion"].triggers
    assert trigger.expect == {"payrecon.inbox.file-landed"}
