"""Receipt emails: attachments found by their bytes, forwards opened, logos and junk left out, limits
and SES verdicts respected, malformed messages refused with a reason."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from sources.receipt_email import MalformedEmail, read_email
from sources.receipt_text import JPEG, PDF, PNG, ReceiptLimits
from tests.receipt_factory import forwarded_email, receipt_email, receipt_image, receipt_pdf, spec_for

PDF_BYTES = receipt_pdf(spec_for("2026-00101"))
PNG_BYTES = receipt_image(spec_for("2026-00102", "monobank"))


def test_sender_subject_and_every_receipt_attachment():
    email = read_email(receipt_email("Buh <BUH@Sonyachna.Example.com>", [("a.pdf", PDF_BYTES), ("b.png", PNG_BYTES)],
                                     subject="Квитанція про оплату рахунку"))
    assert email.sender == "buh@sonyachna.example.com"
    assert email.subject == "Квитанція про оплату рахунку" and email.message_id.endswith("@payrecon.test>")
    assert [(a.name, a.media_type, a.data) for a in email.attachments] == [("a.pdf", PDF, PDF_BYTES), ("b.png", PNG, PNG_BYTES)]
    assert email.rejected == [] and email.authentication is None


def test_a_forwarded_message_yields_its_attachments_once_with_the_customer_kept():
    inner = receipt_email("olena@gmail.example", [("receipt.jpg", receipt_image(spec_for("2026-00101"), "JPEG"))])
    email = read_email(forwarded_email("Manager <sales@payrecon.test>", inner))
    assert email.sender == "sales@payrecon.test"  # who vouches: the address that sent it to us
    [attachment] = email.attachments
    assert (attachment.name, attachment.media_type, attachment.forwarded_from) == ("receipt.jpg", JPEG, "olena@gmail.example")
    # A forward of a forward of a forward is still read; deeper is refused with a reason.
    deep = inner
    for _ in range(3):
        deep = forwarded_email("sales@payrecon.test", deep)
    assert [a.name for a in read_email(forwarded_email("sales@payrecon.test", inner)).attachments] == ["receipt.jpg"]
    assert "forwarded more than 3 levels deep" in read_email(deep).rejected[0][1]


def test_the_bytes_decide_the_type_not_the_declared_one():
    message = EmailMessage()
    message["From"] = "buh@sonyachna.example.com"
    message["Subject"] = "оплата"
    message.set_content("див. вкладення")
    message.add_attachment(PDF_BYTES, maintype="application", subtype="octet-stream", filename="scan")  # no extension
    message.add_attachment(b"PK\x03\x04 word document", maintype="application", subtype="pdf", filename="fake.pdf")
    message.add_attachment(b"just notes", maintype="text", subtype="plain", filename="notes.txt")
    email = read_email(bytes(message))
    assert [(a.name, a.media_type) for a in email.attachments] == [("scan", PDF)]
    assert len(email.rejected) == 1 and "fake.pdf: declared application/pdf but is not a PDF, JPEG or PNG" in email.rejected[0][1]


def test_a_signature_logo_in_the_html_body_is_not_a_receipt():
    message = EmailMessage()
    message["From"] = "buh@sonyachna.example.com"
    message.set_content("квитанція у вкладенні")
    message.add_alternative('<p>квитанція у вкладенні</p><img src="cid:logo123">', subtype="html")
    html = message.get_payload()[1]
    html.add_related(PNG_BYTES, maintype="image", subtype="png", cid="<logo123>")
    message.add_attachment(PDF_BYTES, maintype="application", subtype="pdf", filename="receipt.pdf")
    assert [a.name for a in read_email(bytes(message)).attachments] == ["receipt.pdf"]


def test_limits_on_size_and_count():
    data = receipt_email("buh@sonyachna.example.com", [(f"r{n}.pdf", PDF_BYTES) for n in range(3)])
    email = read_email(data, ReceiptLimits(max_attachments=2))
    assert len(email.attachments) == 2 and "more than 2 attachments" in email.rejected[0][1]
    email = read_email(data, ReceiptLimits(max_attachment_bytes=1024))
    assert not email.attachments and all("more than the 1024-byte limit" in r for _, r in email.rejected)
    with pytest.raises(MalformedEmail, match="more than the 2048-byte limit for an email"):
        read_email(data, ReceiptLimits(max_email_bytes=2048))


def test_a_damaged_base64_attachment_is_rejected_with_its_reason():
    body = base64.b64encode(PDF_BYTES).decode()
    raw = (
        "From: buh@sonyachna.example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{body[:-7]}!!\r\n--b--\r\n"
    ).encode()
    email = read_email(raw)
    assert not email.attachments and "base64 encoding is damaged" in email.rejected[0][1]


def test_ses_verdicts():
    spoofed = receipt_email("buh@sonyachna.example.com", [("r.pdf", PDF_BYTES)],
                            headers={"Authentication-Results": "amazonses.com; spf=pass; dkim=fail header.i=@sonyachna.example.com; dmarc=fail"})
    assert read_email(spoofed).authentication == "the sender's address failed authentication (dkim=fail, dmarc=fail)"
    clean = receipt_email("buh@sonyachna.example.com", [("r.pdf", PDF_BYTES)],
                          headers={"Authentication-Results": "amazonses.com; spf=pass; dkim=pass; dmarc=pass", "X-SES-Spam-Verdict": "PASS"})
    assert read_email(clean).authentication is None
    virus = receipt_email("buh@sonyachna.example.com", [("r.pdf", PDF_BYTES)], headers={"X-SES-Virus-Verdict": "FAIL"})
    with pytest.raises(MalformedEmail, match="virus"):
        read_email(virus)


@pytest.mark.parametrize("data, message", [
    (b"%PDF-1.4 a pdf, not an email", "not an email message"),
    (b"Subject: no sender\r\n\r\nbody", "no sender address"),
    (b"", "not an email message"),
])
def test_malformed_emails_are_refused_with_a_reason(data, message):
    with pytest.raises(MalformedEmail, match=message):
        read_email(data, name="x.eml")
