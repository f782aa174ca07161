"""The review story end to end under a real Prefect server: a payment waits in a paused flow run,
a finance decision resumes it, the organization is credited once, the decision is audited."""

import threading
import time

import pytest
from sqlalchemy import func, select

from ledger import schema
from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.reconcile import reconcile
from reconcilers.plan import MatchPlan
from payrecon.services.review import Decision, ReviewError, apply_decision, open_reviews, review_case
from payrecon.workspace import Workspace

pytestmark = pytest.mark.prefect


@pytest.fixture
def waiting(workspace_env):
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace_env.inbox])
    reconcile(workspace.engine, MatchPlan.from_settings(workspace_env), DEMO_DAY)
    # The conflict: invoice 2026-00105 of org-0005 paid with org-0002's tax ID.
    conflict = next(line for line in open_reviews(workspace.engine) if "2026-00105" in (review_case(workspace.engine, line).remittance or ""))
    return workspace, conflict


def _credits_for(engine, line_id):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.journal_entries)
                            .where(schema.journal_entries.c.evidence == line_id)).scalar_one()


def test_a_paused_review_resumed_with_a_decision_credits_once(prefect_server, waiting):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
    from prefect.flow_runs import resume_flow_run

    from flows.review import review_payment
    from payrecon.deployments import ensure_concurrency_limits

    workspace, line_id = waiting
    ensure_concurrency_limits()
    case = review_case(workspace.engine, line_id)
    assert {s["org_id"] for s in case.suggestions} == {"org-0002", "org-0005"}
    assert "| 1 |" in case.markdown()

    outcome = {}
    runner = threading.Thread(target=lambda: outcome.setdefault("result", review_payment(line_id, timeout_hours=0.05)))
    runner.start()
    paused = None
    with get_client(sync_client=True) as client:
        for _ in range(120):
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))))
            paused = next((r for r in runs if r.parameters.get("line_id") == line_id), None)
            if paused:
                break
            time.sleep(0.5)
    assert paused is not None, "the review run never paused for input"
    resume_flow_run(paused.id, run_input={"action": "credit", "org_id": "org-0005", "invoice_numbers": "2026-00105",
                                          "decided_by": "Олена Коваль", "comment": "director of org-0002 paid for the sister company"})
    runner.join(timeout=120)
    assert outcome["result"].startswith(f"{line_id}: credited 3600.00") and "org-0005" in outcome["result"]
    assert _credits_for(workspace.engine, line_id) == 1

    with workspace.engine.connect() as conn:
        audit = conn.execute(select(schema.review_decisions)).one()
        match = conn.execute(select(schema.matches).where(schema.matches.c.line_id == line_id)).one()
        learned = conn.execute(select(schema.organization_ibans).where(schema.organization_ibans.c.origin == "learned")).all()
    assert (audit.action, audit.org_id, audit.decided_by) == ("credit", "org-0005", "Олена Коваль")
    assert audit.flow_run_id == str(paused.id)
    assert match.status == "matched" and match.rule == "manual" and "Олена Коваль" in match.reason
    assert [r.org_id for r in learned] == ["org-0005"]

    # A second decision on the same payment is refused; nothing is credited twice.
    with pytest.raises(ReviewError, match="already decided"):
        apply_decision(workspace.engine, line_id, Decision("credit", "org-0002", None, "someone else"))
    assert _credits_for(workspace.engine, line_id) == 1


def test_suspense_and_bad_decisions(waiting):
    workspace, line_id = waiting
    with pytest.raises(ReviewError, match="do not belong to org-0002"):
        apply_decision(workspace.engine, line_id, Decision("credit", "org-0002", "2026-00105", "Олена"))
    with pytest.raises(ReviewError, match="needs the organization"):
        Decision("credit", None, None, "Олена")
    with pytest.raises(ReviewError, match="reviewer's name"):
        Decision("suspense", None, None, " ")
    assert apply_decision(workspace.engine, line_id, Decision("suspense", None, None, "Олена", "asked the payer")).endswith(
        "kept in suspense (decided by Олена: asked the payer)")
    assert _credits_for(workspace.engine, line_id) == 0
    assert line_id not in open_reviews(workspace.engine)
