"""Notifications through a real SMTP server on loopback (aiosmtpd): each top-up notified once with
its amount and new balance, one alert digest to finance, failed sends retried, never doubled."""

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from payrecon.demo import DEMO_DAY, write_demo_files
from payrecon.mail import Mailer, SmtpSettings
from payrecon.services.imports import IMPORT_ORDER, import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.notifications import current_flags, send_notifications
from payrecon.services.reconcile import reconcile
from reconcilers.plan import MatchPlan
from payrecon.workspace import Workspace


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, SmtpSettings(host="127.0.0.1", port=controller.port, security="none", sender="billing@payrecon.test")
    controller.stop()


@pytest.fixture
def reconciled(workspace_env):
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [workspace_env.inbox])
    reconcile(workspace.engine, MatchPlan.from_settings(workspace_env), DEMO_DAY)
    return workspace


def test_each_topup_is_notified_once_and_finance_gets_one_digest(reconciled, smtp):
    inbox, settings = smtp
    workspace = reconciled
    flags = current_flags(workspace.engine, DEMO_DAY, workspace.settings.calendar, 3)
    first = send_notifications(workspace.engine, Mailer(settings), ("finance@payrecon.test",), flags)
    assert first.topups_sent == 23 + 6 and first.alerts_sent == 1 and first.failed == 0
    topups = [m for to, m in inbox.messages if "finance@payrecon.test" not in to]
    assert len(topups) == 29
    one = next(m for m in topups if "org-0004" in m["To"] and "5 000.00" in m["Subject"])
    body = one.get_content()
    assert "ваш баланс поповнено на 5 000.00 UAH" in body and "Поточний баланс:" in body
    assert one["From"] == "billing@payrecon.test"
    [(recipients, digest)] = [(to, m) for to, m in inbox.messages if "finance@payrecon.test" in to]
    text = digest.get_content()
    assert "export_broken.csv" in text and "unmatched for 10 business days" in text and "amount is not a decimal" in text

    again = send_notifications(workspace.engine, Mailer(settings), ("finance@payrecon.test",),
                               current_flags(workspace.engine, DEMO_DAY, workspace.settings.calendar, 3))
    assert (again.topups_sent, again.alerts_sent, len(again.new_flags)) == (0, 0, 0)
    assert len(inbox.messages) == 30


def test_a_failed_send_is_retried_and_nothing_is_sent_twice(reconciled, smtp):
    inbox, settings = smtp
    workspace = reconciled
    closed = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2)
    failed = send_notifications(workspace.engine, Mailer(closed), ("finance@payrecon.test",), [])
    assert failed.topups_sent == 0 and failed.failed == 29
    retried = send_notifications(workspace.engine, Mailer(settings), ("finance@payrecon.test",), [])
    assert retried.topups_sent == 29 and retried.failed == 0
    assert len(inbox.messages) == 29


def test_without_smtp_nothing_is_claimed(reconciled, smtp):
    inbox, settings = smtp
    waiting = send_notifications(reconciled.engine, None, ("finance@payrecon.test",), [])
    assert waiting.pending_without_smtp == 29 and not inbox.messages
    assert send_notifications(reconciled.engine, Mailer(settings), (), []).topups_sent == 29


def test_topups_are_read_in_chunks_and_counted_without_building_them(reconciled):
    """Memory stays bounded however many notifications wait: credits are read a chunk at a time,
    each message built when it is taken; without SMTP they are only counted, by the database."""
    from payrecon.services.notifications import pending_topups, topup_messages

    engine = reconciled.engine
    whole = list(topup_messages(engine))
    chunked = list(topup_messages(engine, chunk=4))
    assert len(whole) == 29 == pending_topups(engine)
    assert [k for k, _ in chunked] == [k for k, _ in whole] and len({k for k, _ in whole}) == 29
    assert [(m["To"], m["Subject"], m.get_content()) for _, m in chunked] == [
        (m["To"], m["Subject"], m.get_content()) for _, m in whole]
    lazy = topup_messages(engine, chunk=4)
    assert next(lazy)[0] == whole[0][0]  # a generator: taken one at a time


def test_password_never_shows_in_settings_repr():
    settings = SmtpSettings.from_env({"PAYRECON_SMTP_HOST": "mail.example.com", "PAYRECON_SMTP_PASSWORD": "s3cret!"})
    assert settings.port == 587 and settings.security == "starttls"
    assert "s3cret" not in repr(settings)


@pytest.mark.prefect
def test_nightly_flow_retried_sends_one_email_per_credit(prefect_server, workspace_env, smtp, monkeypatch):
    """The whole flow twice (as a retry or a re-run would): still exactly one email per credit."""
    from flows.nightly import nightly
    from payrecon.deployments import ensure_concurrency_limits

    inbox, settings = smtp
    monkeypatch.setenv("PAYRECON_SMTP_HOST", settings.host)
    monkeypatch.setenv("PAYRECON_SMTP_PORT", str(settings.port))
    monkeypatch.setenv("PAYRECON_SMTP_SECURITY", "none")
    monkeypatch.setenv("PAYRECON_FINANCE_EMAILS", "finance@payrecon.test")
    ensure_concurrency_limits()
    workspace = Workspace(workspace_env)
    paths = write_demo_files(workspace_env.home)
    for kind in IMPORT_ORDER:
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    first = nightly(as_of=DEMO_DAY)
    second = nightly(as_of=DEMO_DAY)
    assert first["notifications"]["topups"] == 29 and first["notifications"]["alerts"] == 1
    assert second["notifications"] == {"topups": 0, "alerts": 0, "failed": 0, "new_flags": 0, "not_sent_no_smtp": 0}
    subjects = [m["Subject"] for to, m in inbox.messages if "finance@payrecon.test" not in to]
    assert len(subjects) == 29 and len(inbox.messages) == 30


def test_flags_are_raised_once_escalated_when_old_and_cleared_when_resolved(reconciled, smtp):
    from datetime import date

    from payrecon.services.notifications import update_flags
    from payrecon.services.review import Decision, apply_decision

    inbox, settings = smtp
    workspace = reconciled
    calendar = workspace.settings.calendar

    def flags_on(day):
        return current_flags(workspace.engine, day, calendar, 3)

    first = update_flags(workspace.engine, flags_on(DEMO_DAY), DEMO_DAY, calendar, escalate_days=2)
    assert len(first.raised) == 5 and not first.escalated and not first.cleared
    assert not update_flags(workspace.engine, flags_on(DEMO_DAY), DEMO_DAY, calendar, 2).raised
    # Resolve the late unidentified payment by a review decision: its flag clears.
    late = next(f for f in first.raised if f.source == "unidentified money")
    line_id = late.key.rsplit("/", 1)[1]
    apply_decision(workspace.engine, line_id, Decision("credit", "org-0003", None, "Олена", "payer called"))
    # Three business days later the rest are escalated, once.
    later = date(2026, 11, 25)
    changes = update_flags(workspace.engine, flags_on(later), later, calendar, escalate_days=2)
    assert [f.key for f in changes.cleared] == [late.key]
    assert {f.key for f in changes.escalated} == {f.key for f in first.raised} - {late.key}
    assert not update_flags(workspace.engine, flags_on(later), later, calendar, 2).escalated
    sent = send_notifications(workspace.engine, Mailer(settings), ("finance@payrecon.test",), flags_on(later), changes.escalated)
    assert sent.alerts_sent == 1
    digest = next(m for to, m in inbox.messages if "finance@payrecon.test" in to)
    assert "(escalated)" in digest["Subject"] and "Still open, escalated:" in digest.get_content()
