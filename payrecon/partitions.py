"""Splitting the inbox between several process workers: by account and date.

Banks deliver one statement per account and day; an inbox laid out as
`inbox/<account>/<YYYY-MM-DD>/<file>` (the layout a bank's SFTP drop or an S3 sync usually has)
is split so that every file of one account and day lands in the same partition, and the
partitions are spread evenly by a stable hash (SHA-256, not Python's per-process `hash`), so every
worker, on any machine, computes the same split. Files outside that layout are partitioned by
what of it they have: `inbox/<account>/<file>` by account, a file at the top by its own name.

Each of `partitions` flow runs (`ingest_inbox(partition=i, partitions=n)`) ingests exactly the files
whose partition is `i`: together they cover the inbox once. Ingestion is idempotent, so a file
that two runs see anyway (the layout changed between them) is stored and loaded once.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def partition_key(path: Path, inbox: Path) -> str:
    """What a file is partitioned by: `account/date`, `account`, or its name."""
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        parts = (path.name,)
    folders = parts[:-1]
    if len(folders) >= 2 and _DAY.match(folders[1]):
        return f"{folders[0]}/{folders[1]}"
    if folders:
        return folders[0]
    return parts[-1]


def partition_of(path: Path, inbox: Path, partitions: int) -> int:
    digest = hashlib.sha256(partition_key(path, inbox).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % partitions


def check_partition(partition: int, partitions: int) -> None:
    if partitions < 1 or not 0 <= partition < partitions:
        raise ValueError(f"partition must be 0..{partitions - 1} of {partitions} partitions, got {partition}")


def select_partition(paths: list[Path], inbox: Path, partition: int, partitions: int) -> list[Path]:
    """The files of `paths` that partition `partition` (0-based) of `partitions` ingests."""
    check_partition(partition, partitions)
    if partitions == 1:
        return list(paths)
    return [p for p in paths if partition_of(p, inbox, partitions) == partition]
