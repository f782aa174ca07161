"""Raw files and reports in S3, against a real S3 endpoint on loopback (moto's server mode), with
and without injected faults (throttling, 5xx answers, dropped connections, lost answers to writes
that happened, bodies that break off): every request is retried, nothing is lost, nothing is
stored twice. Fault injection: tests/s3_server.py (moto's server has none of its own)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from payrecon.services.reports import DATASETS, build_reports
from payrecon.settings import Settings
from payrecon.storage import S3Store, open_store, raw_key, sha256_hex
from payrecon.workspace import Workspace
from reconcilers.plan import MatchPlan
from tests.s3_server import ALL_KINDS, FaultPlan, FaultProxy

#: Wall-clock columns: they differ between two runs, whatever the storage did.
CLOCK_COLUMNS = {"credited_at", "opened_at", "flagged_at"}
#: Days of event partitions each report run rewrites (covers the demo's two weeks of activity).
LOOKBACK_DAYS = 16


@pytest.fixture
def fast_throttle_backoff(monkeypatch):
    """botocore waits rand(0,1) x 1 s x 2^attempt after a throttling answer (x 50 ms after a 5xx);
    with dozens of injected throttles that is most of a minute. Give throttles the 5xx scale: the
    same retries happen in the same order, only sooner."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "_DEFAULT_BACKOFF_CONFIG",
                        {"throttling_base_scale": 0.05, "non_throttling_base_scale": 0.05})


def test_s3_store_round_trip(s3_env):
    store = open_store("s3://payrecon-raw/unit")
    assert isinstance(store, S3Store)
    data = "Оплата за рахунком".encode("utf-8")
    key = raw_key(sha256_hex(data))
    assert not store.exists(key)
    store.put(key, data)
    assert store.exists(key) and store.get(key) == data
    assert list(store.list("sha256/")) == [key]
    assert s3_env.head_object(Bucket="payrecon-raw", Key=f"unit/{key}")["ContentLength"] == len(data)
    store.delete(key)
    assert not store.exists(key)


def test_retries_come_from_the_settings(s3_env, tmp_path):
    env = {"PAYRECON_HOME": str(tmp_path), "PAYRECON_STORAGE_URL": "s3://payrecon-raw/x", "PAYRECON_REPORTS_URL": "s3://payrecon-reports/y"}
    default = Workspace(Settings.from_env(env))
    for store in (default.raw_store, default.report_store):
        assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}
    tuned = Workspace(Settings.from_env({**env, "PAYRECON_S3_MAX_ATTEMPTS": "4", "PAYRECON_S3_RETRY_MODE": "adaptive"}))
    assert tuned.raw_store.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}


def _run_pipeline(home, storage_url, reports_url, monkeypatch, endpoint) -> Workspace:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("PAYRECON_HOME", str(home))
    monkeypatch.setenv("PAYRECON_STORAGE_URL", storage_url)
    monkeypatch.setenv("PAYRECON_REPORTS_URL", reports_url)
    monkeypatch.delenv("PAYRECON_DATABASE_URL", raising=False)
    workspace = Workspace(Settings.from_env())
    paths = write_demo_files(workspace.settings.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace.settings.inbox])
    reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings))
    build_reports(workspace.engine, workspace.report_store, DEMO_DAY, LOOKBACK_DAYS)
    return workspace


def _objects(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under the prefix, read straight from moto (no proxy): what is really stored."""
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def _analyst_read(endpoint: str, folder: str, max_attempts: int = 8) -> pd.DataFrame:
    from pyarrow import fs

    s3 = fs.S3FileSystem(endpoint_override=endpoint, access_key="testing", secret_key="testing", region="us-east-1",
                         scheme="http", retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=max_attempts))
    frame = pd.read_parquet(folder, filesystem=s3)
    frame = frame.drop(columns=[c for c in frame.columns if c in CLOCK_COLUMNS])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_pipeline_with_raw_files_and_reports_in_s3(s3_env, tmp_path, monkeypatch):
    workspace = _run_pipeline(tmp_path / "home", "s3://payrecon-raw/objects", "s3://payrecon-reports/datasets",
                              monkeypatch, s3_env.meta.endpoint_url)
    with workspace.engine.connect() as conn:
        from sqlalchemy import text

        files = conn.execute(text("select sha256, status from raw_files")).all()
    assert sorted(status for _, status in files).count("quarantined") == 1
    for sha256, _ in files:  # every file, the unreadable one too, is kept in the bucket
        body = s3_env.get_object(Bucket="payrecon-raw", Key=f"objects/{raw_key(sha256)}")["Body"].read()
        assert sha256_hex(body) == sha256
    keys = [o["Key"] for o in s3_env.list_objects_v2(Bucket="payrecon-reports", Prefix="datasets/balances/")["Contents"]]
    assert keys == [f"datasets/balances/date={DEMO_DAY.isoformat()}/part-0.parquet"]
    credits = _analyst_read(s3_env.meta.endpoint_url, "payrecon-reports/datasets/credits")
    assert len(credits) == 29


def test_every_storage_path_survives_throttling_5xx_and_dropped_connections(s3_env, tmp_path, monkeypatch,
                                                                             fast_throttle_backoff):
    moto = s3_env.meta.endpoint_url
    clean = _run_pipeline(tmp_path / "clean", "s3://payrecon-raw/clean", "s3://payrecon-reports/clean", monkeypatch, moto)

    plan = FaultPlan(rate=0.3, seed=20261120)
    with FaultProxy(moto, plan) as proxy:
        # Raw files (imports and statements) stored, registered, parsed; credits; every dataset published.
        faulty = _run_pipeline(tmp_path / "faulty", "s3://payrecon-raw/faulty", "s3://payrecon-reports/faulty",
                               monkeypatch, proxy.url)
        # A second night over the same files: the existence checks, and every partition replaced.
        again = ingest_paths(faulty.engine, faulty.raw_store, faulty.sources, [faulty.settings.inbox])
        assert {o.status for o in again} == {"skipped"}
        build_reports(faulty.engine, faulty.report_store, DEMO_DAY, LOOKBACK_DAYS)
        # Reading back through the same faults: what payrecon reads (list, get), what analysts read.
        raw_back = {key: faulty.raw_store.get(key) for key in faulty.raw_store.list("sha256/")}
        report_keys = sorted(faulty.report_store.list(""))
        # The analysts' reader (pyarrow, the AWS C++ SDK) retries what S3 itself answers: 503 SlowDown,
        # 5xx, dropped connections (a 400 ThrottlingException is other AWS services' way; boto3 reads it).
        plan.kinds = ("slowdown", "internal", "unavailable", "bad_gateway", "reset")
        analyst_views = {name: _analyst_read(proxy.url, f"payrecon-reports/faulty/{name}") for name in ("credits", "exceptions", "balances", "channel_spend")}
        print(f"\n[s3 faults] {plan.requests} requests, {plan.total} faults injected: {dict(sorted(plan.injected.items()))}")

    # Every kind of fault happened, many times over.
    assert plan.total >= 40, plan.injected
    assert set(plan.injected) == set(ALL_KINDS) and min(plan.injected.values()) >= 2, plan.injected
    # Nothing lost, nothing twice: the buckets hold exactly what the fault-free run stored.
    clean_raw = _objects(s3_env, "payrecon-raw", "clean/")
    faulty_raw = _objects(s3_env, "payrecon-raw", "faulty/")
    assert faulty_raw.keys() == clean_raw.keys() and len(faulty_raw) == len(IMPORT_ORDER) + 3
    assert all(sha256_hex(body) == key.rsplit("/", 1)[-1] for key, body in faulty_raw.items())
    assert raw_back == faulty_raw
    clean_reports = _objects(s3_env, "payrecon-reports", "clean/")
    assert sorted(_objects(s3_env, "payrecon-reports", "faulty/")) == sorted(clean_reports) == report_keys
    assert {key.split("/")[0] for key in report_keys} == set(DATASETS)
    for name, frame in analyst_views.items():
        expected = _analyst_read(moto, f"payrecon-reports/clean/{name}")
        pd.testing.assert_frame_equal(frame, expected, check_dtype=True)
    assert len(analyst_views["credits"]) == 29
    # And the ledgers agree.
    assert _ledger_counts(faulty) == _ledger_counts(clean)


def _ledger_counts(workspace: Workspace) -> dict[str, int]:
    from sqlalchemy import func, select

    from ledger import schema

    with workspace.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (schema.raw_files, schema.normalized_lines, schema.matches, schema.journal_entries, schema.postings)}


def test_a_fault_that_outlasts_the_attempts_fails_loudly_and_stores_nothing(s3_env, fast_throttle_backoff):
    plan = FaultPlan(rate=1.0, kinds=("slowdown",), max_per_call=100)
    with FaultProxy(s3_env.meta.endpoint_url, plan) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url  # s3_env's monkeypatch restores it
        store = open_store("s3://payrecon-raw/exhausted", s3_max_attempts=3)
        with pytest.raises(ClientError, match="SlowDown"):
            store.put("sha256/ab/cd/abcd", b"statement bytes")
    assert plan.requests == 3 and plan.injected == {"slowdown": 3}
    assert "Contents" not in s3_env.list_objects_v2(Bucket="payrecon-raw", Prefix="exhausted/")


def test_a_body_that_breaks_off_is_read_again(s3_env):
    data = os.urandom(3 * 1024 * 1024)
    store = open_store("s3://payrecon-raw/truncated")
    key = raw_key(sha256_hex(data))
    store.put(key, data)
    plan = FaultPlan(rate=0.5, kinds=("truncated",), seed=3)
    with FaultProxy(s3_env.meta.endpoint_url, plan) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        reread = [open_store("s3://payrecon-raw/truncated").get(key) for _ in range(6)]
    print(f"\n[s3 faults] truncated bodies: {plan.requests} requests, {dict(plan.injected)}")
    assert plan.injected["truncated"] >= 2
    assert all(body == data for body in reread)


def test_adaptive_mode_under_throttling(s3_env, fast_throttle_backoff):
    plan = FaultPlan(rate=0.4, kinds=("slowdown", "throttling"), seed=11)
    objects = {f"sha256/{i:02d}/x/{i}": os.urandom(2048) for i in range(5)}
    with FaultProxy(s3_env.meta.endpoint_url, plan) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        store = open_store("s3://payrecon-raw/adaptive", s3_max_attempts=6, s3_retry_mode="adaptive")
        for key, data in objects.items():
            store.put(key, data)
        assert {key: store.get(key) for key in store.list("sha256/")} == objects
    print(f"\n[s3 faults] adaptive mode: {plan.requests} requests, {dict(plan.injected)}")
    assert plan.injected["slowdown"] >= 2 and plan.injected["throttling"] >= 2, plan.injected


@pytest.mark.parametrize("setting,expected", [
    ("AES256", {"ServerSideEncryption": "AES256"}),
    ("aws:kms:alias/payrecon-raw", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/payrecon-raw"}),
])
def test_every_object_written_is_encrypted_at_rest_as_the_setting_asks(s3_env, tmp_path, setting, expected):
    env = {"PAYRECON_HOME": str(tmp_path), "PAYRECON_STORAGE_URL": "s3://payrecon-raw/sse",
           "PAYRECON_REPORTS_URL": "s3://payrecon-reports/sse", "PAYRECON_S3_SSE": setting}
    workspace = Workspace(Settings.from_env(env))
    small = "Оплата 4111 1111 1111 1111".encode("utf-8")
    large = tmp_path / "statement.xml"
    large.write_bytes(b"<Document/>" * 1_000_000)  # 11 MB: boto3 uploads it in parts
    workspace.raw_store.put("sha256/small", small)
    workspace.raw_store.put_file("sha256/large", large)
    workspace.report_store.put("credits/date=2026-11-26/part-0.parquet", b"PAR1")
    for bucket, key in (("payrecon-raw", "sse/sha256/small"), ("payrecon-raw", "sse/sha256/large"),
                        ("payrecon-reports", "sse/credits/date=2026-11-26/part-0.parquet")):
        head = s3_env.head_object(Bucket=bucket, Key=key)
        assert {name: head.get(name) for name in expected} == expected, key
    assert workspace.raw_store.get("sha256/large") == large.read_bytes()


def test_without_the_setting_nothing_asks_for_encryption(s3_env, tmp_path):
    store = open_store("s3://payrecon-raw/plain")
    assert store.encryption_args == {}
    store.put("k", b"x")
    assert "ServerSideEncryption" not in s3_env.head_object(Bucket="payrecon-raw", Key="plain/k")  # left to the bucket (none here)


@pytest.mark.parametrize("bad", ["aes256", "aws:kms:", "kms", "SSE-C"])
def test_an_unknown_encryption_setting_is_one_clear_error(tmp_path, bad):
    from payrecon.errors import SettingsError

    with pytest.raises(SettingsError, match="PAYRECON_S3_SSE must be AES256, aws:kms or aws:kms:<key id or ARN>"):
        Settings.from_env({"PAYRECON_HOME": str(tmp_path), "PAYRECON_S3_SSE": bad})
