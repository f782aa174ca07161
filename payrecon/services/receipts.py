"""Receipt scans emailed to sales: intake, extraction, provisional credit, confirmation, reversal.

    inbox (folder or s3://bucket/prefix of raw .eml, as SES inbound writes them)
      -> raw_files (content-addressed, once)  -> sources.receipt_email (attachments)
      -> sources.receipt_text (text layer or OCR, in a sandbox) -> sources.receipt_fields
      -> reconcilers.receipts (provisional credit or review)    -> receipts, receipt_copies, journal
    reconcile (a matched bank line)  -> confirmation (bank money to the clearing account, not twice)
    settle_receipts (no bank line)   -> delay flagged after N business days, reversed later per policy

A malformed email is quarantined as a raw file with its reason; a malformed attachment is a
quarantined row of its email; the rest of the run goes on. The same receipt sent twice (the same
bytes, or the same bank document number, amount, date and payer) is one receipt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from contextlib import nullcontext
from typing import Callable, ContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update

from ledger import receipt_entries, schema
from ledger.repository import insert_ignore, now, post_entries
from payrecon.business_calendar import BusinessCalendar
from payrecon.services.raw_files import mark_quarantined, store_raw_file
from payrecon.settings import ReceiptSettings
from payrecon.storage import BlobStore, open_store
from reconcilers import receipts as decide
from reconcilers.names import name_key
from sources.receipt_email import Attachment, MalformedEmail, ReceiptEmail, read_email
from sources.receipt_fields import ReceiptFields, read_fields
from sources.receipt_text import AttachmentError, read_attachment

log = logging.getLogger(__name__)
SOURCE = "receipt_email"
#: SES writes this object when a receipt rule is set up; it is not a customer's email
_SES_SETUP = "AMAZON_SES_SETUP_NOTIFICATION"
#: how far back bank credits are looked at when a receipt arrives after its bank line
_BANK_LOOKBACK_DAYS = 45


@dataclass
class EmailOutcome:
    name: str
    sha256: str | None
    status: str  # loaded | quarantined | skipped (seen before)
    reason: str | None = None
    receipts: list[tuple[str, str, str]] = field(default_factory=list)  # (receipt_id, status, reason)
    duplicates: int = 0
    quarantined: list[str] = field(default_factory=list)  # attachments, with reasons

    def line(self) -> str:
        if self.status == "quarantined":
            return f"{self.name}: quarantined: {self.reason}"
        if self.status == "skipped":
            return f"{self.name}: already taken in ({self.reason})"
        parts = [f"{rid[:12]} {status}: {reason}" for rid, status, reason in self.receipts]
        if self.duplicates:
            parts.append(f"{self.duplicates} already known")
        parts += [f"attachment quarantined: {q}" for q in self.quarantined]
        return f"{self.name}: " + ("; ".join(parts) if parts else "no receipt attached")


@dataclass
class SettleSummary:
    reversed: list[str] = field(default_factory=list)  # receipt ids
    late: list[str] = field(default_factory=list)  # receipt ids past the confirmation days


# --- intake ---------------------------------------------------------------------------------------


def inbox_store(settings: ReceiptSettings) -> BlobStore:
    return open_store(settings.inbox)


def list_receipt_emails(engine: Engine, inbox: BlobStore) -> list[str]:
    """Keys of the inbox's emails not taken in yet. The inbox is a write-once mail drop (SES names each
    object by its message id), so a key seen before is not read again; `payrecon receipts ingest
    FILE` takes in a file whatever its name (its hash decides whether it is new)."""
    keys = [k for k in inbox.list("") if not k.rsplit("/", 1)[-1].startswith(".") and _SES_SETUP not in k]
    with engine.connect() as conn:
        seen = set(conn.execute(select(schema.raw_files.c.original_name).where(
            schema.raw_files.c.source == SOURCE, schema.raw_files.c.status != "stored")).scalars())
    return sorted(k for k in keys if k not in seen)


def ingest_receipt_inbox(engine: Engine, raw_store: BlobStore, settings: ReceiptSettings, as_of: date, tz: ZoneInfo,
                         inbox: BlobStore | None = None) -> list[EmailOutcome]:
    """Take in the inbox's new emails; returns their outcomes (emails already taken in are left out)."""
    inbox = inbox or inbox_store(settings)
    outcomes = [ingest_receipt_email(engine, raw_store, settings, key, inbox.get(key), as_of, tz)
                for key in list_receipt_emails(engine, inbox)]
    return [o for o in outcomes if o.status != "skipped"]


def ingest_receipt_email(engine: Engine, raw_store: BlobStore, settings: ReceiptSettings, name: str, data: bytes,
                         as_of: date, tz: ZoneInfo, guard: Callable[[], ContextManager] = nullcontext) -> EmailOutcome:
    """Keep the email, read its receipts, decide and credit them; idempotent (a known email is skipped).

    Reading (OCR can take seconds) happens first; `guard` (the crediting concurrency limit under
    Prefect) is held only while the receipts are decided and credited."""
    stored = store_raw_file(engine, raw_store, name, data)
    if stored.status != "stored":
        return EmailOutcome(name, stored.sha256, "skipped", reason=f"{stored.status} before as {stored.original_name}")
    limits = settings.limits
    try:
        email = read_email(data, limits, name)
    except MalformedEmail as exc:
        return _quarantine_email(engine, stored.sha256, name, str(exc))
    outcome = EmailOutcome(name, stored.sha256, "loaded")
    received_on = _received_on(data, email, as_of, tz)
    rejected = list(email.rejected)
    cases: list[tuple[decide.ReceiptCase, Attachment, ReceiptFields, str | None]] = []
    copies: list[dict] = []
    with engine.connect() as conn:
        known_copies = _known_copies(conn, [a.sha256 for a in email.attachments])
    batch_identities: dict[str, str] = {}
    for attachment in email.attachments:
        if attachment.sha256 in known_copies or attachment.sha256 in {c.receipt_id for c, *_ in cases}:
            receipt_id = known_copies.get(attachment.sha256, attachment.sha256)
            copies.append(_copy(attachment.sha256, stored.sha256, receipt_id))
            outcome.duplicates += 1
            continue
        try:
            text = read_attachment(attachment.name, attachment.data, limits)
        except AttachmentError as exc:
            rejected.append((attachment.name, str(exc)))
            continue
        fields = read_fields(text.lines, ocr=text.method == "ocr")
        identity = identity_key(fields, float(settings.min_confidence))
        if identity:
            with engine.connect() as conn:
                same = conn.execute(select(schema.receipts.c.receipt_id).where(schema.receipts.c.identity_key == identity)).scalar()
            same = same or batch_identities.get(identity)
            if same:
                copies.append(_copy(attachment.sha256, stored.sha256, same))
                outcome.duplicates += 1
                continue
            batch_identities[identity] = attachment.sha256
        case = decide.ReceiptCase(
            receipt_id=attachment.sha256, fields=fields, sender=email.sender, received_on=received_on, method=text.method,
            unreadable=text.reason if text.method == "none" else None, authentication=email.authentication,
        )
        cases.append((case, attachment, fields, identity))
    outcome.quarantined = [reason for _, reason in rejected]
    with guard(), engine.begin() as conn:
        decisions = _decide(conn, [c for c, *_ in cases], settings)
        stamp = now()
        rows, entries = [], []
        for (case, attachment, fields, identity), decision in zip(cases, decisions):
            rows.append(_receipt_row(case, attachment, fields, identity, decision, stored.sha256, email, stamp))
            copies.append(_copy(attachment.sha256, stored.sha256, case.receipt_id))
            if decision.status == "provisional":
                entries.append(receipt_entries.provisional_credit(
                    receipt_id=case.receipt_id, org_id=decision.org_id, currency=decision.currency, amount=decision.amount,
                    on=received_on, description=f"provisional: {decision.reason}"))
            outcome.receipts.append((case.receipt_id, decision.status, decision.reason))
        insert_ignore(conn, schema.receipts, rows)
        insert_ignore(conn, schema.receipt_copies, copies)
        post_entries(conn, entries)
        insert_ignore(conn, schema.quarantined_rows, [
            {"raw_file_sha256": stored.sha256, "row_key": f"attachment-{n}", "reason": reason,
             "record": json.dumps({"attachment": att_name, "sender": email.sender, "subject": email.subject}, ensure_ascii=False),
             "quarantined_at": stamp}
            for n, (att_name, reason) in enumerate(rejected, start=1)
        ])
        conn.execute(update(schema.raw_files).where(schema.raw_files.c.sha256 == stored.sha256).values(
            status="loaded", source=SOURCE, error=None, transactions_found=len(email.attachments) + len(email.rejected),
            records_loaded=len(rows), rows_quarantined=len(rejected)))
    if not email.attachments and not email.rejected:
        log.info("%s: no receipt attached", name)
    return outcome


def _quarantine_email(engine: Engine, sha256: str, name: str, reason: str) -> EmailOutcome:
    with engine.begin() as conn:
        mark_quarantined(conn, sha256, SOURCE, reason)
    log.warning("quarantined %s: %s", name, reason)
    return EmailOutcome(name, sha256, "quarantined", reason=reason)


def _copy(attachment_sha: str, email_sha: str, receipt_id: str) -> dict:
    return {"attachment_sha256": attachment_sha, "email_sha256": email_sha, "receipt_id": receipt_id, "seen_at": now()}


def _known_copies(conn, shas: list[str]) -> dict[str, str]:
    if not shas:
        return {}
    c = schema.receipt_copies
    return dict(conn.execute(select(c.c.attachment_sha256, c.c.receipt_id).where(c.c.attachment_sha256.in_(shas))).all())


def identity_key(fields: ReceiptFields, sure: float) -> str | None:  # float-ok: a confidence
    """The same payment whatever the picture: bank document number, amount, date and payer."""
    payer = next((fields.value(n) for n in ("payer_tax_id", "payer_iban") if fields.value(n) and fields.confidence(n) >= sure),
                 None) or (name_key(fields.value("payer_name")) if fields.confidence("payer_name") >= sure else None)
    parts = [fields.value(n) if fields.confidence(n) >= sure else None for n in ("bank_doc_number", "amount", "paid_on")]
    if not payer or not all(parts):
        return None
    return hashlib.sha256("\x1f".join([*parts, payer]).encode("utf-8")).hexdigest()


def _received_on(data: bytes, email: ReceiptEmail, as_of: date, tz: ZoneInfo) -> date:
    """The business day the email reached us: our server's Received stamp (the topmost), else the
    sender's Date, never after `as_of` (a date from the sender can only make the receipt older)."""
    from email.parser import BytesHeaderParser

    stamp: datetime | None = None
    received = BytesHeaderParser().parsebytes(data).get_all("Received") or []
    if received:
        try:
            stamp = parsedate_to_datetime(str(received[0]).rsplit(";", 1)[-1].strip())
        except (TypeError, ValueError):
            stamp = None
    stamp = stamp or email.sent_at
    if stamp is None:
        return as_of
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    day = stamp.astimezone(tz).date()
    return min(max(day, as_of - timedelta(days=decide.MAX_AGE_DAYS)), as_of)


def _receipt_row(case, attachment: Attachment, fields: ReceiptFields, identity, decision, email_sha: str, email: ReceiptEmail,
                 stamp) -> dict:
    amount = decision.amount if decision.amount is not None else fields.amount()
    currency = decision.currency or fields.value("currency")
    return {
        "receipt_id": case.receipt_id, "identity_key": identity, "email_sha256": email_sha, "attachment_name": attachment.name[:500],
        "media_type": attachment.media_type, "sender": email.sender, "forwarded_from": attachment.forwarded_from,
        "message_id": email.message_id, "received_on": case.received_on, "method": case.method, "layout": fields.layout,
        "amount": amount.quantize(Decimal("0.01")) if amount is not None else None,
        "currency": (currency or "")[:3] or None, "paid_on": fields.paid_on(),
        "payer_name": fields.value("payer_name"), "payer_iban": (fields.value("payer_iban") or "")[:34] or None,
        "payer_tax_id": (fields.value("payer_tax_id") or "")[:16] or None, "payee": fields.value("payee"),
        "purpose": fields.value("purpose"), "invoice_number": decision.invoice_number or (fields.value("invoice_number") or "")[:64] or None,
        "bank_doc_number": (fields.value("bank_doc_number") or "")[:64] or None, "bank_name": fields.value("bank_name"),
        "fields": json.dumps(fields.as_json(), ensure_ascii=False), "status": decision.status, "org_id": decision.org_id,
        "rule": decision.rule, "confidence": decision.confidence, "reason": decision.reason, "decided_at": stamp,
        "line_id": decision.line_id, "settled_on": case.received_on if decision.status == "confirmed" else None,
    }


# --- what the ledger says -------------------------------------------------------------------------


def _decide(conn, cases: list[decide.ReceiptCase], settings: ReceiptSettings) -> list[decide.ReceiptDecision]:
    if not cases:
        return []
    policy = receipt_policy(conn, settings)
    orgs = organizations(conn)
    invoices = {r.invoice_number.upper(): decide.Invoice(r.invoice_number, r.org_id, r.issued_on, r.currency, r.amount, r.status)
                for r in conn.execute(select(schema.invoices)).all()}
    earliest = min(c.received_on for c in cases) - timedelta(days=_BANK_LOOKBACK_DAYS)
    ledger = decide.Ledger(
        provisional=tuple(open_provisional(conn)),
        invoices_with_receipt=frozenset(conn.execute(
            select(schema.receipts.c.invoice_number).where(schema.receipts.c.status.in_(["provisional", "confirmed"]),
                                                           schema.receipts.c.invoice_number.is_not(None))).scalars()),
        bank_credits=tuple(bank_credits(conn, earliest)),
    )
    return decide.decide_receipts(cases, orgs, invoices, policy, ledger)


def receipt_policy(conn, settings: ReceiptSettings) -> decide.ReceiptPolicy:
    lines = schema.normalized_lines
    ours = frozenset(a for a in conn.execute(select(lines.c.account).where(lines.c.record_type == "bank_line").distinct()).scalars() if a)
    return decide.ReceiptPolicy(sales_addresses=frozenset(settings.sales_addresses), caps=dict(settings.caps),
                                min_confidence=float(settings.min_confidence), amount_tolerance=settings.amount_tolerance,
                                our_accounts=ours)


def organizations(conn) -> dict[str, decide.Organization]:
    ibans: dict[str, set[str]] = {}
    for org_id, iban in conn.execute(select(schema.organization_ibans.c.org_id, schema.organization_ibans.c.iban)).all():
        ibans.setdefault(org_id, set()).add(iban)
    return {
        r.org_id: decide.Organization(
            r.org_id, r.name, r.legal_name, r.tax_id, frozenset(ibans.get(r.org_id, ())),
            frozenset(e.strip().lower() for e in (r.notify_emails or "").split(";") if e.strip()))
        for r in conn.execute(select(schema.organizations)).all()
    }


def open_provisional(conn) -> list[decide.OpenProvisional]:
    r = schema.receipts
    return [decide.OpenProvisional(row.receipt_id, row.org_id, row.invoice_number, row.currency, row.amount, row.paid_on)
            for row in conn.execute(select(r).where(r.c.status == "provisional").order_by(r.c.receipt_id)).all()]


def bank_credits(conn, since: date, line_ids: list[str] | None = None) -> list[decide.BankCredit]:
    """Bank lines credited to an organization (matched), booked since `since`, no receipt linked yet."""
    m, lines, r = schema.matches, schema.normalized_lines, schema.receipts
    query = (select(lines.c.line_id, m.c.org_id, lines.c.currency, lines.c.amount, lines.c.booking_date, m.c.invoice_numbers)
             .join(m, m.c.line_id == lines.c.line_id)
             .outerjoin(r, r.c.line_id == lines.c.line_id)
             .where(m.c.status == "matched", r.c.line_id.is_(None), lines.c.booking_date >= since))
    if line_ids is not None:
        query = query.where(lines.c.line_id.in_(line_ids))
    return [decide.BankCredit(row.line_id, row.org_id, row.currency, row.amount, row.booking_date,
                              frozenset(n.upper() for n in (row.invoice_numbers or "").split(";") if n))
            for row in conn.execute(query).all()]


# --- confirmation by the bank line (called by the reconcile service) ------------------------------


def confirm_with_bank_lines(conn, matched: list[dict], tolerance: Decimal = Decimal("0.00")) -> dict[str, object]:
    """For newly matched bank lines, the confirmation entries that replace their customer credits.

    `matched`: dicts with line_id, org_id, account, currency, amount, booking_date, invoice_numbers.
    Returns line_id -> confirmation JournalEntry for each line that confirms an open provisional
    receipt credit; the receipt becomes confirmed and its provisional entry too. The caller posts
    these entries instead of the usual bank credit, so the customer is credited exactly once.
    """
    if not matched:
        return {}
    waiting = open_provisional(conn)
    if not waiting:
        return {}
    by_line = {m["line_id"]: m for m in matched}
    credits = [decide.BankCredit(m["line_id"], m["org_id"], m["currency"], m["amount"], m["booking_date"],
                                 frozenset(n.upper() for n in (m.get("invoice_numbers") or "").split(";") if n)) for m in matched]
    chosen = decide.confirmations(credits, waiting, decide.ReceiptPolicy(amount_tolerance=tolerance))
    entries = {}
    for line_id, receipt in chosen.items():
        line = by_line[line_id]
        entries[line_id] = receipt_entries.confirmation(
            receipt_id=receipt.receipt_id, org_id=receipt.org_id, line_id=line_id, account=line["account"],
            currency=receipt.currency, line_amount=line["amount"], receipt_amount=receipt.amount, booked_on=line["booking_date"])
        _settle(conn, receipt.receipt_id, "confirmed", line["booking_date"], line_id,
                f"confirmed by bank line {line_id} of {line['booking_date']}")
    return entries


def _settle(conn, receipt_id: str, status: str, on: date, line_id: str | None, reason: str) -> None:
    r, j = schema.receipts, schema.journal_entries
    conn.execute(update(r).where(r.c.receipt_id == receipt_id, r.c.status == "provisional")
                 .values(status=status, settled_on=on, line_id=line_id, reason=reason))
    conn.execute(update(j).where(j.c.idempotency_key == receipt_entries.provisional_key(receipt_id)).values(status=status))


# --- delays and reversal --------------------------------------------------------------------------


def settle_receipts(engine: Engine, settings: ReceiptSettings, calendar: BusinessCalendar, as_of: date) -> SettleSummary:
    """Provisional credits with no bank line: late after `confirm_days` business days (the delay
    flag comes from the delays view), reversed after `reverse_days` more when the policy says so."""
    summary = SettleSummary()
    r = schema.receipts
    with engine.begin() as conn:
        for row in conn.execute(select(r).where(r.c.status == "provisional").order_by(r.c.receipt_id)).all():
            age = calendar.business_days_between(row.received_on, as_of)
            if age <= settings.confirm_days:
                continue
            summary.late.append(row.receipt_id)
            if settings.reversal != "reverse" or age <= settings.confirm_days + settings.reverse_days:
                continue
            reason = (f"reversed on {as_of}: no bank line confirmed it within {settings.confirm_days + settings.reverse_days} "
                      f"business days of {row.received_on}")
            post_entries(conn, [receipt_entries.reversal(receipt_id=row.receipt_id, org_id=row.org_id, currency=row.currency,
                                                         amount=row.amount, on=as_of, description=reason)])
            _settle(conn, row.receipt_id, "reversed", as_of, None, reason)
            summary.reversed.append(row.receipt_id)
    return summary


def reversal_alerts(engine: Engine) -> list[tuple[str, str, str]]:
    """(key, source, reason) of each reversed receipt credit: finance is told once (notifications)."""
    r = schema.receipts
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.receipt_id, r.c.org_id, r.c.amount, r.c.currency, r.c.invoice_number, r.c.sender,
                                   r.c.received_on, r.c.reason).where(r.c.status == "reversed").order_by(r.c.receipt_id)).all()
    return [
        (f"receipt-reversed:{row.receipt_id}", f"receipt from {row.sender}",
         f"provisional credit of {row.amount:.2f} {row.currency} to {row.org_id} for invoice {row.invoice_number} "
         f"(received {row.received_on}) {row.reason}")
        for row in rows
    ]


def receipt_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(Counter(conn.execute(select(schema.receipts.c.status)).scalars()))


# --- reading without storing (`payrecon receipts parse`) ------------------------------------------


def parse_receipts(name: str, data: bytes, settings: ReceiptSettings) -> list[dict]:
    """The receipts of one .eml (or of one PDF/JPEG/PNG file) as normalized records (record_type
    `receipt`), each field's confidence under `extra`; an unreadable attachment gives its reason."""
    from sources.receipt_text import sniff

    records: list[dict] = []
    if sniff(data):
        attachments, sender = [Attachment(name, sniff(data), data)], None
    else:
        email = read_email(data, settings.limits, name)
        attachments, sender = email.attachments, email.sender
        records += [{"record_type": "receipt", "attachment": n, "error": reason} for n, reason in email.rejected]
    for attachment in attachments:
        try:
            text = read_attachment(attachment.name, attachment.data, settings.limits)
        except AttachmentError as exc:
            records.append({"record_type": "receipt", "attachment": attachment.name, "error": str(exc)})
            continue
        fields = read_fields(text.lines, ocr=text.method == "ocr")
        records.append({
            "record_type": "receipt", "source_format": SOURCE, "account": fields.value("payee_iban"),
            "booking_date": fields.value("paid_on"), "value_date": None, "amount": fields.value("amount"),
            "currency": fields.value("currency"), "counterparty_name": fields.value("payer_name"),
            "counterparty_account": fields.value("payer_iban"), "counterparty_tax_id": fields.value("payer_tax_id"),
            "remittance": fields.value("purpose"), "end_to_end_id": None, "bank_ref": fields.value("bank_doc_number"),
            "line_id": attachment.sha256[:32],
            "extra": {"attachment": attachment.name, "sender": sender, "forwarded_from": attachment.forwarded_from,
                      "method": text.method, "unreadable": text.reason, **fields.as_json()},
        })
    return records
