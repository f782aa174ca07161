"""Reading receipts: text layers with pdfplumber, scans and photos with Tesseract (ukr+eng), fields with
confidences, and the limits that keep a hostile attachment from costing more than itself."""

from __future__ import annotations

import io
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest
from fpdf import FPDF
from PIL import Image

from sources.receipt_fields import clean_ocr, read_fields
from sources.receipt_text import AttachmentError, ReceiptLimits, TextLine, read_attachment, tesseract_problem, tsv_lines
from tests.pdf_factory import FONT
from tests.receipt_factory import image_only_pdf, receipt_image, receipt_pdf, spec_for

LIMITS = ReceiptLimits()
needs_tesseract = pytest.mark.skipif(tesseract_problem(LIMITS) is not None, reason=str(tesseract_problem(LIMITS)))

#: Varied receipts: every layout, three currencies, names with apostrophes and quotes, dates in words.
SPECS = [
    spec_for("2026-00101", "privat24"),
    spec_for("2026-00102", "monobank", paid_at=datetime(2026, 11, 17, 9, 5), doc_number="7731-0042-9915"),
    spec_for("2026-00106", "payment_order", paid_at=datetime(2026, 11, 18, 16, 40), doc_number="457"),
    spec_for("2026-00105", "privat24", paid_at=datetime(2026, 11, 19, 10, 0), doc_number="9911002233",
             payer_name="ТОВ «Чернігів Медіа» (п'ятий офіс)"),
    spec_for("2026-00103", "monobank", paid_at=datetime(2026, 11, 20, 13, 13), doc_number="2875-1190-4432",
             amount=Decimal("12000.00")),
    spec_for("2026-00107", "payment_order", paid_at=datetime(2026, 12, 23, 8, 30), doc_number="1208"),
]


def _expected(spec) -> dict[str, str]:
    return {**spec.expected(), "invoice_number": spec.purpose.split("№ ")[1].split(" ")[0]}


def _score(found, spec) -> tuple[int, int, list[str]]:
    wrong = [f"{k}: {v!r} read as {found.value(k)!r}" for k, v in _expected(spec).items() if found.value(k) != v]
    return len(_expected(spec)) - len(wrong), len(_expected(spec)), wrong


def test_text_layer_pdfs_read_every_field_exactly():
    right = total = 0
    for spec in SPECS:
        text = read_attachment("receipt.pdf", receipt_pdf(spec), LIMITS)
        assert text.method == "text" and text.pages == 1
        fields = read_fields(text.lines)
        assert fields.layout == spec.layout
        ok, n, wrong = _score(fields, spec)
        assert not wrong, wrong
        right, total = right + ok, total + n
        assert all(fields.confidence(k) >= 0.95 for k in _expected(spec))
    assert (right, total) == (66, 66)


@needs_tesseract
@pytest.mark.parametrize("kind", ["png scan", "jpeg photo", "image-only pdf"])
def test_ocr_reads_scans_and_photos(kind):
    """Accuracy over the generated receipts: every money-deciding field exact, the rest nearly so."""
    right = total = 0
    misses = []

    def read(number: int):
        spec = SPECS[number]
        if kind == "png scan":
            return read_attachment("scan.png", receipt_image(spec, "PNG"), LIMITS)
        if kind == "jpeg photo":
            return read_attachment("photo.jpg", receipt_image(spec, "JPEG", photo=True, seed=number), LIMITS)
        return read_attachment("scan.pdf", image_only_pdf(spec), LIMITS)

    with ThreadPoolExecutor(2) as pool:  # each read is a child process: two cores, two at a time
        texts = list(pool.map(read, range(len(SPECS))))
    for spec, text in zip(SPECS, texts):
        assert text.method == "ocr"
        fields = read_fields(text.lines, ocr=True)
        ok, n, wrong = _score(fields, spec)
        right, total = right + ok, total + n
        misses += wrong
        for key in ("amount", "currency", "paid_on", "payer_tax_id", "payer_iban", "invoice_number", "bank_doc_number"):
            assert fields.value(key) == _expected(spec)[key], (kind, spec.layout, key, fields.value(key))
        assert fields.confidence("payer_iban") >= 0.97  # the mod-97 check proved it
    print(f"OCR {kind}: {right}/{total} fields right; misses: {misses}")
    assert right / total >= 0.95, misses


def test_ocr_confusions_are_undone():
    assert clean_ocr("КВИТАНЦІЯ Ne 4523786190") == "КВИТАНЦІЯ № 4523786190"
    assert clean_ocr("ІВАМ відправника: ЦА223052990000026001234567890") == "IBAN відправника: UA223052990000026001234567890"
    assert clean_ocr("Сума: 4 800,99 ДАН") == "Сума: 4 800,99 UAH"
    assert clean_ocr("у т.ч. ПДВ 2096 800,17 грн") == "у т.ч. ПДВ 20% 800,17 грн"


def test_a_check_digit_that_fails_cuts_the_confidence():
    lines = [TextLine(t, 0.9) for t in ("Платник: ТОВ «Сонячна Долина»", "IBAN платника: UA223052990000026001234567891",
                                        "Код платника: 37123456", "Сума: 100,00 грн")]
    fields = read_fields(lines, ocr=True)
    assert fields.value("payer_iban") == "UA223052990000026001234567891" and fields.confidence("payer_iban") <= 0.3
    assert fields.confidence("payer_tax_id") <= 0.3
    assert (fields.value("amount"), fields.value("currency")) == ("100.00", "UAH")


def test_tesseract_tsv_becomes_lines_with_mean_confidence():
    tsv = "\n".join([
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96\tСума:",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\t4 800,99",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t90\tUAH",
        "4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t",
    ])
    assert tsv_lines(tsv) == [TextLine("Сума: 4 800,99", 0.88), TextLine("UAH", 0.9)]


def test_without_tesseract_an_image_comes_back_unread_with_the_reason():
    limits = ReceiptLimits(tesseract="/nonexistent/tesseract")
    text = read_attachment("photo.jpg", receipt_image(SPECS[0], "JPEG"), limits)
    assert text.method == "none" and not text.lines
    assert "Tesseract is not installed" in text.reason and "apt-get install tesseract-ocr" in text.reason
    assert read_attachment("receipt.pdf", receipt_pdf(SPECS[0]), limits).method == "text"  # a text layer needs no OCR


# --- limits ------------------------------------------------------------------------------------------


def test_an_attachment_over_the_size_limit_is_refused_unread():
    with pytest.raises(AttachmentError, match="more than the 1024-byte limit"):
        read_attachment("big.pdf", receipt_pdf(SPECS[0]), ReceiptLimits(max_attachment_bytes=1024))


def test_a_file_that_is_no_receipt_format_is_refused():
    with pytest.raises(AttachmentError, match="not a PDF, JPEG or PNG"):
        read_attachment("invoice.pdf", b"PK\x03\x04 a zip, say a .docx", LIMITS)


def test_too_many_pages_are_refused():
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=12)
    for page in range(7):
        pdf.add_page()
        pdf.cell(0, 10, f"Сторінка {page + 1}: квитанція про оплату рахунку")
    with pytest.raises(AttachmentError, match="more than 5 pages"):
        read_attachment("many.pdf", bytes(pdf.output()), LIMITS)


def test_an_image_with_too_many_pixels_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("L", (9000, 9000), 255).save(buffer, format="PNG")  # 81 megapixels in a few kilobytes
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(AttachmentError, match="pixel limit|decompression bomb"):
        read_attachment("bomb.png", buffer.getvalue(), ReceiptLimits(max_pixels=40_000_000))


def test_damaged_truncated_and_locked_pdfs_are_refused_with_their_reason():
    good = receipt_pdf(SPECS[0])
    with pytest.raises(AttachmentError, match="truncated"):
        read_attachment("cut.pdf", good[: len(good) // 2], LIMITS)
    with pytest.raises(AttachmentError, match="damaged"):
        read_attachment("junk.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n", LIMITS)
    locked = FPDF()
    locked.add_page()
    locked.set_font("helvetica", size=12)
    locked.cell(0, 10, "receipt")
    locked.set_encryption(owner_password="owner", user_password="secret")
    with pytest.raises(AttachmentError, match="password-protected"):
        read_attachment("locked.pdf", bytes(locked.output()), LIMITS)
    with pytest.raises(AttachmentError, match="image is damaged"):
        read_attachment("half.png", receipt_image(SPECS[0])[:3000], LIMITS)


def _deflate_bomb(megabytes: int) -> bytes:
    """A one-page PDF whose content stream inflates from under a megabyte to `megabytes` of zeros."""
    packer = zlib.compressobj(1)
    chunk = b"\0" * 2**20
    body = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_a_decompression_bomb_hits_the_memory_limit_or_the_timeout_not_the_run():
    bomb = _deflate_bomb(512)  # 2.3 MB that inflate to 512 MB
    assert len(bomb) < 3 * 2**20
    with pytest.raises(AttachmentError, match="more than the 256 MB memory limit"):
        read_attachment("bomb.pdf", bomb, ReceiptLimits(memory_mb=256))
    with pytest.raises(AttachmentError, match="longer than 1 s"):
        read_attachment("bomb.pdf", bomb, ReceiptLimits(timeout_seconds=1, memory_mb=8192))
