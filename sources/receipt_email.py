"""A raw email (.eml, as SES inbound stores it) to its sender and its receipt attachments.

Python's `email` package with `policy.default`. A forwarded message is a `message/rfc822` part: its
attachments count too (the address that vouches for them is still the outer sender, the one who
sent the email to us; the inner From is kept for the record). Attachments are PDF, JPEG or PNG by
their bytes, not by what the sender declared; inline pictures referenced from the HTML body
(signature logos) are not receipts. Everything else is listed as skipped or rejected with a reason.

Limits (receipt_text.ReceiptLimits): the email's size, the number of attachments, each attachment's
size; a message nested deeper than 3 forwards is not followed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from sources.errors import MalformedFile
from sources.receipt_text import MEDIA_TYPES, ReceiptLimits, sniff

_MAX_DEPTH = 3
_RECEIPT_EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".png")


class MalformedEmail(MalformedFile):
    """The email as a whole cannot be read; it is quarantined with this reason."""


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    data: bytes
    forwarded_from: str | None = None  # the inner sender when the attachment came inside a forwarded message

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ReceiptEmail:
    sender: str  # the outer From address, lower-case
    subject: str
    message_id: str | None
    sent_at: datetime | None
    attachments: list[Attachment] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (attachment name, reason): quarantined
    authentication: str | None = None  # why the sender cannot be trusted (SPF/DKIM/DMARC failed), else None


def read_email(data: bytes, limits: ReceiptLimits = ReceiptLimits(), name: str = "email") -> ReceiptEmail:
    if len(data) > limits.max_email_bytes:
        raise MalformedEmail(f"{name}: {len(data)} bytes, more than the {limits.max_email_bytes}-byte limit for an email")
    head = data[:4096].decode("latin-1")
    if not re.search(r"^(from|received|return-path|message-id|mime-version|date|to|subject):", head, re.I | re.M):
        raise MalformedEmail(f"{name}: not an email message (no mail headers at the start)")
    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
        sender = _address(message, "From")
    except Exception as exc:  # noqa: BLE001 - the parser can raise on broken header encodings
        raise MalformedEmail(f"{name}: the email's headers cannot be read ({type(exc).__name__}: {exc})") from None
    if not sender:
        raise MalformedEmail(f"{name}: the email has no sender address (From)")
    virus = str(message.get("X-SES-Virus-Verdict", "")).strip().upper()
    if virus == "FAIL":
        raise MalformedEmail(f"{name}: SES marked the email as carrying a virus (X-SES-Virus-Verdict: FAIL); not opened")
    email = ReceiptEmail(
        sender=sender,
        subject=str(message.get("Subject", "") or ""),
        message_id=str(message.get("Message-ID", "") or "").strip() or None,
        sent_at=_date(message),
        authentication=_authentication(message),
    )
    try:
        if message.is_multipart():
            _collect(message, email, limits, depth=0, forwarded_from=None)
    except RecursionError:
        raise MalformedEmail(f"{name}: the email's parts are nested too deeply to read") from None
    return email


def _address(message, header: str) -> str | None:
    values = message.get_all(header) or []
    pairs = getaddresses([str(v) for v in values])
    for _, address in pairs:
        if "@" in address:
            return address.strip().lower()
    return None


def _date(message) -> datetime | None:
    try:
        value = message.get("Date")
        return parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError):
        return None


def _authentication(message) -> str | None:
    """SES (and most receiving servers) record SPF/DKIM/DMARC verdicts: a failed one means the From
    address may be forged, so the sender vouches for nothing."""
    problems = []
    for value in message.get_all("Authentication-Results") or []:
        for check in ("spf", "dkim", "dmarc"):
            verdict = re.search(rf"\b{check}=(\w+)", str(value), re.I)
            if verdict and verdict.group(1).lower() in ("fail", "softfail", "permerror"):
                problems.append(f"{check}={verdict.group(1).lower()}")
    spam = str(message.get("X-SES-Spam-Verdict", "")).strip().upper()
    if spam == "FAIL":
        problems.append("SES spam verdict FAIL")
    return f"the sender's address failed authentication ({', '.join(problems)})" if problems else None


def _collect(message: EmailMessage, email: ReceiptEmail, limits: ReceiptLimits, depth: int, forwarded_from: str | None) -> None:
    referenced = _cid_references(message)
    for part in _leaves(message):
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            if inner is None:
                continue
            if depth + 1 >= _MAX_DEPTH:
                email.rejected.append(("forwarded message", f"forwarded more than {_MAX_DEPTH} levels deep; not opened"))
                continue
            _collect(inner, email, limits, depth + 1, _address(inner, "From") or forwarded_from)
            continue
        name = part.get_filename() or ""
        declared = part.get_content_type()
        disposition = part.get_content_disposition()
        looks_like_receipt = declared in MEDIA_TYPES or name.lower().endswith(_RECEIPT_EXTENSIONS) or (
            declared == "application/octet-stream" and disposition == "attachment")
        if not looks_like_receipt:
            continue
        content_id = str(part.get("Content-ID", "")).strip("<> ")
        if disposition != "attachment" and content_id and content_id in referenced:
            continue  # a picture of the HTML body (a logo), not an attachment
        name = name or f"attachment-{len(email.attachments) + len(email.rejected) + 1}"
        if len(email.attachments) >= limits.max_attachments:
            email.rejected.append((name, f"more than {limits.max_attachments} attachments in one email; not read"))
            continue
        data = part.get_payload(decode=True) or b""  # decoding records its defects on the part
        if any(type(d).__name__.startswith("InvalidBase64") for d in part.defects):
            email.rejected.append((name, f"{name}: the attachment's base64 encoding is damaged; ask for it again"))
            continue
        if len(data) > limits.max_attachment_bytes:
            email.rejected.append((name, f"{name}: {len(data)} bytes, more than the {limits.max_attachment_bytes}-byte limit for an attachment"))
            continue
        media = sniff(data)
        if media is None:
            if declared in MEDIA_TYPES or name.lower().endswith(_RECEIPT_EXTENSIONS):
                email.rejected.append((name, f"{name}: declared {declared} but is not a PDF, JPEG or PNG file (starts with {data[:8]!r})"))
            continue  # an octet-stream that is not a receipt format: some other document
        email.attachments.append(Attachment(name, media, data, forwarded_from))


def _leaves(message: EmailMessage):
    """The message's leaf parts and its forwarded messages, without descending into those (unlike
    `walk()`): a forwarded message's parts are collected by the recursion, once."""
    if message.get_content_type() == "message/rfc822":
        yield message
    elif message.is_multipart():
        for part in message.get_payload():
            yield from _leaves(part)
    else:
        yield message


def _cid_references(message: EmailMessage) -> set[str]:
    found: set[str] = set()
    for part in message.walk():
        if part.get_content_type() == "text/html":
            try:
                found.update(re.findall(r"cid:([^\"'\s>]+)", part.get_content()))
            except (LookupError, ValueError):
                continue
    return found
