"""End to end on a real `prefect server start`, as production runs it.

A server on a free loopback port with its own PREFECT_HOME (a fresh SQLite database); a demo
workspace imported with the CLI; `deployments/process-pool.sh` deploys prefect.yaml to the process
work pool; a worker runs the nightly deployment; its artifacts are read back through the API; then
headless Chromium opens the Prefect UI and looks at the deployments and the run's artifacts.

Every wait is bounded and every process started here runs in its own process group, killed at the
end. The server's scheduler is off: the cron schedules of prefect.yaml (every 15 minutes in business
hours for inbox-ingestion) would otherwise create runs a worker could pick up in the same workspace.
`PAYRECON_UPDATE_SCREENSHOTS=1` copies the screenshots to docs/ (look at them before committing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.deployments import CREDIT_LIMIT, load_deployment_specs
from payrecon.services.imports import IMPORT_ORDER

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "payrecon-process"
NIGHTLY = "nightly-reconciliation/nightly"  # flow name / deployment name
AS_OF = DEMO_DAY.isoformat()
SPECS = load_deployment_specs(REPO / "prefect.yaml")
SCREENSHOT = REPO / "deployments" / "ui-screenshot.sh"


# --- processes ------------------------------------------------------------------------------------


def _kill_group(process: subprocess.Popen, grace: float = 10) -> None:
    """Stop a process started with start_new_session=True and everything it started."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig is signal.SIGTERM:  # the leader is gone; make sure nothing it started lingers
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return


def run(cmd: list, *, env: dict, timeout: float, check: bool = True) -> subprocess.CompletedProcess:
    """A subprocess in its own process group, from the repository root; the group dies on timeout."""
    cmd = [str(c) for c in cmd]
    started = time.monotonic()
    with subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process, grace=3)
            out, err = process.communicate()
            pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
        _kill_group(process, grace=0)
    print(f"[e2e] {time.monotonic() - started:5.1f} s  {' '.join(cmd)}")
    if check and process.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {process.returncode}:\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, process.returncode, out, err)


def client_env(root: Path, **values: str) -> dict:
    """The environment of a process started here: nothing of the caller's Prefect or payrecon set-up
    (a developer's PREFECT_API_URL would point at their own server), a Prefect home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYRECON_"))}
    env.update(PREFECT_HOME=str(root / "client-prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PYTHONIOENCODING="utf-8", COLUMNS="200")
    env.update(values)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    root: Path
    url: str
    process: subprocess.Popen
    log: Path
    _ready: bool = False

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready:
            if self.process.poll() is not None:
                pytest.fail(f"prefect server exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=2) as response:
                    self._ready = response.status == 200
            except OSError:
                pass
            if not self._ready:
                if time.monotonic() > deadline:
                    pytest.fail(f"prefect server not healthy within {timeout} s:\n{self.log_tail()}")
                time.sleep(0.25)


@contextmanager
def api_client(server: Server):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server.api}):
        with get_client(sync_client=True) as client:
            yield client


# --- the stack, built once for the module --------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`prefect server start` on a free loopback port with a fresh database. Not waited for here:
    the workspace is imported while it starts."""
    root = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = client_env(
        root,
        PREFECT_HOME=str(root / "server-prefect-home"),
        # The UI asks the server where the API is; without this it says 127.0.0.1:4200 whatever --port is.
        PREFECT_API_URL=f"{url}/api",
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
    )
    log = root / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    started = Server(root=root, url=url, process=process, log=log)
    yield started
    _kill_group(process)


@dataclass
class Workspace:
    home: Path
    env: dict
    inbox: list[str]  # the files waiting for the nightly run


@pytest.fixture(scope="module")
def workspace(server) -> Workspace:
    """The demo workspace: billing exports imported with the CLI, the statements waiting in the inbox."""
    home = server.root / "payrecon-home"
    paths = write_demo_files(home)
    env = client_env(server.root, PAYRECON_HOME=str(home))
    for kind in IMPORT_ORDER:
        result = run([BIN / "payrecon", "import", kind, paths[kind]], env=env, timeout=120)
        assert "rejected" not in result.stdout, result.stdout
    return Workspace(home=home, env=env, inbox=sorted(p.name for p in (home / "inbox").iterdir()))


@pytest.fixture(scope="module")
def deployed(server, workspace) -> dict:
    """prefect.yaml deployed by deployments/process-pool.sh, non-interactively; returns the environment
    the worker and the CLI use."""
    started = time.monotonic()
    server.wait_ready()
    print(f"[e2e] server healthy {time.monotonic() - started:.1f} s after the imports")
    env = {**workspace.env, "PREFECT_API_URL": server.api, "PAYRECON_PROJECT_DIR": str(REPO)}
    run(["bash", REPO / "deployments" / "process-pool.sh"], env=env, timeout=240)
    return env


@pytest.fixture(scope="module")
def nightly_run(server, deployed):
    """The nightly deployment run once by a process worker; returns the finished flow run."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    result = run([BIN / "prefect", "deployment", "run", NIGHTLY, "--param", f"as_of={AS_OF}"], env=deployed, timeout=90)
    match = re.search(r"UUID: ([0-9a-f-]{36})", result.stdout)
    assert match, result.stdout
    flow_run_id = match.group(1)
    # --run-once: poll the pool once, run what is due, wait for it to finish, exit.
    worker = run([BIN / "prefect", "worker", "start", "--pool", POOL, "--run-once"], env=deployed, timeout=300)
    deadline = time.monotonic() + 60
    with api_client(server) as client:
        while True:
            flow_run = client.read_flow_run(flow_run_id)
            if flow_run.state and flow_run.state.is_final():
                break
            if time.monotonic() > deadline:
                pytest.fail(f"flow run {flow_run_id} still {flow_run.state_name} after the worker exited:\n"
                            f"{worker.stdout[-4000:]}\n{worker.stderr[-4000:]}")
            time.sleep(0.5)
        if not flow_run.state.is_completed():
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
            pytest.fail(f"flow run {flow_run.name} ended {flow_run.state_name}: {flow_run.state.message}\n"
                        + "\n".join(log.message for log in logs[-40:]) + f"\n{worker.stderr[-4000:]}")
    return flow_run


@pytest.fixture(scope="module")
def artifacts(server, nightly_run) -> dict:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with api_client(server) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[nightly_run.id])))
    return {artifact.key: artifact for artifact in found}


# --- the checks -----------------------------------------------------------------------------------


def test_process_pool_script_deploys_every_deployment_of_prefect_yaml(server, deployed):
    with api_client(server) as client:
        deployments = {d.name: d for d in client.read_deployments()}
        assert set(deployments) == {spec["name"] for spec in SPECS}
        assert client.read_work_pool(POOL).type == "process"
        assert client.read_global_concurrency_limit_by_name(CREDIT_LIMIT).limit == 1
        for spec in SPECS:
            deployment = deployments[spec["name"]]
            assert deployment.work_pool_name == POOL
            assert deployment.entrypoint == spec["entrypoint"]
            assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
            crons = [(s.schedule.cron, s.schedule.timezone, s.active) for s in deployment.schedules]
            assert crons == [(s["cron"], s["timezone"], s["active"]) for s in spec.get("schedules") or []]
            for number, trigger in enumerate(spec.get("triggers") or [], start=1):
                [automation] = client.read_automations_by_name(f"{spec['name']}__automation_{number}")
                assert automation.enabled and set(automation.trigger.expect) == set(trigger["expect"])
                assert automation.actions[0].deployment_id == deployment.id


def test_worker_runs_the_nightly_deployment_and_its_artifacts_are_read_back(server, workspace, nightly_run, artifacts):
    assert nightly_run.state.is_completed()
    assert nightly_run.work_pool_name == POOL
    assert str(nightly_run.parameters["as_of"]) == AS_OF
    with api_client(server) as client:
        assert client.read_deployment_by_name(NIGHTLY).id == nightly_run.deployment_id

    summary = artifacts["nightly-summary"]
    assert summary.type == "markdown"
    assert summary.data.startswith(f"# Nightly reconciliation, {AS_OF}")
    assert "credits: 23 " in summary.data and "waiting for review: 1" in summary.data and "exceptions: 3" in summary.data
    assert f"Files: {len(workspace.inbox)} seen, {len(workspace.inbox) - 1} loaded, 1 quarantined" in summary.data
    assert "**export_broken.csv**: " in summary.data  # the quarantined file, with its reason
    assert str(workspace.home / "reports") in summary.data

    files = artifacts["nightly-files"]
    assert files.type == "table"
    rows = {row["file"]: row for row in (json.loads(files.data) if isinstance(files.data, str) else files.data)}
    assert sorted(rows) == workspace.inbox  # one row per file
    statement = rows[f"privat24_{AS_OF}.csv"]
    assert statement["status"] == "loaded" and statement["lines loaded"] == "29" and statement["rows quarantined"] == "1"
    assert rows["export_broken.csv"]["status"] == "quarantined"
    loaded = sum(int(row["lines loaded"]) for row in rows.values())
    assert f"Lines loaded: {loaded}; rows quarantined: 1" in summary.data

    # The worker's flow run wrote to the workspace it was given: 23 bank credits and 6 card top-ups.
    credits = pd.read_parquet(workspace.home / "reports" / "credits")
    assert len(credits) == 29
    assert (credits["source"] == "privat24_csv").sum() == 23


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_prefect_ui_shows_the_deployments_and_the_nightly_artifacts(server, deployed, nightly_run, artifacts, tmp_path):
    if not shutil.which("chromium"):
        reason = "chromium not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; required under CI=true")
        pytest.skip(reason)
    env = client_env(server.root, TMPDIR=str(tmp_path))
    with urllib.request.urlopen(f"{server.url}/ui-settings", timeout=10) as response:
        ui_settings = json.load(response)
    assert ui_settings["api_url"] == server.api
    ui = server.url + ui_settings[f"{ui_settings['default_ui']}_base_url"].rstrip("/")  # what "/" redirects to

    summary = artifacts["nightly-summary"]
    pages = {
        # name: (path, window, what the rendered page must show)
        "deployments": ("/deployments", "1400,900", [spec["name"] for spec in SPECS] + ["nightly-reconciliation"]),
        "run-artifacts": (f"/runs/flow-run/{nightly_run.id}?tab=Artifacts", "1400,900",
                          [nightly_run.name, "Completed", "nightly-summary", "nightly-files"]),
        "artifacts": (f"/artifacts/artifact/{summary.id}", "1400,1300",
                      [f"Nightly reconciliation, {AS_OF}", "credits: 23 ", "export_broken.csv", nightly_run.name]),
    }

    def look(name: str) -> tuple[str, str, Path]:
        path, window, _ = pages[name]
        png = tmp_path / f"prefect-ui-{name}.png"
        dom = run(["bash", SCREENSHOT, "--dump-dom", ui + path], env=env, timeout=90).stdout
        run(["bash", SCREENSHOT, ui + path, png, window], env=env, timeout=90)
        return ui + path, dom, png

    with ThreadPoolExecutor(max_workers=len(pages)) as pool:  # one browser per page, each its own profile
        looked = dict(zip(pages, pool.map(look, pages)))
    for name, (url, dom, png) in looked.items():
        missing = [text for text in pages[name][2] if text not in dom]
        assert not missing, f"{url} does not show {missing}"
        assert "Can't connect to Server API" not in dom
        assert png.stat().st_size > 20_000, f"{png} is nearly empty"
        assert _png_size(png) == tuple(map(int, pages[name][1].split(",")))
        print(f"[e2e] {url} -> {png}")

    if os.environ.get("PAYRECON_UPDATE_SCREENSHOTS") == "1":
        for name in ("deployments", "artifacts"):
            shutil.copyfile(tmp_path / f"prefect-ui-{name}.png", REPO / "docs" / f"prefect-ui-{name}.png")
