"""Serve the deployments declared in prefect.yaml from this process (`payrecon serve`).

prefect.yaml stays the one place where deployments and schedules are declared; this reads it, so
`payrecon serve` and `prefect deploy` agree.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]


def load_deployment_specs(path: Path = PROJECT / "prefect.yaml") -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prefect.yaml not found (run payrecon serve from a payrecon checkout)")
    return list(yaml.safe_load(path.read_text(encoding="utf-8")).get("deployments") or [])


def load_flow(entrypoint: str):
    file_part, _, name = entrypoint.partition(":")
    module_name = Path(file_part).with_suffix("").as_posix().replace("/", ".")
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    module = importlib.import_module(module_name)
    return getattr(module, name)


def build_deployments(specs: list[dict]):
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron

    deployments = []
    for spec in specs:
        flow = load_flow(spec["entrypoint"])
        schedules = [
            Cron(s["cron"], timezone=s.get("timezone", "UTC"), active=s.get("active", True))
            for s in spec.get("schedules") or []
            if "cron" in s
        ]
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                tags=spec.get("tags") or [],
                parameters=spec.get("parameters") or {},
                schedules=schedules,
                triggers=[
                    DeploymentEventTrigger(enabled=t.get("enabled", True), match=t.get("match", {}), expect=set(t.get("expect", [])))
                    for t in spec.get("triggers") or []
                    if t.get("type") == "event"
                ],
            )
        )
    return deployments


#: Crediting holds this global limit (strict: a missing limit fails the run instead of passing).
CREDIT_LIMIT = "payrecon-credit"


def ensure_concurrency_limits() -> None:
    """Create the limits the flows hold, where they are missing (part of set-up, like a migration)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(CREDIT_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=CREDIT_LIMIT, limit=1))


def serve_all() -> None:
    from prefect import serve

    ensure_concurrency_limits()
    serve(*build_deployments(load_deployment_specs()))




def announce_file_landed(name: str) -> None:
    """Tell Prefect a file landed in the inbox; the inbox-ingestion deployment runs on this event."""
    from prefect.events import emit_event

    emit_event(event="payrecon.inbox.file-landed", resource={"prefect.resource.id": f"payrecon.inbox.{name}"})
