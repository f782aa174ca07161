"""Keep every raw file, content-addressed, and register it in the ledger once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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
    return _register(engine, digest, key, name, len(data))


#: Files up to this size are read whole (store.put); larger ones are hashed and stored in pieces.
WHOLE_FILE_BYTES = 64 << 20


def store_raw_path(engine: Engine, store: BlobStore, path: Path) -> StoredFile:
    """store_raw_file for a file on disk, which may be larger than memory: it is hashed in pieces
    and stored with the store's put_file when it has one (a large file is never held whole)."""
    size = path.stat().st_size
    put_file = getattr(store, "put_file", None)
    if size <= WHOLE_FILE_BYTES or put_file is None:
        return store_raw_file(engine, store, path.name, path.read_bytes())
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(piece)
    digest = hasher.hexdigest()
    key = raw_key(digest)
    if not store.exists(key):
        put_file(key, path)
    return _register(engine, digest, key, path.name, size)


def _register(engine: Engine, digest: str, key: str, name: str, size: int) -> StoredFile:
    with engine.begin() as conn:
        insert_ignore(
            conn,
            schema.raw_files,
            [
                {
                    "sha256": digest,
                    "storage_key": key,
                    "original_name": name,
                    "size": size,
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
