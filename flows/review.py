"""Review of an uncertain payment: the flow shows the case, waits for a finance decision in the
Prefect UI (a typed form), then carries it out exactly once and records who decided what and why."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput

from payrecon.services.review import Decision
from payrecon.settings import Settings
from tasks.pipeline import apply_review_decision, load_review_case


class ReviewDecision(RunInput):
    """The form finance fills in: credit the suggested (or another) organization and invoices, or
    keep the money in suspense; always with the reviewer's name and a comment."""

    action: Literal["credit", "suspense"] = "credit"
    org_id: str | None = None
    invoice_numbers: str | None = None
    decided_by: str
    comment: str = ""


@flow(name="review-payment", persist_result=True)
def review_payment(line_id: str, timeout_hours: float = 72.0) -> str:  # float-ok: hours, not money
    """Decisions can take days: a deployed run suspends (no process waits); a local run pauses."""
    settings = Settings.from_env()
    case = load_review_case(settings, line_id)
    create_markdown_artifact(key=f"review-{line_id[:12]}", markdown=case.markdown(), description=f"Review of {line_id}")
    top = case.suggestions[0] if case.suggestions else {}
    form = ReviewDecision.with_initial_data(
        description=case.markdown(), org_id=top.get("org_id"), invoice_numbers=top.get("invoice_numbers"), decided_by=""
    )
    context = get_run_context()
    deployed = context.flow_run.deployment_id is not None
    wait = suspend_flow_run if deployed else pause_flow_run
    answer: ReviewDecision = wait(wait_for_input=form, timeout=int(timeout_hours * 3600))
    decision = Decision(action=answer.action, org_id=answer.org_id, invoice_numbers=answer.invoice_numbers,
                        decided_by=answer.decided_by, comment=answer.comment)
    outcome = apply_review_decision(settings, line_id, decision, str(context.flow_run.id))
    get_run_logger().info(outcome)
    return outcome
