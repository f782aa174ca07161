"""Ingest raw files: store, parse, validate against the data contract, load. Idempotent.

A file that cannot be parsed is kept and marked quarantined with its reason; a row that breaks the
contract is kept in quarantined_rows with its reasons; the other files and rows go on.

A file is read as a stream of record batches (sources.fast_common.open_stream: the camt, MT940 and
Adyen fast readers, else the source's parse() cut into batches) and loaded batch by batch in one
transaction, so a 1 GB statement needs about one batch in memory: each batch has its card numbers
masked (sources/masking.py), is validated, and its valid rows are inserted, its bad ones
quarantined. On PostgreSQL a large batch's valid rows are written as CSV by pyarrow and COPYed
into normalized_lines by a second thread while this one reads the next batch (a batch with a line
already stored goes the ON CONFLICT DO NOTHING way instead: _send_lines). The statement balance
checks add up each statement's lines as the batches go by. A file whose reading fails half-way (a
damaged XML, say) is rolled back whole and quarantined.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, Sequence

import io
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from sqlalchemy import Connection, Engine, update

from data_contracts import validate
from data_contracts.statement_integrity import StatementCheck, check_statements, statement_check, statement_key
from ledger import schema
from ledger.repository import insert_ignore, now
from ledger.types import SCALE
from payrecon.services.raw_files import mark_quarantined, store_raw_path
from payrecon.storage import BlobStore
from sources.base import Source
from sources.errors import SourceError
from sources.fast_common import Occurrences, open_stream
from sources.masking import mask_frame
from sources.records import RECORD_FIELDS, RecordBatch
from sources.registry import detect, source_by_name

log = logging.getLogger(__name__)

#: Records validated and loaded at a time: large enough for bulk inserts, small enough that a
#: 1 GB statement stays within a few hundred MB (the fast readers cut batches at their blocks, so
#: a batch may be somewhat larger).
BATCH_RECORDS = 10_000
#: Rows turned into dicts and inserted at a time (a dict per row is the bulkiest form a row takes).
INSERT_ROWS = 5_000
DUPLICATE_REASON = "the same line_id appears twice in one file"


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
    stored = store_raw_path(engine, store, path)
    if stored.status != "stored":
        return FileOutcome(path.name, stored.sha256, "skipped", reason=f"{stored.status} before as {stored.original_name}")
    try:
        source = source_by_name(source_name, sources) if source_name else detect(path, sources)
        stream = open_stream(source, path, BATCH_RECORDS)
        with engine.begin() as conn:
            # The fast readers number repeated lines, so their ids are unique by construction; for
            # the other sources a line id repeated across batches is caught here.
            loader = _FileLoader(conn, source.name, stored.sha256, check_repeats=not getattr(stream, "unique_line_ids", False))
            try:
                for batch in stream.batches():
                    loader.load(batch)
                parsed = getattr(stream, "parsed", None)
                if parsed is not None:
                    loader.add_checks(check_statements(source.name, parsed.statements, parsed.records))
                return loader.finish(path.name, stream)
            finally:
                loader.close()  # a COPY still running ends before the transaction does
    except SourceError as exc:
        reason = str(exc)
        with engine.begin() as conn:
            mark_quarantined(conn, stored.sha256, source_name, reason)
        log.warning("quarantined %s: %s", path.name, reason)
        return FileOutcome(path.name, stored.sha256, "quarantined", source=source_name, reason=reason)


class _StatementLines:
    """One statement's lines as the batches go by: how many, their sum, currencies, and ids."""

    __slots__ = ("count", "total", "currencies", "digests", "other_ids")

    def __init__(self) -> None:
        self.count = 0
        self.total: Decimal | None = Decimal(0)
        self.currencies: set[str] = set()
        self.digests: list[np.ndarray] = []  # 16-byte line ids, as hexadecimal ids are 32 characters
        self.other_ids: list[str] = []

    def add(self, frame: pd.DataFrame) -> None:
        self.count += len(frame)
        if self.total is not None:
            for amount in frame["amount"].tolist():
                try:
                    value = Decimal(amount) if isinstance(amount, str) else None
                except InvalidOperation:
                    value = None
                if value is None or not value.is_finite():
                    self.total = None
                    break
                self.total += value
        self.currencies.update(c for c in frame["currency"].dropna().unique().tolist() if c)
        ids = frame["line_id"].tolist()
        hexadecimal = [i for i in ids if isinstance(i, str) and len(i) == 32]
        try:
            self.digests.append(np.frombuffer(bytes.fromhex("".join(hexadecimal)), dtype="S16"))
            self.other_ids.extend(i for i in ids if not (isinstance(i, str) and len(i) == 32))
        except ValueError:
            self.other_ids.extend(i for i in ids if isinstance(i, str))

    def sorted_ids(self) -> Iterable[str]:
        """The statement's line ids in sorted order (the order statement_key hashes them in)."""
        hexadecimal = np.sort(np.concatenate(self.digests)) if self.digests else np.empty(0, "S16")
        others = sorted(self.other_ids)
        hex_ids = (bytes(d).ljust(16, b"\0").hex() for d in hexadecimal)
        if not others:
            return hex_ids
        return sorted([*hex_ids, *others])


class _FileLoader:
    """Validates and loads one file's batches in one transaction, and keeps the file's totals."""

    def __init__(self, conn: Connection, source_name: str, sha256: str, check_repeats: bool = True):
        self.conn = conn
        self.source_name = source_name
        self.sha256 = sha256
        self.loaded_at = now()
        self.rows = 0
        self.records_loaded = 0
        self.rows_quarantined = 0
        #: line ids of the batches before: one repeated later is quarantined
        self.seen = Occurrences() if check_repeats else None
        self.statements = 0
        self.failed: list[tuple[int, StatementCheck]] = []  # the unbalanced ones, for the flags
        self.lines: dict[int, _StatementLines] = {}
        self._copier: ThreadPoolExecutor | None = None
        self._copying: tuple[Future, pd.DataFrame] | None = None  # the COPY under way and its rows

    def load(self, batch: RecordBatch) -> None:
        frame = mask_frame(batch.frame.reset_index(drop=True))
        offset = self.rows  # row-N keys (rows without a line id) count over the whole file
        self.rows += len(frame)
        for index, part in frame.groupby("statement", sort=False):
            if index >= 0:
                self.lines.setdefault(int(index), _StatementLines()).add(part)
        # A summary comes with or after its statement's last record (RecordBatch): checked and
        # stored now, its lines' ids let go.
        checks = []
        for index, summary in batch.statements:
            lines = self.lines.pop(index, None) or _StatementLines()
            key = statement_key(self.source_name, summary, lines.sorted_ids())
            checks.append((index, statement_check(self.source_name, summary, key, lines.count, 0, lines.total,
                                                  lines.currencies)))
        self.add_checks([check for _, check in checks], [index for index, _ in checks])
        checked = validate(frame, "normalized_lines")
        valid, quarantined = checked.valid, checked.quarantined
        repeated = self._repeated(valid) if self.seen is not None else np.zeros(len(valid), dtype=bool)
        if repeated.any():
            again = valid[repeated].assign(reason=DUPLICATE_REASON)
            valid, quarantined = valid[~repeated], pd.concat([quarantined, again])
        self._write_lines(valid)
        bad = [
                {
                    "raw_file_sha256": self.sha256,
                    "row_key": str(row.get("line_id") or f"row-{offset + index}"),
                    "reason": row["reason"],
                    "record": json.dumps({k: _json_safe(row[k]) for k in RECORD_FIELDS}, ensure_ascii=False),
                    "quarantined_at": self.loaded_at,
                }
                for index, row in quarantined.astype(object).where(quarantined.notna(), None).to_dict("index").items()
        ]
        if bad:
            self._wait()
            insert_ignore(self.conn, schema.quarantined_rows, bad)
        self.records_loaded += len(valid)
        self.rows_quarantined += len(quarantined)
        del frame, checked, valid, quarantined
        pa.default_memory_pool().release_unused()  # what the batch took goes back before the next one

    def _write_lines(self, valid: pd.DataFrame) -> None:
        """Insert the valid rows. On PostgreSQL a large batch is COPYed (_lines_csv, _send_lines)
        in a second thread while this one reads, masks and validates the next batch: the
        connection is used by one thread at a time (_wait before any other statement)."""
        data = _lines_csv(self.conn, valid, self.sha256, self.loaded_at)
        self._wait()
        if data is None:
            self._insert_lines(valid)
            return
        if self._copier is None:
            self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy-lines")
        self._copying = (self._copier.submit(_send_lines, self.conn, data), valid)

    def _insert_lines(self, valid: pd.DataFrame) -> None:
        for start in range(0, len(valid), INSERT_ROWS):
            rows = _line_rows(valid.iloc[start: start + INSERT_ROWS], self.sha256, self.loaded_at)
            insert_ignore(self.conn, schema.normalized_lines, rows)

    def _wait(self) -> None:
        """The COPY under way, finished; a batch whose line ids were partly stored already is
        inserted the idempotent way instead."""
        if self._copying is None:
            return
        future, valid = self._copying
        self._copying = None
        if not future.result():
            self._insert_lines(valid)

    def close(self) -> None:
        """Ends the copying thread (after its COPY, whose error the caller has seen or sees now)."""
        if self._copier is None:
            return
        try:
            if self._copying is not None:
                self._copying[0].exception()  # waits; a failure is the caller's (its transaction rolls back)
                self._copying = None
        finally:
            self._copier.shutdown(wait=True)
            self._copier = None

    def _repeated(self, valid: pd.DataFrame) -> np.ndarray:
        """Rows whose line_id an earlier batch of the file had (within a batch the contract says so)."""
        ids = valid["line_id"].tolist()
        if not ids:
            return np.zeros(0, dtype=bool)
        try:
            digests = bytes.fromhex("".join(ids))
        except (ValueError, TypeError):
            digests = b""
        if len(digests) != 16 * len(ids):  # ids that are not 32 hexadecimal digits: by their hash
            digests = b"".join(_digest(i) for i in ids)
        return self.seen.add_many(digests) > 1

    def add_checks(self, checks: list[StatementCheck], indexes: list[int] | None = None) -> None:
        """Store statement checks (in the statements table) and keep the failed ones for the flags."""
        if checks:
            self._wait()
            insert_ignore(self.conn, schema.statements, [{**vars(c), "raw_file_sha256": self.sha256} for c in checks])
        for index, check in zip(indexes or range(self.statements, self.statements + len(checks)), checks):
            if check.balance_check == "failed":
                self.failed.append((index, check))
        self.statements += len(checks)

    def finish(self, name: str, stream) -> FileOutcome:
        flags = [
            f"statement {c.statement_id or c.statement_key[:8]} of {c.account}: {c.balance_problem}"
            for _, c in sorted(self.failed, key=lambda pair: pair[0])
        ] + [f"{c.name} ({c.scope}): file says {c.expected}, lines give {c.actual}" for c in stream.checks if not c.passed]
        self._wait()
        conn = self.conn
        insert_ignore(
            conn,
            schema.control_checks,
            [{**vars(c), "raw_file_sha256": self.sha256} for c in {(c.name, c.scope): c for c in stream.checks}.values()],
        )
        conn.execute(
            update(schema.raw_files)
            .where(schema.raw_files.c.sha256 == self.sha256)
            .values(
                status="loaded",
                source=self.source_name,
                error=None,
                transactions_found=stream.transactions_found,
                records_loaded=self.records_loaded,
                rows_quarantined=self.rows_quarantined,
            )
        )
        return FileOutcome(
            name,
            self.sha256,
            "loaded",
            source=self.source_name,
            transactions_found=stream.transactions_found,
            records_loaded=self.records_loaded,
            rows_quarantined=self.rows_quarantined,
            warnings=stream.warnings,
            statements=self.statements,
            flags=flags,
        )


_HEXADECIMAL = re.compile(r"[0-9a-f]{32}")


def _digest(line_id) -> bytes:
    """16 bytes that stand for a line id: itself when it is 32 hexadecimal digits, else its hash."""
    text = str(line_id)
    return bytes.fromhex(text) if _HEXADECIMAL.fullmatch(text) else hashlib.blake2b(text.encode(), digest_size=16).digest()


def _json_safe(value):
    if value is None or (isinstance(value, float) and value != value):  # float-ok: NaN test
        return None
    return str(value)


def _column(frame: pd.DataFrame, name: str) -> list:
    values = frame[name]
    return values.astype(object).where(values.notna(), None).tolist()


def _line_rows(valid: pd.DataFrame, sha256: str, loaded_at) -> list[dict]:
    """The valid records as normalized_lines rows: amounts as Decimal, dates as dates (each
    distinct date parsed once)."""
    columns = {name: _column(valid, name) for name in (*RECORD_FIELDS, "extra")}
    columns["amount"] = [Decimal(a) for a in columns["amount"]]
    days: dict[str, date] = {}
    for name in ("booking_date", "value_date"):
        columns[name] = [None if d is None else days.get(d) or days.setdefault(d, date.fromisoformat(d))
                         for d in columns[name]]
    names = list(columns)
    return [
        {**dict(zip(names, values)), "raw_file_sha256": sha256, "loaded_at": loaded_at}
        for values in zip(*columns.values())
    ]


#: From this many valid rows on, a batch goes to PostgreSQL by COPY (_lines_csv, _send_lines).
COPY_LINES_MIN = 1000
_LINE_COLUMNS = (*RECORD_FIELDS, "extra")
#: What the Money column takes without rounding (the data contract's amount pattern is narrower).
_AMOUNT_TEXT = rf"^-?[0-9]{{1,15}}(?:\.[0-9]{{1,{SCALE}}})?$"


def _lines_csv(conn: Connection, valid: pd.DataFrame, sha256: str, loaded_at) -> bytes | None:
    """PostgreSQL: the valid rows as CSV for COPY into normalized_lines, in line_id order, written
    by pyarrow (no Python object per row). None when the batch is not for this path (SQLite, a
    small batch, values that are not plain strings, an amount Money would round): insert_ignore
    then writes it as before."""
    if conn.dialect.name != "postgresql" or len(valid) < COPY_LINES_MIN:
        return None
    try:
        table = pa.Table.from_pandas(valid[list(_LINE_COLUMNS)], preserve_index=False,
                                     schema=pa.schema([(name, pa.string()) for name in _LINE_COLUMNS]))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    amounts = table.column("amount")
    if amounts.null_count or not pc.all(pc.match_substring_regex(amounts, _AMOUNT_TEXT)).as_py():
        return None
    table = table.sort_by("line_id")
    table = table.append_column("raw_file_sha256", pa.array([sha256] * len(table), pa.string()))
    table = table.append_column("loaded_at", pa.array([loaded_at.isoformat()] * len(table), pa.string()))
    sink = io.BytesIO()
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, batch_size=4096))
    return sink.getvalue()


def _send_lines(conn: Connection, data: bytes) -> bool:
    """COPY the rows of _lines_csv into normalized_lines; False (nothing written) when a line_id
    is stored already.

    A line_id that exists (an overlapping statement, a concurrent run of the same file) makes COPY
    fail: the savepoint undoes the batch, and the caller inserts it with ON CONFLICT DO NOTHING,
    so nothing is counted twice. Rows go in key order, as insert_ignore writes them, so two runs
    writing the same keys wait for one another instead of deadlocking.
    """
    import psycopg

    columns = ", ".join(f'"{name}"' for name in (*_LINE_COLUMNS, "raw_file_sha256", "loaded_at"))
    try:
        with conn.begin_nested():
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                with cursor.copy(f"COPY normalized_lines ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    for start in range(0, len(data), 1 << 20):
                        copy.write(data[start: start + (1 << 20)])
            finally:
                cursor.close()
    except psycopg.errors.UniqueViolation:
        return False
    return True


def ingest_paths(engine: Engine, store: BlobStore, sources: Sequence[Source], paths: Iterable[Path], source_name: str | None = None) -> list[FileOutcome]:
    return [ingest_file(engine, store, sources, path, source_name) for path in expand_paths(paths)]
