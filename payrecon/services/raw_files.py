"""Keep every raw file, content-addressed, and register it in the ledger once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from ledger import schema
from ledger.repository import insert_ignore, now
from payrecon.storage import BlobStore, raw_key, sha256_hex


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    storage_key: str
    original_name: str
    status: str  # stored (new or unfinished) | loaded | quarantined
    error: str | None


def store_raw_file(engine: Engine, store: BlobStore, name: str, data: bytes) -> StoredFile:
    """Put the bytes in the object store (once) and register them (once); returns the registration,
    whose status tells whether the file was already processed."""
    digest = sha256_hex(data)
    key = raw_key(digest)
    if not store.exists(key):
        store.put(key, data)
    with engine.begin() as conn:
        insert_ignore(
            conn,
            schema.raw_files,
            [
                {
                    "sha256": digest,
                    "storage_key": key,
                    "original_name": name,
                    "size": len(data),
                    "status": "stored",
                    "received_at": now(),
                }
            ],
        )
        row = conn.execute(select(schema.raw_files).where(schema.raw_files.c.sha256 == digest)).one()
    return StoredFile(digest, row.storage_key, row.original_name, row.status, row.error)


def mark_quarantined(conn, sha256: str, source: str | None, reason: str) -> None:
    conn.execute(
        update(schema.raw_files)
        .where(schema.raw_files.c.sha256 == sha256)
        .values(status="quarantined", source=source, error=reason)
    )
