"""The production manifests in deployments/ parse, hang together, pin their images and hold no secret:
the compose file (Prefect server on PostgreSQL, two process workers, MinIO, the ledger's PostgreSQL),
the Kubernetes manifests and the Kubernetes work pool's base job template, and prefect.yaml's
partitioned ingestion."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

DEPLOYMENTS = REPO / "deployments"
KUBERNETES = DEPLOYMENTS / "kubernetes"
#: A value that is a reference, not a secret: ${VAR}, ${VAR:?message}, ${VAR:-} or empty.
_REFERENCE = re.compile(r"^(\$\{[A-Z0-9_]+(:[?-][^}]*)?\})?$")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET_ACCESS_KEY|ACCESS_KEY_ID|TOKEN")
_PASSWORD_IN_URL = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


def _pinned(image: str) -> bool:
    """name:tag with an exact version in the tag (digits and dots or a dated release), never latest."""
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d+\.\d+|RELEASE\.\d{4}", tag))


def _compose() -> dict:
    return yaml.safe_load((DEPLOYMENTS / "docker-compose.yml").read_text(encoding="utf-8"))


def _environment(service: dict) -> dict:
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def _assert_no_inline_secret(where: str, name: str, value) -> None:
    value = "" if value is None else str(value)
    if _SECRET_NAME.search(name) and not name.endswith("_SECRET"):  # NAME_SECRET names a Prefect Secret block
        assert _REFERENCE.match(value), f"{where}: {name} holds a literal secret"
    for password in _PASSWORD_IN_URL.findall(value):
        assert _REFERENCE.match(password), f"{where}: {name} has a literal password in its URL"


def test_compose_runs_prefect_on_postgres_two_process_workers_minio_and_the_ledger():
    compose = _compose()
    services = compose["services"]
    assert {"prefect-db", "ledger-db", "prefect-server", "minio", "minio-buckets", "payrecon-setup", "worker"} <= set(services)
    server = _environment(services["prefect-server"])
    assert server["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://prefect:")
    assert "@prefect-db:5432/prefect" in server["PREFECT_API_DATABASE_CONNECTION_URL"]
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["command"][:5] == ["prefect", "worker", "start", "--pool", "payrecon-process"]
    env = _environment(worker)
    assert env["PAYRECON_DATABASE_URL"].startswith("postgresql+psycopg://payrecon:") and "@ledger-db:5432/payrecon" in env["PAYRECON_DATABASE_URL"]
    assert env["PAYRECON_STORAGE_URL"].startswith("s3://") and env["PAYRECON_REPORTS_URL"].startswith("s3://")
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert services["payrecon-setup"]["command"] == ["bash", "deployments/process-pool.sh"]
    for name, service in services.items():
        assert _pinned(service["image"]) or service["image"] == "payrecon:0.1.0", f"{name}: image {service['image']} is not pinned"
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
        for mount in service.get("volumes") or []:
            volume = mount.split(":", 1)[0]
            assert volume in compose["volumes"], f"{name} mounts an undeclared volume {volume}"
        for key, value in _environment(service).items():
            _assert_no_inline_secret(f"compose service {name}", key, value)
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    example = dict(line.split("=", 1) for line in (DEPLOYMENTS / ".env.example").read_text().splitlines() if "=" in line and not line.startswith("#"))
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (DEPLOYMENTS / "docker-compose.yml").read_text()))
    assert referenced <= set(example), f"required variables missing from .env.example: {referenced - set(example)}"
    assert all(not example[k] for k in example if "PASSWORD" in k)
    assert "deployments/.env" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed")
def test_docker_compose_accepts_the_file(tmp_path):
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env_file = tmp_path / ".env"
    env_file.write_text("PREFECT_DB_PASSWORD=x\nPAYRECON_DB_PASSWORD=y\nMINIO_ROOT_USER=u\nMINIO_ROOT_PASSWORD=z\n")
    result = subprocess.run(["docker", "compose", "-f", str(DEPLOYMENTS / "docker-compose.yml"), "--env-file", str(env_file), "config", "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _kubernetes_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                documents.append((path.name, document))
    return documents


def _containers(document: dict) -> list[dict]:
    spec = document.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def test_kubernetes_manifests_are_complete_pinned_and_hold_no_secret():
    documents = _kubernetes_documents()
    by_kind: dict[str, dict[str, dict]] = {}
    for file, document in documents:
        assert {"apiVersion", "kind", "metadata"} <= set(document), file
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
        if document["kind"] != "Namespace":
            assert document["metadata"].get("namespace") == "payrecon", f"{file}: {document['metadata']['name']} outside the namespace"
        if document["kind"] == "Secret":
            assert file == "secret.example.yaml"
            assert set(document["stringData"].values()) == {"CHANGE_ME"}, "the Secret template holds a real value"
        if document["kind"] == "ConfigMap":
            for key, value in document["data"].items():
                _assert_no_inline_secret(f"{file} ConfigMap", key, value)
        for container in _containers(document):
            assert _pinned(container["image"]), f"{file}: image {container['image']} is not pinned"
            for variable in container.get("env", []):
                if "value" in variable:
                    _assert_no_inline_secret(file, variable["name"], variable["value"])
                    assert not _SECRET_NAME.search(variable["name"]) and "DATABASE_URL" not in variable["name"]
    assert {"prefect-server"} <= set(by_kind["Deployment"]) and {"prefect-worker"} <= set(by_kind["Deployment"])
    assert set(by_kind["StatefulSet"]) == {"postgres"} and {"postgres", "prefect-server"} <= set(by_kind["Service"])
    server = by_kind["Deployment"]["prefect-server"]["spec"]["template"]["spec"]["containers"][0]
    database = next(v for v in server["env"] if v["name"] == "PREFECT_API_DATABASE_CONNECTION_URL")
    assert database["valueFrom"]["secretKeyRef"] == {"name": "payrecon-secrets", "key": "PREFECT_API_DATABASE_CONNECTION_URL"}
    worker = by_kind["Deployment"]["prefect-worker"]
    assert worker["spec"]["replicas"] == 2
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"][:5] == ["prefect", "worker", "start", "--pool", "payrecon-kubernetes"]
    assert worker["spec"]["template"]["spec"]["serviceAccountName"] in by_kind["ServiceAccount"]
    [binding] = by_kind["RoleBinding"].values()
    assert binding["roleRef"]["name"] in by_kind["Role"]
    rules = {(group, resource) for rule in by_kind["Role"][binding["roleRef"]["name"]]["rules"]
             for group in rule["apiGroups"] for resource in rule["resources"]}
    assert ("batch", "jobs") in rules and ("", "pods") in rules
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    secret_keys = set(by_kind["Secret"]["payrecon-secrets"]["stringData"])
    for _, document in documents:
        for container in _containers(document):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "payrecon-secrets" and ref["key"] in secret_keys, ref


def test_the_kubernetes_work_pool_template_runs_flow_runs_in_the_payrecon_image_with_its_settings():
    template = json.loads((KUBERNETES / "base-job-template.json").read_text(encoding="utf-8"))
    variables = template["variables"]["properties"]
    placeholders = set(re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", json.dumps(template["job_configuration"])))
    assert placeholders <= set(variables)
    assert variables["image"]["default"] == "payrecon:0.1.0" and variables["namespace"]["default"] == "payrecon"
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": "payrecon-settings"}}, {"secretRef": {"name": "payrecon-secrets"}}]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    names = {d["metadata"]["name"] for _, d in _kubernetes_documents() if d["kind"] == "PersistentVolumeClaim"}
    assert claims <= names and variables["service_account_name"]["default"] in {
        d["metadata"]["name"] for _, d in _kubernetes_documents() if d["kind"] == "ServiceAccount"}
    settings = next(d for _, d in _kubernetes_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "payrecon-settings")
    assert settings["data"]["PAYRECON_HOME"] == container["volumeMounts"][0]["mountPath"]


def test_the_image_is_pinned_and_installs_the_locked_dependencies():
    dockerfile = (DEPLOYMENTS / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert _pinned(base)
    assert "pip install -r requirements.lock" in dockerfile and "USER 10001" in dockerfile


def test_the_partitioned_ingestion_deployments_cover_every_partition_once():
    specs = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    partitioned = [s for s in specs if "partitions" in (s.get("parameters") or {})]
    assert len(partitioned) >= 2
    counts = {s["parameters"]["partitions"] for s in partitioned}
    assert len(counts) == 1
    [count] = counts
    assert sorted(s["parameters"]["partition"] for s in partitioned) == list(range(count))
    assert {s["entrypoint"] for s in partitioned} == {"flows/inbox.py:ingest_inbox"}
    assert {s["work_pool"]["name"] for s in partitioned} == {"payrecon-process"}
    nightly = next(s for s in specs if s["name"] == "nightly")
    for spec in partitioned:  # every partition runs before the nightly run, at the same time as the others
        assert [(c["cron"], c["timezone"]) for c in spec["schedules"]] == [("30 1 * * *", "Europe/Kyiv")]
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
