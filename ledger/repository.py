"""Reading and writing the ledger with bulk statements (never per-row ORM inserts).

Every insert here is idempotent: a key that exists is left alone, so re-runs, overlapping
statements and concurrent runs add nothing twice, and each write returns how many rows it really
added (the database says so, not a look-up made before the write, which a concurrent run can
outdate).

On PostgreSQL a batch of 100 rows or more is streamed with COPY into a temporary staging table and
moved with one `INSERT ... SELECT ... ON CONFLICT` (COPY itself cannot skip a key that exists);
smaller batches are multi-row `INSERT ... VALUES ... RETURNING` statements. SQLite takes executemany,
whose row count is exact there. Rows are written in key order, so two runs writing the same keys
wait for one another instead of deadlocking.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from itertools import count
from operator import itemgetter
from typing import Iterable, Iterator, Sequence

from sqlalchemy import Column, Connection, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger import schema
from ledger.domain import JournalEntry, Transfers, entry_ids

_BATCH = 5000
_ARRAY_BATCH = 200_000
#: From this many rows on, PostgreSQL batches go through COPY. Measured on the 2-core development
#: machine, 17-column normalized lines: COPY 20k rows/s at 100 rows, 55-67k rows/s from 1000 rows;
#: executemany without RETURNING 21-40k rows/s (and no row count); multi-row VALUES with RETURNING
#: 7-9k rows/s. Journal entries with their postings: 19-20k entries/s new, 23-27k entries/s when half
#: exist (executemany before: 7-8k and 400-1000 entries/s).
COPY_MIN_ROWS = 100
_stage_names = count()


def now() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table: Table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _uses_copy(conn: Connection, rows: Sequence[dict]) -> bool:
    return conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS


def _key_columns(table: Table, columns: Iterable[str]) -> list[str]:
    present = set(columns)
    key = [c.name for c in table.primary_key.columns]
    return key if all(k in present for k in key) else []


def _in_key_order(table: Table, rows: Sequence[dict]) -> list[dict]:
    key = _key_columns(table, rows[0])
    return sorted(rows, key=itemgetter(*key)) if key else list(rows)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict]) -> int:
    """Insert rows; rows whose primary or unique key exists already (or repeats one earlier in
    `rows`) are skipped. Returns how many rows were inserted."""
    if not rows:
        return 0
    if _uses_copy(conn, rows):
        return _copy_merge(conn, table, rows, "ON CONFLICT DO NOTHING")
    if conn.dialect.name == "postgresql":
        return len(insert_new_keys(conn, table, rows))
    statement = _insert(conn, table).on_conflict_do_nothing()
    ordered = _in_key_order(table, rows)
    return sum(conn.execute(statement, ordered[start : start + _BATCH]).rowcount for start in range(0, len(ordered), _BATCH))


def insert_new_keys(conn: Connection, table: Table, rows: Sequence[dict]) -> list[tuple]:
    """Insert rows like `insert_ignore`; returns the primary keys of the rows this call inserted,
    as tuples. Of two runs writing the same key at once, one gets it and the other waits and
    skips it: never both."""
    if not rows:
        return []
    key = [c.name for c in table.primary_key.columns]
    if _uses_copy(conn, rows):
        return _copy_merge(conn, table, rows, "ON CONFLICT DO NOTHING", returning=key)
    statement = _insert(conn, table).on_conflict_do_nothing().returning(*[table.c[k] for k in key])
    inserted: list[tuple] = []
    ordered = _in_key_order(table, rows)
    for start in range(0, len(ordered), _BATCH):
        inserted.extend(tuple(r) for r in conn.execute(statement, ordered[start : start + _BATCH]))
    return inserted


def upsert(conn: Connection, table: Table, rows: Sequence[dict], key: Sequence[str]) -> int:
    """Insert rows, or update the non-key columns of rows whose key exists (a key repeated in
    `rows` takes its last row). Returns how many rows were written."""
    if not rows:
        return 0
    last = {tuple(r[k] for k in key): r for r in rows}
    rows = [last[k] for k in sorted(last)]
    updates = [c for c in rows[0] if c not in key]
    if _uses_copy(conn, rows):
        assignments = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in updates)
        target = ", ".join(_q(k) for k in key)
        action = f"DO UPDATE SET {assignments}" if updates else "DO NOTHING"
        return _copy_merge(conn, table, rows, f"ON CONFLICT ({target}) {action}")
    statement = _insert(conn, table)
    if updates:
        statement = statement.on_conflict_do_update(index_elements=list(key), set_={c: statement.excluded[c] for c in updates})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    statement = statement.returning(*[table.c[k] for k in key])
    written = 0
    for start in range(0, len(rows), _BATCH):
        written += len(conn.execute(statement, rows[start : start + _BATCH]).all())
    return written


def _copy_merge(conn: Connection, table: Table, rows: Sequence[dict], conflict: str, returning: Sequence[str] = ()):
    """PostgreSQL: COPY rows into a staging table dropped at commit, then one INSERT ... SELECT in
    key order (ties in the order given) with the ON CONFLICT clause. Values pass the columns' own
    bind processing, so Money refuses floats and a fifth decimal here as everywhere. Returns the
    row count, or the `returning` columns of the rows written."""
    names = list(rows[0])
    columns: list[Column] = [table.c[name] for name in names]
    # The dialect's own processors, as SQLAlchemy applies them (a TypeDecorator's plain
    # `bind_processor` would use its generic impl, which turns Decimal into float on PostgreSQL).
    processors = [(i, p) for i, c in enumerate(columns) if (p := c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect))]
    quoted = ", ".join(_q(n) for n in names)
    stage = f"payrecon_stage_{next(_stage_names)}"
    order = ", ".join([*(_q(k) for k in _key_columns(table, names)), "ctid"])
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {quoted} FROM {_q(table.name)} WITH NO DATA")
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY {stage} ({quoted}) FROM STDIN") as copy:
            getter = itemgetter(*names)
            for row in rows:
                values = getter(row) if len(names) > 1 else (getter(row),)
                if processors:
                    values = list(values)
                    for i, process in processors:
                        values[i] = process(values[i])
                copy.write_row(values)
    finally:
        cursor.close()
    tail = f" RETURNING {', '.join(_q(c) for c in returning)}" if returning else ""
    result = conn.exec_driver_sql(f"INSERT INTO {_q(table.name)} ({quoted}) SELECT {quoted} FROM {stage} ORDER BY {order} {conflict}{tail}")
    written = [tuple(r) for r in result] if returning else result.rowcount
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return written


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def existing_keys(conn: Connection, column, keys: Iterable[str]) -> set[str]:
    """The `keys` present in `column`. On PostgreSQL one array parameter per 200k keys
    (`column = ANY(:keys)`): 1M keys in 2.5 s here, against 11 s as IN lists of 5000."""
    keys = list(keys)
    found: set[str] = set()
    if conn.dialect.name == "postgresql":
        for start in range(0, len(keys), _ARRAY_BATCH):
            chunk = bindparam("keys", keys[start : start + _ARRAY_BATCH], type_=postgresql.ARRAY(column.type))
            found.update(conn.execute(select(column).where(column == any_(chunk))).scalars())
        return found
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


#: Rows per fetch when reading in bulk (`fetch_columns`, `stream_columns`).
STREAM_CHUNK = 100_000


def stream_columns(conn: Connection, query, chunk: int = STREAM_CHUNK) -> Iterator[list[list]]:
    """The rows of a select, `chunk` at a time, each chunk as columns (a list per selected column),
    without a Row object per row. PostgreSQL: the result arrives whole (in libpq's compact form) and
    becomes Python values a chunk at a time, as psycopg makes them (numeric as Decimal, which is
    what the Money type returns there); the connection may write between chunks. SQLite (small
    ledgers): through the column types (money is stored as integers)."""
    if conn.dialect.name == "postgresql":
        result = conn.execute(query)
        try:
            cursor = result.cursor
            while rows := cursor.fetchmany(chunk):
                yield [list(column) for column in zip(*rows)]
        finally:
            result.close()
        return
    rows = conn.execute(query).all()
    for start in range(0, len(rows), chunk):
        yield [list(column) for column in zip(*rows[start : start + chunk])]


def fetch_columns(conn: Connection, query) -> tuple[list[str], list[list]]:
    """All rows of a select as (column names, a list of values per column), read in chunks."""
    names = [c.name for c in query.selected_columns]
    columns: list[list] = [[] for _ in names]
    for part in stream_columns(conn, query):
        for column, values in zip(columns, part):
            column.extend(values)
    return names, columns


def post_entries(conn: Connection, entries: Sequence[JournalEntry]) -> int:
    """Write journal entries and their postings; returns how many entries were new.

    The unique idempotency key and the (entry_id, leg) key make a second copy impossible, whoever
    writes it; the count comes from the insert itself, so two runs posting the same entries at
    once count each entry once between them.
    """
    if not entries:
        return 0
    created = now()
    ids = [e.entry_id for e in entries]  # a uuid5 each: computed once, not once per row written
    new = insert_ignore(
        conn,
        schema.journal_entries,
        [
            {
                "entry_id": entry_id,
                "idempotency_key": e.idempotency_key,
                "kind": e.kind,
                "status": e.status,
                "org_id": e.org_id,
                "effective_date": e.effective_date,
                "evidence": e.evidence,
                "description": e.description,
                "created_at": created,
            }
            for entry_id, e in zip(ids, entries)
        ],
    )
    insert_ignore(
        conn,
        schema.postings,
        [
            {"entry_id": entry_id, "leg": leg, "account": p.account, "currency": p.currency, "amount": p.amount}
            for entry_id, e in zip(ids, entries)
            for leg, p in enumerate(e.postings)
        ],
    )
    return new


def insert_columns(conn: Connection, table: Table, columns: dict[str, Sequence]) -> int:
    """`insert_ignore` for rows given as columns (a sequence per column name, e.g. a DataFrame's):
    the same rows written and counted, with no dict per row. On PostgreSQL, from COPY_MIN_ROWS rows
    on, pyarrow turns the columns into CSV for the COPY (money as decimal128(20, 4): a float or a
    fifth decimal place is refused as the Money type refuses it); values pyarrow cannot type as
    their column (a number in a text column) take the row-by-row path instead."""
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    if not n:
        return 0
    if conn.dialect.name == "postgresql" and n >= COPY_MIN_ROWS:
        try:
            data = _columns_csv(table, columns)
        except _NotArrow:
            data = None
        if data is not None:
            return _copy_csv_merge(conn, table, names, data, "ON CONFLICT DO NOTHING")
    lists = [list(columns[name]) for name in names]
    return insert_ignore(conn, table, [dict(zip(names, values)) for values in zip(*lists)])


class _NotArrow(Exception):
    """A column's values are not all of the type pyarrow expects for it."""


def _columns_csv(table: Table, columns: dict[str, Sequence]) -> bytes:
    import pyarrow as pa
    from pyarrow import csv
    from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String

    from ledger.types import Money

    arrays = {}
    for name, values in columns.items():
        kind = table.c[name].type
        values = values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else values
        if isinstance(kind, Money):
            try:
                arrays[name] = pa.array(values, pa.decimal128(20, 4), from_pandas=False)
            except pa.ArrowTypeError as error:
                raise TypeError(f"{table.name}.{name}: money must be Decimal or int ({error})") from error
            except pa.ArrowInvalid as error:
                raise ValueError(f"{table.name}.{name}: an amount does not fit NUMERIC(20, 4) without loss ({error})") from error
            continue
        if isinstance(kind, Numeric):  # e.g. a confidence: its text, which the database rounds to the column as before
            values = [None if v is None or v != v else str(v) for v in values]
            arrow = pa.string()
        elif isinstance(kind, DateTime):
            arrow = pa.timestamp("us", tz="UTC") if kind.timezone else pa.timestamp("us")
        elif isinstance(kind, Date):
            arrow = pa.date32()
        elif isinstance(kind, Boolean):
            arrow = pa.bool_()
        elif isinstance(kind, Integer):
            arrow = pa.int64()
        elif isinstance(kind, String):  # Text too
            arrow = pa.string()
        else:
            raise _NotArrow(name)
        try:
            arrays[name] = pa.array(values, arrow, from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid) as error:
            raise _NotArrow(name) from error
    sink = pa.BufferOutputStream()
    csv.write_csv(pa.table(arrays), sink, csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _copy_csv_merge(conn: Connection, table: Table, names: list[str], data: bytes, conflict: str) -> int:
    """`_copy_merge` for rows already written as CSV in the order of `names`."""
    quoted = ", ".join(_q(n) for n in names)
    stage = f"payrecon_stage_{next(_stage_names)}"
    order = ", ".join([*(_q(k) for k in _key_columns(table, names)), "ctid"])
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {quoted} FROM {_q(table.name)} WITH NO DATA")
    _copy_in(conn, f"COPY {stage} ({quoted}) FROM STDIN WITH (FORMAT csv)", data)
    written = conn.exec_driver_sql(f"INSERT INTO {_q(table.name)} ({quoted}) SELECT {quoted} FROM {stage} ORDER BY {order} {conflict}").rowcount
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return written


def _copy_in(conn: Connection, statement: str, data: bytes) -> None:
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
    finally:
        cursor.close()


#: Entries per COPY in `post_transfers`: bounds the staging buffer (about 300 bytes an entry).
TRANSFER_CHUNK = 100_000
_TRANSFER_STAGE = (
    "entry_id varchar, idempotency_key varchar, kind varchar, org_id varchar, effective_date date, evidence text, "
    "description text, debit varchar, credit varchar, currency varchar, amount numeric"
)


def post_transfers(conn: Connection, transfers: Transfers) -> int:
    """Write many two-legged entries (`domain.Transfers`): the same rows, counted the same way, as
    `post_entries(conn, transfers.entries())` writes, without a Python object per entry, posting
    and row. On PostgreSQL each chunk is one CSV COPY (written by pyarrow) into a staging table of
    whole transfers, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING into journal_entries and
    one into postings (leg 0 the debit, leg 1 the credit of the negated amount), each in key order
    like every other write here. Returns how many entries were new."""
    if not len(transfers):
        return 0
    if conn.dialect.name != "postgresql" or len(transfers) < COPY_MIN_ROWS:
        return post_entries(conn, transfers.entries())
    created = now()
    new = 0
    for start in range(0, len(transfers), TRANSFER_CHUNK):
        new += _copy_transfers(conn, transfers, slice(start, start + TRANSFER_CHUNK), created)
    return new


def transfers_csv(transfers: Transfers, part: slice = slice(None)) -> bytes:
    """The staging rows of `post_transfers` as CSV (pyarrow's writer: strings quoted, NULL empty).
    Amounts become decimal128(20, 4), so a float or a fifth decimal place is refused here, as the
    Money column type refuses it everywhere else."""
    import pyarrow as pa
    from pyarrow import csv

    keys = transfers.idempotency_key[part]
    try:
        amounts = pa.array(transfers.amount[part], pa.decimal128(20, 4))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(f"transfers: an amount does not fit NUMERIC(20, 4) without loss ({error})") from error
    table = pa.table({
        "entry_id": pa.array(entry_ids(keys), pa.string()),
        "idempotency_key": pa.array(keys, pa.string()),
        "kind": pa.array(transfers.kind[part], pa.string()),
        "org_id": pa.array(transfers.org_id[part], pa.string()),
        "effective_date": pa.array(transfers.effective_date[part], pa.date32()),
        "evidence": pa.array(transfers.evidence[part], pa.string()),
        "description": pa.array(transfers.description[part], pa.string()),
        "debit": pa.array(transfers.debit[part], pa.string()),
        "credit": pa.array(transfers.credit[part], pa.string()),
        "currency": pa.array(transfers.currency[part], pa.string()),
        "amount": amounts,
    })
    sink = pa.BufferOutputStream()
    csv.write_csv(table, sink, csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _copy_transfers(conn: Connection, transfers: Transfers, part: slice, created: datetime) -> int:
    data = transfers_csv(transfers, part)
    stage = f"payrecon_stage_{next(_stage_names)}"
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} ({_TRANSFER_STAGE}) ON COMMIT DROP")
    _copy_in(conn, f"COPY {stage} FROM STDIN WITH (FORMAT csv)", data)
    del data
    entries = ("entry_id", "idempotency_key", "kind", "status", "org_id", "effective_date", "evidence", "description", "created_at")
    new = conn.exec_driver_sql(
        f"INSERT INTO journal_entries ({', '.join(entries)}) "
        f"SELECT entry_id, idempotency_key, kind, 'confirmed', org_id, effective_date, evidence, description, %(created)s "
        f"FROM {stage} ORDER BY entry_id, ctid ON CONFLICT DO NOTHING",
        {"created": created},
    ).rowcount
    conn.exec_driver_sql(
        f"INSERT INTO postings (entry_id, leg, account, currency, amount) "
        f"SELECT entry_id, leg, account, currency, amount FROM ("
        f"SELECT entry_id, 0 AS leg, debit AS account, currency, amount, ctid AS row FROM {stage} "
        f"UNION ALL SELECT entry_id, 1, credit, currency, -amount, ctid FROM {stage}) legs "
        f"ORDER BY entry_id, leg, row ON CONFLICT DO NOTHING"
    )
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return new


def account_balances(conn: Connection, as_of: date | None = None) -> list[dict]:
    """Sum of postings per account and currency, up to an effective date. Balances are derived,
    never stored."""
    j, p = schema.journal_entries, schema.postings
    query = (
        select(p.c.account, p.c.currency, func.sum(p.c.amount).label("total"))
        .join(j, j.c.entry_id == p.c.entry_id)
        .group_by(p.c.account, p.c.currency)
        .order_by(p.c.account, p.c.currency)
    )
    if as_of is not None:
        query = query.where(j.c.effective_date <= as_of)
    return [dict(r._mapping) for r in conn.execute(query)]
