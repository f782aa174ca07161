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
from payrecon.storage import encryption_arguments
from payrecon.mail import SmtpSettings
from sources.receipt_text import ReceiptLimits

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
    # Production (issue 9): object-store retries, where ingestion fans out, analysts' privacy.
    s3_max_attempts: int = 8
    s3_retry_mode: str = "standard"
    s3_encryption: str = ""  # PAYRECON_S3_SSE: AES256 | aws:kms | aws:kms:<key id>; "" = the bucket's default
    task_runner: str = "thread"
    dask_workers: int = 2
    reports_include_ibans: bool = False
    # Receipt scans emailed to sales (issue 6): intake, limits, provisional credit policy.
    receipts: "ReceiptSettings" = field(default_factory=lambda: ReceiptSettings())

    def __repr__(self) -> str:
        # Settings travel as task arguments (and to Dask workers, which log the arguments of a
        # failed task): the database password must not travel in their text.
        shown = {f: getattr(self, f) for f in self.__dataclass_fields__}
        shown["database_url"] = _hide_password(self.database_url)
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

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
        env = _with_secret_blocks(env)
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
        if not (lookback.isascii() and lookback.isdigit()) or not 0 < int(lookback) <= 3660:
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
            **_production_settings(env),
            receipts=_receipt_settings(env, home),
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
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 60:
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


# --- production settings (issue 9) --------------------------------------------------------------

#: A secret may come from the environment or, when NAME_SECRET names one, from a Prefect Secret block.
SECRET_VARIABLES = ("PAYRECON_DATABASE_URL", "PAYRECON_SMTP_PASSWORD")
RETRY_MODES = ("standard", "adaptive")
_DASK_SCHEMES = ("dask://", "tcp://", "tls://")


def _with_secret_blocks(env: Mapping[str, str]) -> Mapping[str, str]:
    """The environment with each secret named by PAYRECON_<NAME>_SECRET read from its Prefect Secret
    block (the plain variable wins when both are set). The value is never logged."""
    wanted = {name: env[f"{name}_SECRET"] for name in SECRET_VARIABLES if env.get(f"{name}_SECRET") and not env.get(name)}
    if not wanted:
        return env
    from prefect.blocks.system import Secret

    resolved = dict(env)
    for name, block in wanted.items():
        try:
            resolved[name] = str(Secret.load(block).get())
        except Exception as exc:  # noqa: BLE001 - any failure is the same setting error
            raise SettingsError(
                f"{name}_SECRET={block!r}: cannot read that Prefect Secret block ({type(exc).__name__}); "
                f"create it with `prefect block create secret` or set {name}"
            ) from None
    return resolved


def _production_settings(env: Mapping[str, str]) -> dict:
    attempts = env.get("PAYRECON_S3_MAX_ATTEMPTS", "8")
    if not (attempts.isascii() and attempts.isdigit()) or not 1 <= int(attempts) <= 50:
        raise SettingsError(f"PAYRECON_S3_MAX_ATTEMPTS must be 1..50 attempts, got {attempts!r}")
    mode = env.get("PAYRECON_S3_RETRY_MODE", "standard")
    if mode not in RETRY_MODES:
        raise SettingsError(f"PAYRECON_S3_RETRY_MODE must be one of {', '.join(RETRY_MODES)}, got {mode!r}")
    encryption = env.get("PAYRECON_S3_SSE", "").strip()
    try:
        encryption_arguments(encryption)
    except ValueError:
        raise SettingsError(f"PAYRECON_S3_SSE must be AES256, aws:kms or aws:kms:<key id or ARN> (or empty for the bucket's "
                            f"default encryption), got {encryption!r}") from None
    runner = env.get("PAYRECON_TASK_RUNNER", "thread").strip()
    if runner not in ("thread", "dask") and not (runner.startswith(_DASK_SCHEMES) and ":" in runner.split("://", 1)[1]):
        raise SettingsError(
            f"PAYRECON_TASK_RUNNER must be thread, dask (a temporary local Dask cluster) or the address of a "
            f"Dask scheduler (dask://host:port or tcp://host:port), got {runner!r}"
        )
    workers = env.get("PAYRECON_DASK_WORKERS", "2")
    if not (workers.isascii() and workers.isdigit()) or not 1 <= int(workers) <= 256:
        raise SettingsError(f"PAYRECON_DASK_WORKERS must be 1..256 worker processes, got {workers!r}")
    ibans = env.get("PAYRECON_REPORTS_INCLUDE_IBANS", "false").strip().lower()
    if ibans not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"PAYRECON_REPORTS_INCLUDE_IBANS must be true or false, got {ibans!r}")
    return {
        "s3_max_attempts": int(attempts),
        "s3_retry_mode": mode,
        "s3_encryption": encryption,
        "task_runner": runner,
        "dask_workers": int(workers),
        "reports_include_ibans": ibans in ("true", "1", "yes"),
    }


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL: show nothing of it
        return "<unparsable database URL>"


# --- receipt scans emailed to sales (issue 6) ----------------------------------------------------

REVERSAL_POLICIES = ("reverse", "keep")


@dataclass(frozen=True)
class ReceiptSettings:
    """PAYRECON_RECEIPTS_*: where receipt emails arrive, who may send them, what a receipt may earn
    before the bank confirms it, and what reading one attachment may cost."""

    inbox: str = ""  # a folder of .eml files, or s3://bucket/prefix (the layout SES inbound writes)
    sales_addresses: tuple[str, ...] = ()
    caps: Mapping[str, Decimal] = field(default_factory=lambda: dict(_DEFAULT_CAPS))
    confirm_days: int = 3
    reversal: str = "reverse"  # reverse | keep
    reverse_days: int = 2
    min_confidence: Decimal = Decimal("0.80")
    amount_tolerance: Decimal = Decimal("0.00")
    limits: ReceiptLimits = field(default_factory=ReceiptLimits)


_DEFAULT_CAPS = {"UAH": Decimal("50000"), "USD": Decimal("1500"), "EUR": Decimal("1500")}
_LIMITS = (  # variable, ReceiptLimits field, default, lowest, highest
    ("PAYRECON_RECEIPTS_MAX_EMAIL_BYTES", "max_email_bytes", 30 * 2**20, 1024, 2**31),
    ("PAYRECON_RECEIPTS_MAX_ATTACHMENT_BYTES", "max_attachment_bytes", 10 * 2**20, 1024, 2**31),
    ("PAYRECON_RECEIPTS_MAX_ATTACHMENTS", "max_attachments", 20, 1, 1000),
    ("PAYRECON_RECEIPTS_MAX_PAGES", "max_pages", 5, 1, 1000),
    ("PAYRECON_RECEIPTS_MAX_PIXELS", "max_pixels", 40_000_000, 10_000, 2**31),
    ("PAYRECON_RECEIPTS_TIMEOUT_SECONDS", "timeout_seconds", 60, 1, 3600),
    ("PAYRECON_RECEIPTS_MEMORY_MB", "memory_mb", 1024, 128, 65536),
)


def _receipt_settings(env: Mapping[str, str], home: Path) -> ReceiptSettings:
    inbox = _location(env, "PAYRECON_RECEIPTS_INBOX", home / "receipts")
    sales = tuple(a.strip().lower() for a in env.get("PAYRECON_RECEIPTS_SALES_ADDRESSES", "").split(";") if a.strip())
    bad = [a for a in sales if "@" not in a]
    if bad:
        raise SettingsError(f"PAYRECON_RECEIPTS_SALES_ADDRESSES: {bad[0]!r} is not an email address (separate addresses with ';')")
    caps = _caps(env.get("PAYRECON_RECEIPTS_CAP"))
    days = {name: _days(env, name, default) for name, default in
            (("PAYRECON_RECEIPTS_CONFIRM_DAYS", "3"), ("PAYRECON_RECEIPTS_REVERSE_DAYS", "2"))}
    reversal = env.get("PAYRECON_RECEIPTS_REVERSAL", "reverse").strip().lower()
    if reversal not in REVERSAL_POLICIES:
        raise SettingsError(f"PAYRECON_RECEIPTS_REVERSAL must be reverse or keep, got {reversal!r}")
    confidence = _decimal(env, "PAYRECON_RECEIPTS_MIN_CONFIDENCE", "0.80")
    if not Decimal(0) <= confidence <= Decimal(1):
        raise SettingsError(f"PAYRECON_RECEIPTS_MIN_CONFIDENCE must be 0..1, got {confidence}")
    tolerance = _decimal(env, "PAYRECON_RECEIPTS_AMOUNT_TOLERANCE", "0.00")
    if tolerance < 0 or not tolerance.is_finite():
        raise SettingsError(f"PAYRECON_RECEIPTS_AMOUNT_TOLERANCE must be a non-negative amount, got {tolerance}")
    limits = {}
    for name, attribute, default, low, high in _LIMITS:
        raw = env.get(name, str(default)).strip()
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise SettingsError(f"{name} must be a whole number {low}..{high}, got {raw!r}")
        limits[attribute] = int(raw)
    return ReceiptSettings(
        inbox=inbox,
        sales_addresses=sales,
        caps=caps,
        confirm_days=days["PAYRECON_RECEIPTS_CONFIRM_DAYS"],
        reversal=reversal,
        reverse_days=days["PAYRECON_RECEIPTS_REVERSE_DAYS"],
        min_confidence=confidence,
        amount_tolerance=tolerance,
        limits=ReceiptLimits(**limits, tesseract=env.get("PAYRECON_RECEIPTS_TESSERACT", "tesseract"),
                             ocr_languages=env.get("PAYRECON_RECEIPTS_OCR_LANGUAGES", "ukr+eng")),
    )


def _caps(raw: str | None) -> dict[str, Decimal]:
    """PAYRECON_RECEIPTS_CAP: 'UAH=50000;USD=1500' (a currency not listed gets no provisional credit)."""
    if raw is None:
        return dict(_DEFAULT_CAPS)
    caps: dict[str, Decimal] = {}
    for item in filter(None, (i.strip() for i in raw.split(";"))):
        currency, _, amount = item.partition("=")
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal(-1)
        if len(currency.strip()) != 3 or not currency.strip().isalpha() or not value.is_finite() or value < 0:
            raise SettingsError(f"PAYRECON_RECEIPTS_CAP: expected CUR=amount items separated by ';' (e.g. UAH=50000;USD=1500), got {item!r}")
        caps[currency.strip().upper()] = value
    return caps
