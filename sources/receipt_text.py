"""The text of one receipt attachment: pdfplumber for a PDF with a text layer, Tesseract OCR
(ukr+eng) for a JPEG/PNG or an image-only PDF. No database, no Prefect.

Safety (an attachment is whatever a stranger emailed): each attachment is read in a child process
(`python -m sources.receipt_text`) with a wall-clock timeout and an address-space limit, so a PDF
decompression bomb, a pathological image or a hung OCR costs one attachment, never the run. Before
decoding, the limits are checked that can be checked cheaply: bytes, PDF pages, image pixels (Pillow's
decompression-bomb guard, set to `max_pixels`).

Tesseract is optional (Debian `tesseract-ocr`, `tesseract-ocr-ukr`): without it an image receipt
comes back with `method="none"` and the reason, and goes to review.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from sources.errors import SourceError

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
MEDIA_TYPES = (PDF, JPEG, PNG)
#: a PDF page with fewer letters and digits than this has no usable text layer (a scan)
_MIN_TEXT_CHARS = 40
#: dots per inch at which an image-only PDF page is rendered for OCR
_OCR_DPI = 200


class AttachmentError(SourceError):
    """An attachment that cannot be read safely or at all; it is quarantined with this reason."""


@dataclass(frozen=True)
class ReceiptLimits:
    """What one email and its attachments may cost (PAYRECON_RECEIPTS_* settings)."""

    max_email_bytes: int = 30 * 2**20
    max_attachment_bytes: int = 10 * 2**20
    max_attachments: int = 20
    max_pages: int = 5
    max_pixels: int = 40_000_000
    timeout_seconds: int = 60
    memory_mb: int = 1024
    tesseract: str = "tesseract"
    ocr_languages: str = "ukr+eng"
    isolate: bool = True  # read each attachment in a child process (timeouts and memory limit)


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float  # float-ok: 0..1, how sure the reader is of this line (OCR word confidences)


@dataclass
class ReceiptText:
    method: str  # text (a PDF's text layer) | ocr | none (an image and no OCR available)
    lines: list[TextLine] = field(default_factory=list)
    pages: int = 0
    reason: str | None = None  # why method is none

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def sniff(data: bytes) -> str | None:
    """The media type from the bytes themselves (what a sender declares is not trusted)."""
    if data.startswith(b"%PDF-") or data[:1024].lstrip().startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def tesseract_problem(limits: ReceiptLimits) -> str | None:
    """None when Tesseract with the wanted languages is there, else why not (one line)."""
    binary = shutil.which(limits.tesseract)
    if binary is None:
        return ("OCR is not available: Tesseract is not installed "
                "(apt-get install tesseract-ocr tesseract-ocr-ukr), so an image receipt cannot be read")
    try:
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"OCR is not available: {limits.tesseract} --list-langs failed ({exc})"
    have = set(listed.stdout.decode("utf-8", "replace").split())
    missing = [lang for lang in limits.ocr_languages.split("+") if lang not in have]
    if missing:
        return f"OCR is not available: Tesseract lacks language data {', '.join(missing)} (apt-get install tesseract-ocr-{missing[0]})"
    return None


# --- the parent side: run the reader in a child process ---------------------------------------------


def read_attachment(name: str, data: bytes, limits: ReceiptLimits) -> ReceiptText:
    """The attachment's text, or AttachmentError with a reason a person can act on."""
    if len(data) > limits.max_attachment_bytes:
        raise AttachmentError(f"{name}: {len(data)} bytes, more than the {limits.max_attachment_bytes}-byte limit for an attachment")
    media = sniff(data)
    if media is None:
        raise AttachmentError(f"{name}: not a PDF, JPEG or PNG file (starts with {data[:8]!r})")
    if not limits.isolate:
        return _read(name, media, data, limits)
    header = json.dumps({"name": name, "media": media, "limits": asdict(limits)}).encode("utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sources.receipt_text"],
            input=header + b"\n" + data,
            capture_output=True,
            timeout=limits.timeout_seconds,
            preexec_fn=_limit_memory(limits.memory_mb) if os.name == "posix" else None,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AttachmentError(f"{name}: reading took longer than {limits.timeout_seconds} s (the limit); "
                              "a damaged or oversized file, or too slow to OCR") from None
    if done.returncode != 0 or not done.stdout:
        if done.returncode < 0:
            raise AttachmentError(f"{name}: the reader was stopped by signal {-done.returncode} "
                                  f"(over the {limits.memory_mb} MB memory limit, or crashed)")
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise AttachmentError(f"{name}: the reader failed ({last[:160]})")
    answer = json.loads(done.stdout)
    if "error" in answer:
        raise AttachmentError(answer["error"])
    return ReceiptText(method=answer["method"], lines=[TextLine(t, c) for t, c in answer["lines"]], pages=answer["pages"],
                       reason=answer.get("reason"))


def _limit_memory(megabytes: int):
    def apply() -> None:
        import resource

        limit = megabytes * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


# --- the child side: the readers --------------------------------------------------------------------


def _read(name: str, media: str, data: bytes, limits: ReceiptLimits) -> ReceiptText:
    try:
        if media == PDF:
            return _read_pdf(name, data, limits)
        return _ocr_images(name, [_checked_image(name, data, limits)], limits)
    except AttachmentError:
        raise
    except Exception as exc:  # noqa: BLE001 - see below
        if not (isinstance(exc, MemoryError) or "allocate" in str(exc).lower()):
            return _damaged(name, media, exc)
        raise AttachmentError(f"{name}: reading needed more than the {limits.memory_mb} MB memory limit "
                              "(a decompression bomb, or a far too large file)") from None


def _damaged(name: str, media: str, exc: Exception):
    """pdfminer and Pillow raise anything on a damaged file."""
    detail = " ".join(str(exc).split())[:120]
    kind = "PDF" if media == PDF else "image"
    raise AttachmentError(f"{name}: the {kind} is damaged and cannot be read ({type(exc).__name__}: {detail})") from None


def _read_pdf(name: str, data: bytes, limits: ReceiptLimits) -> ReceiptText:
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfpage import PDFPage
    from pdfplumber.page import Page
    from pdfplumber.utils.exceptions import PdfminerException

    if b"%%EOF" not in data[-2048:]:
        raise AttachmentError(f"{name}: the PDF is truncated (no %%EOF end marker); ask the customer to send it again")
    lines: list[TextLine] = []
    pages: list = []
    count = 0
    try:
        with pdfplumber.open(io.BytesIO(data), unicode_norm="NFC", raise_unicode_errors=False) as pdf:
            doctop = 0.0  # float-ok: page geometry
            for number, page_obj in enumerate(PDFPage.create_pages(pdf.doc), start=1):
                if number > limits.max_pages:
                    raise AttachmentError(f"{name}: more than {limits.max_pages} pages; a receipt has at most {limits.max_pages}")
                count = number
                page = Page(pdf, page_obj, page_number=number, initial_doctop=doctop)
                doctop += page.height
                text = page.extract_text(layout=False) or ""
                if sum(ch.isalnum() for ch in text) >= _MIN_TEXT_CHARS:
                    lines.extend(TextLine(t.strip(), 1.0) for t in text.splitlines() if t.strip())
                else:
                    pages.append(_render(name, page, limits))
                page.close()
    except PdfminerException as exc:
        inner = exc.args[0] if exc.args else exc
        if isinstance(inner, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise AttachmentError(f"{name}: the PDF is password-protected; ask the customer for an unprotected copy") from None
        raise
    if count == 0:
        raise AttachmentError(f"{name}: the PDF has no pages")
    if not pages:
        return ReceiptText("text", lines, count)
    scanned = _ocr_images(name, pages, limits)
    return ReceiptText(scanned.method, lines + scanned.lines, count, scanned.reason)


def _render(name: str, page, limits: ReceiptLimits):
    width, height = (int(page.width * _OCR_DPI / 72), int(page.height * _OCR_DPI / 72))
    if width * height > limits.max_pixels:
        raise AttachmentError(f"{name}: a page of {page.width:.0f}x{page.height:.0f} pt is too large to OCR "
                              f"({width * height} pixels at {_OCR_DPI} dpi, limit {limits.max_pixels})")
    return page.to_image(resolution=_OCR_DPI).original.convert("L")


def _checked_image(name: str, data: bytes, limits: ReceiptLimits):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limits.max_pixels // 2  # Pillow refuses at twice this: the limit itself
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > limits.max_pixels:
            raise AttachmentError(f"{name}: the image is {width}x{height} = {width * height} pixels, "
                                  f"more than the {limits.max_pixels}-pixel limit (a decompression bomb?)")
        image.load()
    except Image.DecompressionBombError as exc:
        raise AttachmentError(f"{name}: refused as a decompression bomb ({exc})") from None
    return image.convert("L")


def _ocr_images(name: str, images: list, limits: ReceiptLimits) -> ReceiptText:
    problem = tesseract_problem(limits)
    if problem:
        return ReceiptText("none", [], len(images), problem)
    lines: list[TextLine] = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        done = subprocess.run(
            [shutil.which(limits.tesseract) or limits.tesseract, "stdin", "stdout", "-l", limits.ocr_languages,
             "--psm", "6", "tsv"],
            input=buffer.getvalue(), capture_output=True, timeout=limits.timeout_seconds, check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
        if done.returncode != 0:
            last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            raise AttachmentError(f"{name}: Tesseract failed ({last[:160]})")
        lines.extend(tsv_lines(done.stdout.decode("utf-8", "replace")))
    return ReceiptText("ocr", lines, len(images))


def tsv_lines(tsv: str) -> list[TextLine]:
    """Tesseract's TSV (one row per word) back into lines, each with its words' mean confidence."""
    grouped: dict[tuple[int, int, int, int], list[tuple[str, float]]] = {}  # float-ok: OCR confidences
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        key = (int(cells[1]), int(cells[2]), int(cells[3]), int(cells[4]))
        grouped.setdefault(key, []).append((cells[11], max(0.0, float(cells[10])) / 100))  # float-ok
    return [
        TextLine(" ".join(w for w, _ in words), round(sum(c for _, c in words) / len(words), 3))
        for _, words in sorted(grouped.items())
    ]


def _child() -> int:
    """`python -m sources.receipt_text`: a JSON header line, then the attachment's bytes, on stdin;
    the result (or {"error": reason}) as JSON on stdout."""
    raw = sys.stdin.buffer.read()
    header, _, data = raw.partition(b"\n")
    spec = json.loads(header)
    limits = ReceiptLimits(**spec["limits"])
    try:
        result = _read(spec["name"], spec["media"], data, limits)
        answer = {"method": result.method, "lines": [[l.text, l.confidence] for l in result.lines], "pages": result.pages,
                  "reason": result.reason}
    except AttachmentError as exc:
        answer = {"error": str(exc)}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
