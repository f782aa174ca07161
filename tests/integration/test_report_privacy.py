"""Analyst datasets carry no payer IBAN unless PAYRECON_REPORTS_INCLUDE_IBANS=true; our own accounts
stay readable (payrecon/reports/privacy.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select, update

from ledger import schema
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.reports.privacy import PayerIbanPolicy, iban_valid, mask_iban
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from reconcilers.plan import MatchPlan
from tasks.pipeline import build_reports_task


def test_ibans_in_text_are_masked_and_ours_are_kept():
    payer, ours = "UA213223130000026007233566001", "DE89370400440532013000"
    assert iban_valid(payer) and iban_valid(ours) and not iban_valid("UA213223130000026007233566002")
    policy = PayerIbanPolicy(include=False, own_accounts=[ours])
    grouped = "UA21 3223 1300 0002 6007 2335 6600 1"
    assert policy.redact(f"the payer's account {payer} is known for org-7") == f"the payer's account {mask_iban(payer)} is known for org-7"
    assert mask_iban(payer) == "UA" + "*" * 23 + "6001"
    assert policy.redact(f"paid from {grouped}.") == f"paid from {mask_iban(payer)}."
    assert policy.redact(f"statements of {ours}") == f"statements of {ours}"
    assert policy.redact("invoice 2026-00123, ЄДРПОУ 14360570") == "invoice 2026-00123, ЄДРПОУ 14360570"
    assert policy.redact("UA213223130000026007233566002 fails its check digits") == "UA213223130000026007233566002 fails its check digits"
    assert policy.redact(None) is None
    assert PayerIbanPolicy(include=True).redact(f"from {payer}") == f"from {payer}"


@pytest.fixture
def ledger_with_payer_ibans(workspace_env, tmp_path):
    """The demo reconciled, then an exception whose reason and suggestions name a payer's IBAN (as the
    matching engine writes them), one naming our own account, and a quarantined file named by a payer's IBAN."""
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace_env.inbox])
    reconcile(workspace.engine, MatchPlan.from_settings(workspace_env), DEMO_DAY)
    with workspace.engine.begin() as conn:
        payer = conn.execute(select(schema.organization_ibans.c.iban).order_by(schema.organization_ibans.c.iban)).scalars().first()
        ours = conn.execute(select(schema.normalized_lines.c.account).where(schema.normalized_lines.c.account.like("UA%"))).scalars().first()
        first, second = conn.execute(select(schema.matches.c.line_id).where(schema.matches.c.status.in_(["exception", "review"]))
                                     .order_by(schema.matches.c.line_id)).scalars().all()[:2]
        grouped = " ".join(payer[i:i + 4] for i in range(0, len(payer), 4))
        conn.execute(update(schema.matches).where(schema.matches.c.line_id == first).values(
            reason=f"the payer's account {payer} is known for org-0003, but the amount fits no open invoice",
            suggestions=f"org-0003 (account {grouped})"))
        conn.execute(update(schema.matches).where(schema.matches.c.line_id == second).values(
            reason=f"no evidence in the text; received on our account {ours}"))
    odd = tmp_path / f"{payer}.csv"
    odd.write_text("not a statement\n")
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [odd])
    assert iban_valid(payer) and iban_valid(ours) and payer != ours
    return workspace, payer, ours


@pytest.mark.parametrize("include", [False, True])
def test_the_exceptions_dataset_shows_payer_ibans_only_when_the_setting_allows(ledger_with_payer_ibans, monkeypatch, include):
    workspace, payer, ours = ledger_with_payer_ibans
    monkeypatch.setenv("PAYRECON_REPORTS_INCLUDE_IBANS", "true" if include else "false")
    settings = Settings.from_env()
    build_reports_task.fn(settings, DEMO_DAY)
    folder = settings.home / "reports" / "exceptions"
    exceptions = pd.read_parquet(folder)
    text = exceptions.astype(str).to_csv()
    raw = b"".join(p.read_bytes() for p in folder.rglob("*.parquet"))
    assert ours in text  # our own account is nobody's personal data
    if include:
        assert payer in text and f"file:{payer}.csv" in set(exceptions["source"])
    else:
        assert payer not in text and payer.encode() not in raw
        assert payer[4:8] + " " + payer[8:12] not in text  # nor in groups of four
        assert mask_iban(payer) in text and f"file:{mask_iban(payer)}.csv" in set(exceptions["source"])
        assert text.count(mask_iban(payer)) == 4  # the reason, the suggestions, the file name and its reason
