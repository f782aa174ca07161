"""Secrets come from settings or Prefect Secret blocks and reach no log, output, artifact, flow-run
parameter or report: the nightly flow runs with a database URL holding a password (from a Secret
block), an SMTP password (from a Secret block; the SMTP server checks it) and an AWS secret key (S3
storage on moto), all logging at DEBUG, and every text it left behind is searched."""

from __future__ import annotations

import logging
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.errors import SettingsError
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from tests.conftest import fresh_postgres_url

pytestmark = pytest.mark.prefect

SECRETS = {"database": "Db-pw-7f3e9c21", "smtp": "Smtp-pw-4b1d2a88", "aws": "Aws-secret-9c8e7d55"}


class Mailbox:
    def __init__(self):
        self.messages = 0
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SECRETS["smtp"].encode())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_secret_block_that_does_not_exist_is_a_setting_error(prefect_server, tmp_path):
    with pytest.raises(SettingsError, match="PAYRECON_SMTP_PASSWORD_SECRET='no-such-block'"):
        Settings.from_env({"PAYRECON_HOME": str(tmp_path), "PAYRECON_SMTP_PASSWORD_SECRET": "no-such-block"})


def test_the_settings_text_hides_the_database_password(tmp_path):
    settings = Settings.from_env({"PAYRECON_HOME": str(tmp_path), "PAYRECON_SMTP_HOST": "mail", "PAYRECON_SMTP_PASSWORD": SECRETS["smtp"],
                                  "PAYRECON_DATABASE_URL": f"postgresql://payrecon:{SECRETS['database']}@db/ledger"})
    assert settings.database_url.endswith(f":{SECRETS['database']}@db/ledger") and settings.smtp.password == SECRETS["smtp"]
    text = repr(settings) + str(settings)
    assert "payrecon:***@db/ledger" in text
    assert not any(secret in text for secret in SECRETS.values())


def test_no_secret_reaches_logs_output_artifacts_or_reports(prefect_server, s3_env, tmp_path, monkeypatch, capfd, caplog):
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    from flows.nightly import nightly
    from payrecon.deployments import ensure_concurrency_limits

    database_url = fresh_postgres_url().replace("://postgres@", f"://postgres:{SECRETS['database']}@")  # trust auth ignores it
    Secret(value=database_url).save("payrecon-test-ledger-url", overwrite=True)
    Secret(value=SECRETS["smtp"]).save("payrecon-test-smtp-password", overwrite=True)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), authenticator=mailbox.authenticate, auth_require_tls=False)
    smtp.start()
    home = tmp_path / "home"
    for name, value in {
        "PAYRECON_HOME": str(home),
        "PAYRECON_DATABASE_URL_SECRET": "payrecon-test-ledger-url",
        "PAYRECON_STORAGE_URL": "s3://payrecon-raw/secrets",
        "PAYRECON_REPORTS_URL": "s3://payrecon-reports/secrets",
        "PAYRECON_SMTP_HOST": "127.0.0.1",
        "PAYRECON_SMTP_PORT": str(smtp.port),
        "PAYRECON_SMTP_SECURITY": "none",
        "PAYRECON_SMTP_USERNAME": "billing",
        "PAYRECON_SMTP_PASSWORD_SECRET": "payrecon-test-smtp-password",
        "PAYRECON_FINANCE_EMAILS": "finance@payrecon.test",
        "AWS_SECRET_ACCESS_KEY": SECRETS["aws"],
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("PAYRECON_DATABASE_URL", "PAYRECON_SMTP_PASSWORD", "PAYRECON_PRIVAT24_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG)
    for name in ("prefect", "payrecon", "sqlalchemy", "alembic", "botocore", "boto3", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        settings = Settings.from_env()
        assert settings.database_url == database_url and settings.smtp.password == SECRETS["smtp"]
        workspace = Workspace(settings)
        paths = write_demo_files(home)
        for kind in IMPORT_ORDER:
            import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
        ensure_concurrency_limits()
        state = nightly(as_of=DEMO_DAY, return_state=True)
    finally:
        smtp.stop()
    summary = state.result()
    assert summary["credits"] > 0 and summary["notifications"]["topups"] > 0
    # The secrets were used: the SMTP server accepted the password, S3 signed requests, the URL's database holds the run.
    assert mailbox.messages > 0 and mailbox.logins and all(p == SECRETS["smtp"].encode() for _, p in mailbox.logins)
    assert s3_env.list_objects_v2(Bucket="payrecon-reports", Prefix="secrets/credits/")["KeyCount"] > 0

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        task_runs = client.read_task_runs()
    captured = capfd.readouterr()
    reports = [s3_env.get_object(Bucket="payrecon-reports", Key=o["Key"])["Body"].read().decode("latin-1")
               for o in s3_env.list_objects_v2(Bucket="payrecon-reports", Prefix="secrets/")["Contents"]]
    data_docs = [p.read_text(errors="replace") for p in (home / "data-docs").rglob("*") if p.is_file()]
    # Everything was said at DEBUG. Prefect's logging set-up may replace the root handlers, so the
    # library logs end up on the console (captured at the file descriptors) or, when an earlier
    # test configured logging, in caplog's records: count both.
    debug_lines = captured.err.count("| DEBUG ") + sum(r.levelno == logging.DEBUG for r in caplog.records)
    assert len(logs) > 10 and len(artifacts) >= 2 and debug_lines > 100
    texts = {
        "stdout": captured.out, "stderr": captured.err, "log records": caplog.text,
        "Prefect run logs": "\n".join(log.message for log in logs),
        "artifacts": "\n".join(str(a.data) + str(a.description) for a in artifacts),
        "flow run parameters and state": "\n".join(f"{r.parameters} {r.state.message} {r.name}" for r in runs),
        "task runs": "\n".join(f"{t.name} {t.task_inputs} {t.state and t.state.message}" for t in task_runs),
        "reports": "\n".join(reports), "data docs": "\n".join(data_docs),
    }
    for where, text in texts.items():
        for what, secret in SECRETS.items():
            assert secret not in text, f"the {what} secret appears in {where}"
