"""Every real statement file is claimed by exactly one source, the right one, and `parse` either
reads it or refuses it with a one-line reason."""

from pathlib import Path

import pytest

from sources.errors import SourceError
from sources.registry import build_sources, detect
from tests.conftest import FIXTURES

EXPECTED = {"ofx": "ofx", "mt940": "mt940", "camt": "camt", "monobank": "monobank_json", "1c_clientbankexchange": "1c_clientbankexchange",
            "paypal": "paypal_stl", "stripe": "stripe", "adyen": "adyen_sdr"}
NOT_STATEMENTS = {"LICENSE", "COPYING.md", "FORMATS.md", "PROVENANCE.md"}


def statement_fixtures() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(
        p for folder in ("ofx", "camt", "mt940", "ua_bank", "paypal", "card_settlements") for p in (FIXTURES / folder).rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE") and p.name not in NOT_STATEMENTS
    )


#: not a statement of any format: nobody may claim it
UNCLAIMED = {"invalid_statement.sta"}


def expected_source(path: Path) -> str | None:
    if path.name in UNCLAIMED:
        return None
    for part in reversed(path.relative_to(FIXTURES).parts[:-1]):
        if part in EXPECTED:
            return EXPECTED[part]
    raise AssertionError(f"no expectation for {path}")


@pytest.mark.parametrize("path", statement_fixtures(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_each_statement_fixture_has_exactly_its_own_source(path, fixtures_dir):
    sources = build_sources()
    claims = [s.name for s in sources if s.identify(path, path.read_bytes()[:8192])]
    expected = expected_source(path)
    assert claims == ([expected] if expected else [])
    if not expected:
        with pytest.raises(SourceError, match="no source recognizes this file"):
            detect(path, sources)
        return
    source = detect(path, sources)
    try:
        result = source.parse(path)
    except SourceError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        # A settlement row with a fee gives two records (the gross and the fee); fewer records than
        # transactions must be explained.
        assert len(result.records) <= 2 * result.transactions_found
        assert len(result.records) >= result.transactions_found or result.warnings


def test_registered_names_are_unique():
    names = [s.name for s in build_sources()]
    assert len(names) == len(set(names))


def test_fixture_list_is_not_empty(fixtures_dir):
    assert len(statement_fixtures()) > 90
