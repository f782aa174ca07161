"""The production settings of issue 9: S3 retries, the task runner, analysts' IBANs, secrets."""

from __future__ import annotations

import pytest

from payrecon.errors import SettingsError
from payrecon.settings import Settings


def _settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"PAYRECON_HOME": str(tmp_path), **env})


def test_defaults(tmp_path):
    settings = _settings(tmp_path)
    assert (settings.s3_max_attempts, settings.s3_retry_mode) == (8, "standard")
    assert (settings.task_runner, settings.dask_workers) == ("thread", 2)
    assert settings.reports_include_ibans is False


@pytest.mark.parametrize("runner", ["thread", "dask", "dask://scheduler:8786", "tcp://10.0.0.5:8786", "tls://dask.example:8786"])
def test_task_runners_accepted(tmp_path, runner):
    assert _settings(tmp_path, PAYRECON_TASK_RUNNER=runner).task_runner == runner


@pytest.mark.parametrize("name, value, message", [
    ("PAYRECON_TASK_RUNNER", "ray", "PAYRECON_TASK_RUNNER must be thread, dask"),
    ("PAYRECON_TASK_RUNNER", "dask://", "PAYRECON_TASK_RUNNER must be"),
    ("PAYRECON_S3_MAX_ATTEMPTS", "0", "PAYRECON_S3_MAX_ATTEMPTS must be 1..50"),
    ("PAYRECON_S3_MAX_ATTEMPTS", "many", "PAYRECON_S3_MAX_ATTEMPTS must be 1..50"),
    ("PAYRECON_S3_RETRY_MODE", "legacy", "PAYRECON_S3_RETRY_MODE must be one of standard, adaptive"),
    ("PAYRECON_DASK_WORKERS", "0", "PAYRECON_DASK_WORKERS must be 1..256"),
    ("PAYRECON_REPORTS_INCLUDE_IBANS", "maybe", "PAYRECON_REPORTS_INCLUDE_IBANS must be true or false"),
])
def test_bad_values_name_their_variable(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        _settings(tmp_path, **{name: value})


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False)])
def test_include_ibans(tmp_path, value, expected):
    assert _settings(tmp_path, PAYRECON_REPORTS_INCLUDE_IBANS=value).reports_include_ibans is expected


def test_a_plain_secret_wins_over_its_block_and_no_block_is_read(tmp_path):
    # No Prefect server is running here: reading the block would fail.
    settings = _settings(tmp_path, PAYRECON_SMTP_HOST="mail", PAYRECON_SMTP_PASSWORD="plain", PAYRECON_SMTP_PASSWORD_SECRET="block")
    assert settings.smtp.password == "plain"


def test_dask_task_runners():
    from prefect_dask import DaskTaskRunner

    from flows.fan_out import dask_task_runner

    local = dask_task_runner("dask", 3)
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs == {"n_workers": 3, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
                                    "dashboard_address": None}
    assert dask_task_runner("dask://scheduler:8786").address == "tcp://scheduler:8786"
    assert dask_task_runner("tls://scheduler:8786").address == "tls://scheduler:8786"
