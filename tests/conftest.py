"""Shared test set-up. Environment first: Prefect and great-expectations read it at import."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings as hypothesis_settings  # noqa: E402

# Fuzzing is bounded: every property and fuzz test runs a fixed number of examples (tests that set
# their own max_examples keep it), no per-example deadline (a parser's first call loads its
# libraries). `ci` under CI=true, `dev` otherwise, `fuzz` for a long hunt:
#   HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest tests/unit -k fuzz
hypothesis_settings.register_profile("dev", max_examples=100, deadline=None)
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, print_blob=True,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))

REPO = Path(__file__).resolve().parents[1]
#: Real statements and settlement reports, read in place (never copied unless MIT/BSD/Apache).
FIXTURES = REPO.parent / "shared" / "fixtures"
GOLDEN = REPO / "tests" / "golden"


def load_benchmark(name: str):
    """benchmarks/<name>.py as a module (its file generators: the tests read what the benchmarks read)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "benchmarks"))  # for its `import _harness`
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real sample files not present at {FIXTURES}")
    return FIXTURES


# --- databases: every ledger test runs on SQLite and on the PostgreSQL server -----------------

PG_SERVER = os.environ.get("PAYRECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """None when the server answers, else why not."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not there"
        return str(exc).splitlines()[0]
    return None


def fresh_postgres_url() -> str:
    """A new, empty database on the PostgreSQL server; skipped when there is none, failed under CI."""
    import uuid

    import sqlalchemy

    problem = _pg_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required under CI=true: {problem}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {problem}")
    name = f"payrecon_t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _created_databases.append(name)
    return PG_SERVER.rsplit("/", 1)[0] + f"/{name}"


_created_databases: list[str] = []


def pytest_sessionfinish(session, exitstatus):
    if not _created_databases:
        return
    import sqlalchemy

    from ledger import db

    for engine in db._engines.values():
        engine.dispose()
    admin = sqlalchemy.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _created_databases:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _close_pooled_connections():
    """Every test's ledger engines give their pooled connections back after it: each test has
    its own PostgreSQL database, a nightly holds up to three connections (reconcile's side
    connection, the reports' parallel read), and a server allows 100 clients."""
    yield
    import sys

    db = sys.modules.get("ledger.db")
    if db is not None:
        for engine in list(db._engines.values()):
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return fresh_postgres_url()


@pytest.fixture
def workspace_env(tmp_path, database_url, monkeypatch):
    """A workspace in tmp_path on the parametrized database; returns its Settings."""
    from payrecon.settings import Settings

    home = tmp_path / "home"
    monkeypatch.setenv("PAYRECON_HOME", str(home))
    monkeypatch.setenv("PAYRECON_DATABASE_URL", database_url)
    for name in ("PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL", "PAYRECON_PRIVAT24_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


# --- S3: moto's server on loopback ------------------------------------------------------------

S3_BUCKETS = ("payrecon-raw", "payrecon-reports")


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 endpoint on 127.0.0.1 (moto's server mode), one per session."""
    from tests.s3_server import start_moto

    server, endpoint = start_moto()
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    """AWS_* variables pointing boto3 at the moto server, and the buckets; returns a plain client."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    for bucket in S3_BUCKETS:
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    return client


@pytest.fixture(scope="session")
def prefect_server():
    """One real (test-harness) Prefect server for the whole session: it takes ~10 s to start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
