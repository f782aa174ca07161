"""Receipt scans emailed to sales, end to end on SQLite and PostgreSQL: real PDFs and photos with
Cyrillic text in real .eml files, an inbox folder and an S3 endpoint (moto's server on loopback), the
real bank-statement pipeline for the confirming line, and a real SMTP server for finance's alerts."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

import boto3
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from ledger import schema
from ledger.receipt_entries import PROVISIONAL_ACCOUNT
from payrecon.demo import OUR_IBAN
from payrecon.mail import Mailer, SmtpSettings
from payrecon.reports import views
from payrecon.services import receipts
from payrecon.services.imports import import_export
from payrecon.services.ingest import ingest_paths
from payrecon.services.notifications import current_flags, receipt_events, send_notifications, update_flags
from payrecon.services.reconcile import reconcile
from payrecon.services.reports import build_reports, current_delays
from payrecon.settings import Settings
from payrecon.workspace import Workspace
from reconcilers.plan import MatchPlan
from sources.receipt_text import ReceiptLimits, tesseract_problem
from tests.receipt_factory import (BY_ID, SALES, forwarded_email, privat24_statement, receipt_email, receipt_image,
                                   receipt_pdf, spec_for, write_eml, write_exports)

SUN, KYIV = BY_ID["org-sun"], BY_ID["org-kyiv"]
FINANCE = "finance@payrecon.test"
needs_tesseract = pytest.mark.skipif(tesseract_problem(ReceiptLimits()) is not None, reason=str(tesseract_problem(ReceiptLimits())))


@pytest.fixture
def world(workspace_env, tmp_path, monkeypatch) -> Workspace:
    """Three customers and their invoices imported; sales@ is a sales address."""
    monkeypatch.setenv("PAYRECON_RECEIPTS_SALES_ADDRESSES", SALES)
    workspace = Workspace(Settings.from_env())
    paths = write_exports(tmp_path / "exports")
    for kind in ("organizations", "invoices"):
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind])
    return workspace


def drop(workspace: Workspace, name: str, data: bytes) -> Path:
    return write_eml(Path(workspace.settings.receipts.inbox), name, data)


def intake(workspace: Workspace, day: date) -> list[receipts.EmailOutcome]:
    s = workspace.settings
    return receipts.ingest_receipt_inbox(workspace.engine, workspace.raw_store, s.receipts, day, s.tz)


def statement(workspace: Workspace, day: date, rows: list) -> None:
    """Our bank statement lands in the inbox and the usual pipeline ingests, matches and credits it."""
    path = privat24_statement(workspace.settings.inbox / f"privat24_{day.isoformat()}.csv", rows)
    [outcome] = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, [path])
    assert outcome.status == "loaded", outcome.line()
    reconcile(workspace.engine, MatchPlan.from_settings(workspace.settings), day)


def balance(workspace: Workspace, account: str) -> Decimal:
    p = schema.postings
    with workspace.engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(p.c.amount), 0)).where(p.c.account == account)).scalar_one()


def receipt_rows(workspace: Workspace) -> list:
    with workspace.engine.connect() as conn:
        return conn.execute(select(schema.receipts).order_by(schema.receipts.c.received_on, schema.receipts.c.receipt_id)).all()


# --- story 1: receipt, provisional credit, the bank line the next day, confirmed, credited once -------


def test_receipt_credits_provisionally_and_the_next_days_bank_line_confirms_it_once(world, tmp_path):
    monday, tuesday = date(2026, 11, 16), date(2026, 11, 17)
    spec = spec_for("2026-00101", "privat24")
    drop(world, "receipt-00101.eml", receipt_email(SUN.email, [("Квитанція.pdf", receipt_pdf(spec))]))

    [outcome] = intake(world, monday)
    [(receipt_id, status, reason)] = outcome.receipts
    assert status == "provisional", reason
    assert balance(world, f"customer:{SUN.org_id}") == Decimal("-4800.99")  # the balance is up already
    assert balance(world, PROVISIONAL_ACCOUNT) == Decimal("4800.99")
    with world.engine.connect() as conn:
        [credit] = views.credits(conn, monday, monday).to_dict("records")
    assert (credit["status"], credit["source"], credit["invoice_numbers"], credit["amount"]) == (
        "provisional", "receipt_email", "2026-00101", Decimal("4800.99"))

    statement(world, tuesday, [(datetime(2026, 11, 17), SUN.org_id, Decimal("4800.99"),
                                "Оплата за рахунком № 2026-00101 від 05.11.2026, у т.ч. ПДВ 20%", "5001")])
    [row] = receipt_rows(world)
    assert (row.status, row.settled_on) == ("confirmed", tuesday) and row.line_id
    assert balance(world, f"customer:{SUN.org_id}") == Decimal("-4800.99")  # credited once, not twice
    assert balance(world, PROVISIONAL_ACCOUNT) == 0
    assert balance(world, f"bank:{OUR_IBAN}") == Decimal("4800.99")
    j, p = schema.journal_entries, schema.postings
    with world.engine.connect() as conn:
        customer_postings = conn.execute(select(p.c.amount).where(p.c.account == f"customer:{SUN.org_id}")).scalars().all()
        kinds = dict(conn.execute(select(j.c.kind, j.c.status).where(j.c.org_id == SUN.org_id)).all())
        invoice = conn.execute(select(schema.invoices.c.status).where(schema.invoices.c.invoice_number == "2026-00101")).scalar_one()
        entries = conn.execute(select(func.count()).select_from(j)).scalar_one()
    assert customer_postings == [Decimal("-4800.99")]
    assert kinds == {"receipt": "confirmed", "receipt_confirm": "confirmed"}
    assert invoice == "paid"

    # Everything again, as a retry or the nightly re-run would: nothing new.
    assert intake(world, tuesday) == []
    reconcile(world.engine, MatchPlan.from_settings(world.settings), tuesday)
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(j)).scalar_one() == entries

    build_reports(world.engine, world.report_store, date(2026, 11, 20), 31, world.settings.calendar)
    credits = pd.read_parquet(Path(world.settings.reports_url) / "credits")
    mine = credits[credits["org_id"] == SUN.org_id]
    assert len(mine) == 1 and mine.iloc[0]["status"] == "confirmed" and mine.iloc[0]["amount"] == Decimal("4800.99")
    delays = pd.read_parquet(Path(world.settings.reports_url) / "delays")
    assert "receipt" not in set(delays["kind"])


# --- story 2: receipt, no bank line, delay flagged on the 4th business day, reversed per policy -------


class _Smtp:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _Smtp()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, Mailer(SmtpSettings(host="127.0.0.1", port=port, security="none", sender="billing@payrecon.test"))
    controller.stop()


def watch(workspace: Workspace, day: date, mailer: Mailer) -> receipts.SettleSummary:
    """What the receipts flow does after intake: settle, then flags and finance's digest."""
    s = workspace.settings
    settled = receipts.settle_receipts(workspace.engine, s.receipts, s.calendar, day)
    flags = current_flags(workspace.engine, day, s.calendar, s.suspense_days, s.settlement_days, s.payout_days, s.receipts.confirm_days)
    changes = update_flags(workspace.engine, flags, day, s.calendar, s.escalate_days)
    send_notifications(workspace.engine, mailer, (FINANCE,), flags + receipt_events(workspace.engine), changes.escalated)
    return settled


def test_receipt_without_bank_line_is_flagged_on_the_fourth_business_day_and_reversed(world, smtp):
    smtp_inbox, mailer = smtp
    s = world.settings
    wednesday = date(2026, 12, 23)  # Christmas (25th) and the weekend do not count
    drop(world, "receipt-00107.eml",
         receipt_email(SUN.email, [("платіжка.pdf", receipt_pdf(spec_for("2026-00107", "payment_order", paid_at=datetime(2026, 12, 23, 9, 0), doc_number="1208")))],
                       sent_at=datetime(2026, 12, 23, 10, 0, tzinfo=timezone.utc)))
    [outcome] = intake(world, wednesday)
    assert [status for _, status, _ in outcome.receipts] == ["provisional"]
    [row] = receipt_rows(world)
    assert balance(world, f"customer:{SUN.org_id}") == Decimal("-3600.00")
    watch(world, wednesday, mailer)
    topups = [m for m in smtp_inbox.messages if m["To"] == SUN.email]
    assert len(topups) == 1 and "3 600.00 UAH" in topups[0]["Subject"]  # the customer is told of the top-up

    for day in (date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29)):  # business days 1, 2, 3
        assert watch(world, day, mailer).late == []
        late = current_delays(world.engine, day, s.calendar, 3, 2, 3, receipt_days=3)
        assert row.receipt_id not in set(late["ref"])
    assert not [m for m in smtp_inbox.messages if m["To"] == FINANCE]

    fourth = date(2026, 12, 30)
    assert watch(world, fourth, mailer).late == [row.receipt_id]
    late = current_delays(world.engine, fourth, s.calendar, 3, 2, 3, receipt_days=3)
    [delay] = late[late["kind"] == "receipt"].to_dict("records")
    assert (delay["ref"], delay["org_id"], delay["amount"], delay["expected_by"], delay["age_business_days"]) == (
        row.receipt_id, SUN.org_id, Decimal("3600.00"), date(2026, 12, 29), 4)
    [alert] = [m for m in smtp_inbox.messages if m["To"] == FINANCE]
    assert "no bank line confirmed it for 4 business days" in alert.get_content()
    build_reports(world.engine, world.report_store, fourth, 31, s.calendar, receipt_days=3)
    delays = pd.read_parquet(Path(s.reports_url) / "delays")
    assert list(delays[delays["kind"] == "receipt"]["ref"]) == [row.receipt_id]

    assert watch(world, date(2026, 12, 31), mailer).reversed == []  # 5th business day: the policy waits 2 more
    reversed_on = date(2027, 1, 4)  # 1 January is a holiday: Monday the 4th is the 6th business day
    assert watch(world, reversed_on, mailer).reversed == [row.receipt_id]
    [row] = receipt_rows(world)
    assert (row.status, row.settled_on) == ("reversed", reversed_on)
    assert balance(world, f"customer:{SUN.org_id}") == 0 and balance(world, PROVISIONAL_ACCOUNT) == 0
    reversal = [m for m in smtp_inbox.messages if m["To"] == FINANCE][-1].get_content()
    assert "provisional credit of 3600.00 UAH to org-sun for invoice 2026-00107" in reversal and "reversed on 2027-01-04" in reversal
    sent = len(smtp_inbox.messages)
    assert watch(world, reversed_on, mailer).reversed == [] and len(smtp_inbox.messages) == sent  # told once
    with world.engine.connect() as conn:
        [credit] = views.credits(conn, wednesday, reversed_on).to_dict("records")
    assert credit["status"] == "reversed"

    # The money arrives after all: the bank line credits the organization the usual way, once.
    statement(world, date(2027, 1, 5), [(datetime(2027, 1, 5), SUN.org_id, Decimal("3600.00"),
                                         "Оплата за рахунком № 2026-00107 від 01.12.2026", "1208")])
    assert balance(world, f"customer:{SUN.org_id}") == Decimal("-3600.00")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_keep_policy_flags_but_never_reverses(world, monkeypatch):
    monkeypatch.setenv("PAYRECON_RECEIPTS_REVERSAL", "keep")
    settings = Settings.from_env()
    drop(world, "r.eml", receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101")))]))
    intake(world, date(2026, 11, 16))
    settled = receipts.settle_receipts(world.engine, settings.receipts, settings.calendar, date(2026, 12, 1))
    assert len(settled.late) == 1 and settled.reversed == []
    assert [r.status for r in receipt_rows(world)] == ["provisional"]


# --- forged receipts are never credited automatically ------------------------------------------------


def test_forged_receipts_wait_for_review_and_credit_nothing(world):
    genuine = spec_for("2026-00103", "monobank", doc_number="7731-0042-9915")
    forged = {
        # org-kyiv pays (or pretends to pay) org-sun's invoice: another organization's invoice
        "other-org.eml": receipt_email(KYIV.email, [("r.pdf", receipt_pdf(genuine.with_(
            payer_name=KYIV.name, payer_iban=KYIV.iban, payer_tax_id=KYIV.tax_id)))]),
        # the right receipt from an address neither org-sun nor sales has
        "stranger.eml": receipt_email("pay.now@mail.example.net", [("r.pdf", receipt_pdf(genuine))]),
        # over the cap per organization (UAH 50 000 by default)
        "over-cap.eml": receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00104", doc_number="3300")))]),
        # an edited amount
        "edited.eml": receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101", doc_number="3301", amount=Decimal("48000.99"))))]),
        # a forged sender whose domain failed SPF and DKIM at our mail server
        "spoofed.eml": receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101", doc_number="3302")))],
                                     headers={"Authentication-Results": "amazonses.com; spf=fail smtp.mailfrom=sonyachna.example.com; dkim=fail"}),
    }
    for name, data in forged.items():
        drop(world, name, data)
    outcomes = {o.name: o for o in intake(world, date(2026, 11, 16))}
    reasons = {name: o.receipts[0][2] for name, o in outcomes.items()}
    assert {o.receipts[0][1] for o in outcomes.values()} == {"review"}, reasons
    assert "is org-kyiv's" in reasons["other-org.eml"]
    assert "neither an address of org-sun nor a sales address" in reasons["stranger.eml"]
    assert "over the cap of 50000.00 UAH" in reasons["over-cap.eml"]
    assert "is not invoice 2026-00101's 4800.99 UAH" in reasons["edited.eml"]
    assert "failed authentication (spf=fail, dkim=fail)" in reasons["spoofed.eml"]
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.journal_entries)).scalar_one() == 0
        exceptions = views.exceptions(conn)
        flagged = views.flagged(conn)
    assert len(exceptions[exceptions["ref"].str.startswith("receipt/")]) == 5
    assert len(flagged[flagged["ref"].str.startswith("receipt/")]) == 5  # finance hears of them at once


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_receipts_under_the_cap_each_but_not_together(world, monkeypatch):
    monkeypatch.setenv("PAYRECON_RECEIPTS_CAP", "UAH=15000")
    settings = Settings.from_env()
    drop(world, "two.eml", receipt_email(SUN.email, [("a.pdf", receipt_pdf(spec_for("2026-00101"))),
                                                     ("b.pdf", receipt_pdf(spec_for("2026-00103", doc_number="99")))]))
    [outcome] = receipts.ingest_receipt_inbox(world.engine, world.raw_store, settings.receipts, date(2026, 11, 16), settings.tz)
    assert [s for _, s, _ in outcome.receipts] == ["provisional", "review"]
    assert "would reach 16800.99 UAH, over the cap of 15000.00 UAH" in outcome.receipts[1][2]


# --- intake: several receipts, forwards, duplicates, quarantine ------------------------------------


def test_several_receipts_forwards_duplicates_and_bad_attachments(world):
    day = date(2026, 11, 16)
    first = receipt_pdf(spec_for("2026-00101"))
    drop(world, "a-two-receipts.eml", receipt_email(SUN.email, [("00101.pdf", first), ("00103.pdf", receipt_pdf(spec_for("2026-00103", doc_number="77")))]))
    outcomes = intake(world, day)
    assert [s for _, s, _ in outcomes[0].receipts] == ["provisional", "provisional"]

    customer = receipt_email("olena.customer@gmail.example", [("photo.pdf", first)])  # the same bytes again
    drop(world, "b-forwarded.eml", forwarded_email(SALES, customer))
    same_payment = receipt_pdf(spec_for("2026-00101", "monobank"))  # other bytes, same document, amount, date, payer
    drop(world, "c-same-payment.eml", receipt_email(SUN.email, [("mono.pdf", same_payment)]))
    damaged = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"
    drop(world, "d-mixed.eml", receipt_email(KYIV.email, [("scan.pdf", damaged), ("00106.pdf", receipt_pdf(spec_for("2026-00106", "payment_order", doc_number="457")))]))
    drop(world, "e-garbage.eml", b"\x00\x01 this is not an email \xff")
    outcomes = {o.name: o for o in intake(world, day)}
    assert outcomes["b-forwarded.eml"].duplicates == 1 and not outcomes["b-forwarded.eml"].receipts
    assert outcomes["c-same-payment.eml"].duplicates == 1 and not outcomes["c-same-payment.eml"].receipts
    assert [s for _, s, _ in outcomes["d-mixed.eml"].receipts] == ["provisional"]
    assert "scan.pdf: the PDF is damaged" in outcomes["d-mixed.eml"].quarantined[0]
    assert outcomes["e-garbage.eml"].status == "quarantined" and "not an email message" in outcomes["e-garbage.eml"].reason

    assert len(receipt_rows(world)) == 3
    assert balance(world, f"customer:{SUN.org_id}") == Decimal("-16800.99")
    assert balance(world, f"customer:{KYIV.org_id}") == Decimal("-2400.50")
    with world.engine.connect() as conn:
        copies = conn.execute(select(func.count()).select_from(schema.receipt_copies)).scalar_one()
        raw = dict(conn.execute(select(schema.raw_files.c.original_name, schema.raw_files.c.status)
                                .where(schema.raw_files.c.original_name.like("%.eml"))).all())
        exceptions = views.exceptions(conn)
    assert copies == 5  # three receipts, two repeats
    assert raw["e-garbage.eml"] == "quarantined" and raw["d-mixed.eml"] == "loaded"
    assert exceptions["reason"].str.contains("scan.pdf: the PDF is damaged").any()
    assert intake(world, day) == []  # every email was taken in once


@needs_tesseract
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_forwarded_phone_photo_is_read_by_ocr_and_credited(world):
    photo = receipt_image(spec_for("2026-00102", "monobank", doc_number="2875-1190-4432"), "JPEG", photo=True, seed=3)
    drop(world, "fwd-photo.eml", forwarded_email(SALES, receipt_email("kyiv.director@gmail.example", [("IMG_2041.jpg", photo)])))
    [outcome] = intake(world, date(2026, 11, 16))
    assert [s for _, s, _ in outcome.receipts] == ["provisional"], outcome.line()
    [row] = receipt_rows(world)
    assert (row.method, row.layout, row.org_id, row.amount, row.forwarded_from) == (
        "ocr", "monobank", KYIV.org_id, Decimal("7200.00"), "kyiv.director@gmail.example")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_tesseract_an_image_receipt_waits_for_review_saying_so(world, monkeypatch):
    monkeypatch.setenv("PAYRECON_RECEIPTS_TESSERACT", "/nonexistent/tesseract")
    settings = Settings.from_env()
    data = receipt_email(KYIV.email, [("photo.png", receipt_image(spec_for("2026-00102", "monobank")))])
    outcome = receipts.ingest_receipt_email(world.engine, world.raw_store, settings.receipts, "p.eml", data, date(2026, 11, 16), settings.tz)
    [(_, status, reason)] = outcome.receipts
    assert status == "review" and "Tesseract is not installed" in reason


# --- intake from S3 (the layout SES inbound writes), on a real S3 endpoint on loopback ---------------


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_intake_from_the_ses_s3_prefix(world, s3_endpoint, monkeypatch):
    for name, value in (("AWS_ENDPOINT_URL", s3_endpoint), ("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("PAYRECON_RECEIPTS_INBOX", "s3://mail-inbound/receipts")):
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    client = boto3.client("s3")
    client.create_bucket(Bucket="mail-inbound")
    # SES writes each message under the rule's prefix, named by its message id, plus a set-up notice.
    client.put_object(Bucket="mail-inbound", Key="receipts/AMAZON_SES_SETUP_NOTIFICATION", Body=b"Subject: setup\r\n\r\nok")
    client.put_object(Bucket="mail-inbound", Key="receipts/0100018c7b1e2f3a-4d5e6f70",
                      Body=receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101")))]))
    client.put_object(Bucket="mail-inbound", Key="receipts/0100018c7b1e2f3b-bad", Body=b"\x00 not mail")
    workspace = Workspace(settings)
    outcomes = receipts.ingest_receipt_inbox(workspace.engine, workspace.raw_store, settings.receipts, date(2026, 11, 16), settings.tz)
    assert {o.name: o.status for o in outcomes} == {"0100018c7b1e2f3a-4d5e6f70": "loaded", "0100018c7b1e2f3b-bad": "quarantined"}
    assert [s for _, s, _ in outcomes[0].receipts] == ["provisional"]
    assert workspace.raw_store.exists(f"sha256/{outcomes[0].sha256[:2]}/{outcomes[0].sha256[2:4]}/{outcomes[0].sha256}")
    # The next run lists the prefix but downloads nothing it has seen.
    assert receipts.list_receipt_emails(workspace.engine, receipts.inbox_store(settings.receipts)) == []


# --- the flow, under a real Prefect server, and the command line ------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.prefect
def test_receipts_flow_takes_in_settles_and_notifies(prefect_server, world):
    from flows.receipts import receipts_intake
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    drop(world, "r.eml", receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101")))]))
    first = receipts_intake(as_of=date(2026, 11, 16))
    assert (first["provisional"], first["review"], first["quarantined"]) == (1, 0, 0)
    later = receipts_intake(as_of=date(2026, 11, 24))  # 6th business day, nothing new came
    assert (later["emails"], later["late"], later["reversed"]) == ([], 1, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_takes_in_receipts_and_fails_in_one_line(world, tmp_path):
    folder = tmp_path / "mail"
    write_eml(folder, "r.eml", receipt_email(SUN.email, [("r.pdf", receipt_pdf(spec_for("2026-00101")))]))
    cli = [sys.executable, "-m", "payrecon.cli", "receipts"]
    done = subprocess.run([*cli, "ingest", str(folder), "--as-of", "2026-11-16"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "r.eml:" in done.stdout and "provisional: receipt for invoice 2026-00101" in done.stdout
    missing = subprocess.run([*cli, "parse", str(tmp_path / "nope.eml")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr
