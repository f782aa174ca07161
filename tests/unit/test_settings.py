from decimal import Decimal
from pathlib import Path

import pytest

from payrecon.errors import SettingsError
from payrecon.settings import Settings


def test_defaults_live_under_the_home(tmp_path):
    settings = Settings.from_env({"PAYRECON_HOME": str(tmp_path / "ws")})
    home = (tmp_path / "ws").resolve()
    assert settings.home == home
    assert settings.database_url == f"sqlite:///{home / 'ledger.db'}"
    assert settings.storage_url == str(home / "objects")
    assert settings.reports_url == str(home / "reports")
    assert settings.inbox == home / "inbox"
    assert settings.auto_credit_threshold == Decimal("0.90")


def test_default_home_is_var_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).home == (tmp_path / "var").resolve()


def test_s3_and_postgres_values_are_kept():
    settings = Settings.from_env(
        {
            "PAYRECON_HOME": "/tmp/x",
            "PAYRECON_DATABASE_URL": "postgresql://u@db:5432/ledger",
            "PAYRECON_STORAGE_URL": "s3://raw-bucket/payrecon/",
            "PAYRECON_REPORTS_URL": "s3://reports",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@db:5432/ledger"
    assert settings.storage_url == "s3://raw-bucket/payrecon"
    assert settings.reports_url == "s3://reports"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("PAYRECON_DATABASE_URL", "mysql://x/y", "must start with sqlite:// or postgresql"),
        ("PAYRECON_STORAGE_URL", "s3://", "names no bucket"),
        ("PAYRECON_REPORTS_URL", "gs://bucket/x", "only a local folder or s3://"),
        ("PAYRECON_AUTO_CREDIT_THRESHOLD", "high", "is not a number"),
        ("PAYRECON_REVIEW_THRESHOLD", "0.95", "thresholds must satisfy"),
        ("PAYRECON_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("PAYRECON_REPORT_LOOKBACK_DAYS", "-3", "whole number of days"),
        ("PAYRECON_PRIVAT24_COLUMNS", "/nonexistent/map.json", "cannot read a JSON object"),
    ],
)
def test_bad_values_fail_fast_with_the_variable_named(tmp_path, name, value, message):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"PAYRECON_HOME": str(tmp_path), name: value})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_home_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SettingsError, match="is not a folder"):
        Settings.from_env({"PAYRECON_HOME": str(target)})


def test_privat24_column_map_is_read(tmp_path):
    mapping = tmp_path / "map.json"
    mapping.write_text('{"amount": ["Сума, грн"], "remittance": "Призначення"}', encoding="utf-8")
    settings = Settings.from_env({"PAYRECON_HOME": str(tmp_path), "PAYRECON_PRIVAT24_COLUMNS": str(mapping)})
    assert settings.privat24_columns == {"amount": ("Сума, грн",), "remittance": ("Призначення",)}
    assert isinstance(settings.home, Path)
