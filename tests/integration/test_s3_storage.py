"""Raw files and reports in S3, against a real S3 endpoint on loopback (moto's server mode)."""

import socket

import boto3
import pandas as pd
import pytest

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from reconcilers.plan import MatchPlan
from payrecon.services.reports import build_reports
from payrecon.settings import Settings
from payrecon.storage import S3Store, open_store, raw_key, sha256_hex
from payrecon.workspace import Workspace


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3")
    for bucket in ("payrecon-raw", "payrecon-reports"):
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    return client


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


def test_pipeline_with_raw_files_and_reports_in_s3(s3_env, tmp_path, monkeypatch):
    monkeypatch.setenv("PAYRECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAYRECON_STORAGE_URL", "s3://payrecon-raw/objects")
    monkeypatch.setenv("PAYRECON_REPORTS_URL", "s3://payrecon-reports/datasets")
    monkeypatch.delenv("PAYRECON_DATABASE_URL", raising=False)
    workspace = Workspace(Settings.from_env())
    paths = write_demo_files(workspace.settings.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    outcomes = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace.settings.inbox])
    assert sorted(o.status for o in outcomes) == ["loaded", "loaded", "quarantined"]
    for outcome in outcomes:  # both files, the unreadable one too, are kept in the bucket
        body = s3_env.get_object(Bucket="payrecon-raw", Key=f"objects/{raw_key(outcome.sha256)}")["Body"].read()
        assert sha256_hex(body) == outcome.sha256
    assert reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings)).credits == 23
    build_reports(workspace.engine, workspace.report_store, DEMO_DAY, 31)
    keys = [o["Key"] for o in s3_env.list_objects_v2(Bucket="payrecon-reports", Prefix="datasets/balances/")["Contents"]]
    assert keys == [f"datasets/balances/date={DEMO_DAY.isoformat()}/part-0.parquet"]
    credits = pd.read_parquet("payrecon-reports/datasets/credits", filesystem=_pyarrow_s3(s3_env.meta.endpoint_url))
    assert len(credits) == 29


def _pyarrow_s3(endpoint):
    from pyarrow import fs

    return fs.S3FileSystem(endpoint_override=endpoint, access_key="testing", secret_key="testing", region="us-east-1",
                           scheme="http")
