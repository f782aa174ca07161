"""The one list of sources, and detection that refuses to guess.

Two sources claiming one file is an error naming both (not first-wins); no source claiming it is an
error naming what was tried, unless a source can say why a file of its kind is unreadable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from sources.base import HEAD_BYTES, Source
from sources.errors import AmbiguousFile, MalformedFile, UnknownSource, UnrecognizedFile
from sources.adyen_reports import AdyenSettlementSource
from sources.camt import CamtSource
from sources.liqpay_reports import LiqpayReportSource
from sources.paypal_reports import PaypalActivitySource, PaypalSettlementSource
from sources.stripe_reports import StripeReportSource
from sources.pdf_statement import PdfStatementSource
from sources.clientbank_1c import ClientBankExchangeSource
from sources.monobank_json import MonobankJsonSource
from sources.mt940 import Mt940Source
from sources.ofx import OfxSource
from sources.privat24_csv import Privat24CsvSource
from sources.privatbank_json import PrivatbankJsonSource
from sources.records import ParseResult


def build_sources(privat24_columns: Mapping[str, tuple[str, ...]] | None = None) -> list[Source]:
    """Every registered source, configured. Add a new format here and only here."""
    return [
        Privat24CsvSource(columns=privat24_columns),
        PrivatbankJsonSource(),
        MonobankJsonSource(),
        ClientBankExchangeSource(),
        OfxSource(),
        Mt940Source(),
        CamtSource(),
        PdfStatementSource(),
        PaypalSettlementSource(),
        PaypalActivitySource(),
        StripeReportSource(),
        AdyenSettlementSource(),
        LiqpayReportSource(),
    ]


def source_by_name(name: str, sources: Sequence[Source]) -> Source:
    for source in sources:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources)
    raise UnknownSource(f"unknown source {name!r}; known sources: {known}")


def detect(path: Path, sources: Sequence[Source]) -> Source:
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    claims = [s for s in sources if s.identify(path, head)]
    if not claims:
        # A source may know why a file of its kind is unreadable (an encrypted or scanned PDF):
        # that reason helps a person more than "nobody recognizes it".
        for source in sources:
            diagnose = getattr(source, "diagnose", None)
            reason = diagnose(path) if diagnose else None
            if reason:
                raise MalformedFile(reason)
        tried = ", ".join(s.name for s in sources)
        raise UnrecognizedFile(f"{path.name}: no source recognizes this file (tried: {tried})")
    if len(claims) > 1:
        names = ", ".join(s.name for s in claims)
        raise AmbiguousFile(f"{path.name}: claimed by several sources ({names}); pass --source NAME")
    return claims[0]


def parse_file(path: Path, sources: Sequence[Source], source_name: str | None = None) -> tuple[Source, ParseResult]:
    source = source_by_name(source_name, sources) if source_name else detect(path, sources)
    return source, source.parse(path)
