"""One typed settings object, read from the environment, failing fast on a bad value.

The PAYRECON_* variables and their embedded defaults are a contract (PRODUCT.md, "Settings").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payrecon.business_calendar import BusinessCalendar
from payrecon.errors import SettingsError
from payrecon.mail import SmtpSettings

_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    storage_url: str
    reports_url: str
    timezone: str = "Europe/Kyiv"
    auto_credit_threshold: Decimal = Decimal("0.90")
    review_threshold: Decimal = Decimal("0.60")
    report_lookback_days: int = 31
    privat24_columns: Mapping[str, tuple[str, ...]] | None = field(default=None)
    holidays: str = "ua"
    suspense_days: int = 3
    settlement_days: int = 2
    payout_days: int = 3
    escalate_days: int = 2
    smtp: SmtpSettings | None = None
    finance_emails: tuple[str, ...] = ()

    @property
    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar.from_setting(self.holidays)

    @property
    def data_docs(self) -> Path:
        """great-expectations Data Docs of each run's report contracts (local, beside the workspace)."""
        return self.home / "data-docs"

    @property
    def inbox(self) -> Path:
        """Where the nightly flow looks for new raw files."""
        return self.home / "inbox"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        home = Path(env.get("PAYRECON_HOME", "./var")).expanduser()
        if home.exists() and not home.is_dir():
            raise SettingsError(f"PAYRECON_HOME={home} exists and is not a folder")
        home = home.resolve()
        database_url = env.get("PAYRECON_DATABASE_URL") or f"sqlite:///{home / 'ledger.db'}"
        scheme = database_url.split(":", 1)[0]
        if scheme not in _SCHEMES:
            raise SettingsError(
                f"PAYRECON_DATABASE_URL must start with sqlite:// or postgresql+psycopg://, got {scheme!r}"
            )
        if scheme == "postgresql":
            database_url = "postgresql+psycopg" + database_url[len("postgresql") :]
        storage_url = _location(env, "PAYRECON_STORAGE_URL", home / "objects")
        reports_url = _location(env, "PAYRECON_REPORTS_URL", home / "reports")
        timezone = env.get("PAYRECON_TIMEZONE", "Europe/Kyiv")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"PAYRECON_TIMEZONE={timezone!r} is not an IANA time zone") from None
        auto = _decimal(env, "PAYRECON_AUTO_CREDIT_THRESHOLD", "0.90")
        review = _decimal(env, "PAYRECON_REVIEW_THRESHOLD", "0.60")
        if not (Decimal(0) <= review <= auto <= Decimal(1)):
            raise SettingsError(
                "thresholds must satisfy 0 <= PAYRECON_REVIEW_THRESHOLD <= PAYRECON_AUTO_CREDIT_THRESHOLD <= 1"
            )
        lookback = env.get("PAYRECON_REPORT_LOOKBACK_DAYS", "31")
        if not lookback.isdigit() or not 0 < int(lookback) <= 3660:
            raise SettingsError(f"PAYRECON_REPORT_LOOKBACK_DAYS must be a whole number of days 1..3660, got {lookback!r}")
        holidays = env.get("PAYRECON_HOLIDAYS", "ua")
        try:
            BusinessCalendar.from_setting(holidays)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        days = {name: _days(env, name, default) for name, default in
                (("PAYRECON_SUSPENSE_DAYS", "3"), ("PAYRECON_SETTLEMENT_DAYS", "2"), ("PAYRECON_PAYOUT_DAYS", "3"),
                 ("PAYRECON_ESCALATE_DAYS", "2"))}
        return cls(
            home=home,
            database_url=database_url,
            storage_url=storage_url,
            reports_url=reports_url,
            timezone=timezone,
            auto_credit_threshold=auto,
            review_threshold=review,
            report_lookback_days=int(lookback),
            privat24_columns=_column_map(env.get("PAYRECON_PRIVAT24_COLUMNS")),
            holidays=holidays,
            suspense_days=days["PAYRECON_SUSPENSE_DAYS"],
            settlement_days=days["PAYRECON_SETTLEMENT_DAYS"],
            payout_days=days["PAYRECON_PAYOUT_DAYS"],
            escalate_days=days["PAYRECON_ESCALATE_DAYS"],
            smtp=SmtpSettings.from_env(env),
            finance_emails=tuple(e.strip() for e in env.get("PAYRECON_FINANCE_EMAILS", "").split(";") if e.strip()),
        )


def _location(env: Mapping[str, str], name: str, default: Path) -> str:
    value = env.get(name) or str(default)
    if value.startswith("s3://"):
        if len(value) <= len("s3://") or value[5] == "/":
            raise SettingsError(f"{name}={value!r} names no bucket (expected s3://bucket/prefix)")
        return value.rstrip("/")
    if "://" in value:
        raise SettingsError(f"{name}={value!r}: only a local folder or s3://bucket/prefix is supported")
    return str(Path(value).expanduser().resolve())


def _days(env: Mapping[str, str], name: str, default: str) -> int:
    raw = env.get(name, default)
    if not raw.isdigit() or not 1 <= int(raw) <= 60:
        raise SettingsError(f"{name} must be 1..60 business days, got {raw!r}")
    return int(raw)


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name, default)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def _column_map(path: str | None) -> Mapping[str, tuple[str, ...]] | None:
    """PAYRECON_PRIVAT24_COLUMNS: a JSON file mapping record fields to header names (a name or a list)."""
    if not path:
        return None
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"PAYRECON_PRIVAT24_COLUMNS={path}: cannot read a JSON object ({exc})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, (str, list)) for v in raw.values()):
        raise SettingsError(f"PAYRECON_PRIVAT24_COLUMNS={path}: expected {{field: header or [headers]}}")
    return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in raw.items()}
