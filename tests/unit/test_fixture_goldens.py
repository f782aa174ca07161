"""Golden files for every real statement fixture: each file under ../shared/fixtures/{ofx,camt,
mt940,ua_bank} beside its expected normalized output (tests/golden/fixtures/<path>.jsonl) or, for a
file that must be refused, its expected one-line reason (<path>.error). The fixtures are read in
place; only our expected outputs are committed.

PAYRECON_UPDATE_GOLDEN=1 rewrites them; read the diff before committing.
"""

import json
import os

import pytest

from data_contracts.statement_integrity import check_statements
from sources.errors import SourceError
from sources.registry import build_sources, parse_file
from tests.conftest import FIXTURES, GOLDEN
from tests.unit.test_registry import statement_fixtures

EXPECTED = GOLDEN / "fixtures"


def render(path) -> tuple[str, str]:
    try:
        source, result = parse_file(path, build_sources())
    except SourceError as exc:
        return ".error", f"{type(exc).__name__}: {exc}\n"
    lines = [json.dumps(r.as_dict(), ensure_ascii=False, sort_keys=True) for r in result.records]
    balances = [[c.statement_id, c.balance_check] for c in check_statements(source.name, result.statements, result.records)]
    summary = {"transactions_found": result.transactions_found, "balance_checks": balances,
               "control_checks": [[c.name, c.scope, c.passed] for c in result.checks]}
    return ".jsonl", "\n".join([json.dumps(summary, sort_keys=True), *lines]) + "\n"


@pytest.mark.parametrize("path", statement_fixtures(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_matches_its_golden_output(path, fixtures_dir):
    suffix, produced = render(path)
    target = EXPECTED / (str(path.relative_to(FIXTURES)) + suffix)
    if os.environ.get("PAYRECON_UPDATE_GOLDEN"):
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in (target.with_name(path.name + ".jsonl"), target.with_name(path.name + ".error")):
            stale.unlink(missing_ok=True)
        target.write_text(produced, encoding="utf-8")
    assert target.is_file(), f"no golden output for {path.name}; run with PAYRECON_UPDATE_GOLDEN=1 and review it"
    assert produced == target.read_text(encoding="utf-8")
