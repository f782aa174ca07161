"""Ingest raw files: store, parse, validate against the data contract, load. Idempotent.

A file that cannot be parsed is kept and marked quarantined with its reason; a row that breaks the
contract is kept in quarantined_rows with its reasons; the other files and rows go on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
from sqlalchemy import Engine, update

from data_contracts import validate
from data_contracts.statement_integrity import check_statements
from ledger import schema
from ledger.repository import insert_ignore, now
from payrecon.services.raw_files import mark_quarantined, store_raw_file
from payrecon.storage import BlobStore
from sources.base import Source
from sources.errors import SourceError
from sources.records import RECORD_FIELDS
from sources.registry import parse_file

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    name: str
    sha256: str
    status: str  # loaded | quarantined | skipped (already ingested)
    source: str | None = None
    transactions_found: int = 0
    records_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    statements: int = 0
    #: problems finance must see although the file loaded: unbalanced statements, failed control totals
    flags: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.status == "quarantined":
            return f"{self.name}: quarantined: {self.reason}"
        if self.status == "skipped":
            return f"{self.name}: already ingested ({self.reason})"
        extra = f", {self.rows_quarantined} rows quarantined" if self.rows_quarantined else ""
        if self.flags:
            extra += f", {len(self.flags)} flagged: {self.flags[0]}" + (" ..." if len(self.flags) > 1 else "")
        return f"{self.name}: {self.records_loaded} records loaded from {self.transactions_found} transactions ({self.source}){extra}"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the files inside folders named (sorted, hidden files skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def ingest_file(
    engine: Engine, store: BlobStore, sources: Sequence[Source], path: Path, source_name: str | None = None
) -> FileOutcome:
    data = path.read_bytes()
    stored = store_raw_file(engine, store, path.name, data)
    if stored.status != "stored":
        return FileOutcome(path.name, stored.sha256, "skipped", reason=f"{stored.status} before as {stored.original_name}")
    try:
        source, result = parse_file(path, sources, source_name)
    except SourceError as exc:
        reason = str(exc)
        with engine.begin() as conn:
            mark_quarantined(conn, stored.sha256, source_name, reason)
        log.warning("quarantined %s: %s", path.name, reason)
        return FileOutcome(path.name, stored.sha256, "quarantined", source=source_name, reason=reason)

    frame = pd.DataFrame([r.as_dict() for r in result.records], columns=list(RECORD_FIELDS), dtype="str")
    extras = {r.line_id: json.dumps(r.extra, ensure_ascii=False, sort_keys=True) for r in result.records if r.extra}
    checked = validate(frame, "normalized_lines")
    statement_checks = check_statements(source.name, result.statements, result.records)
    flags = [
        f"statement {c.statement_id or c.statement_key[:8]} of {c.account}: {c.balance_problem}"
        for c in statement_checks
        if c.balance_check == "failed"
    ] + [f"{c.name} ({c.scope}): file says {c.expected}, lines give {c.actual}" for c in result.checks if not c.passed]
    loaded_at = now()
    with engine.begin() as conn:
        insert_ignore(conn, schema.statements, [{**vars(c), "raw_file_sha256": stored.sha256} for c in statement_checks])
        insert_ignore(
            conn,
            schema.control_checks,
            [{**vars(c), "raw_file_sha256": stored.sha256} for c in {(c.name, c.scope): c for c in result.checks}.values()],
        )
        insert_ignore(conn, schema.normalized_lines, _line_rows(checked.valid, stored.sha256, loaded_at, extras))
        insert_ignore(
            conn,
            schema.quarantined_rows,
            [
                {
                    "raw_file_sha256": stored.sha256,
                    "row_key": str(row.get("line_id") or f"row-{index}"),
                    "reason": row["reason"],
                    "record": json.dumps({k: _json_safe(v) for k, v in row.items() if k != "reason"}, ensure_ascii=False),
                    "quarantined_at": loaded_at,
                }
                for index, row in checked.quarantined.to_dict("index").items()
            ],
        )
        conn.execute(
            update(schema.raw_files)
            .where(schema.raw_files.c.sha256 == stored.sha256)
            .values(
                status="loaded",
                source=source.name,
                error=None,
                transactions_found=result.transactions_found,
                records_loaded=len(checked.valid),
                rows_quarantined=len(checked.quarantined),
            )
        )
    return FileOutcome(
        path.name,
        stored.sha256,
        "loaded",
        source=source.name,
        transactions_found=result.transactions_found,
        records_loaded=len(checked.valid),
        rows_quarantined=len(checked.quarantined),
        warnings=result.warnings,
        statements=len(statement_checks),
        flags=flags,
    )


def _json_safe(value):
    if value is None or (isinstance(value, float) and value != value):  # float-ok: NaN test
        return None
    return str(value)


def _none(value):
    return None if value is None or (isinstance(value, float) and value != value) else value  # float-ok: NaN test


def _line_rows(valid: pd.DataFrame, sha256: str, loaded_at, extras: dict[str, str]) -> list[dict]:
    rows = []
    for record in valid.to_dict("records"):
        row = {k: _none(record[k]) for k in RECORD_FIELDS}
        row["amount"] = Decimal(row["amount"])
        row["booking_date"] = date.fromisoformat(row["booking_date"])
        row["value_date"] = date.fromisoformat(row["value_date"]) if row["value_date"] else None
        row["raw_file_sha256"] = sha256
        row["extra"] = extras.get(row["line_id"])
        row["loaded_at"] = loaded_at
        rows.append(row)
    return rows


def ingest_paths(engine: Engine, store: BlobStore, sources: Sequence[Source], paths: Iterable[Path], source_name: str | None = None) -> list[FileOutcome]:
    return [ingest_file(engine, store, sources, path, source_name) for path in expand_paths(paths)]
