"""Shared test set-up. Environment first: Prefect and great-expectations read it at import."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Real statements and settlement reports, read in place (never copied unless MIT/BSD/Apache).
FIXTURES = REPO.parent / "shared" / "fixtures"
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real sample files not present at {FIXTURES}")
    return FIXTURES
