"""A workspace: the settings and what they open (ledger engine, object stores, sources)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine

from ledger.db import open_ledger
from payrecon.settings import Settings
from payrecon.storage import BlobStore, open_store
from sources.base import Source
from sources.registry import build_sources


@dataclass
class Workspace:
    settings: Settings = field(default_factory=Settings.from_env)

    @cached_property
    def engine(self) -> Engine:
        return open_ledger(self.settings.database_url)

    @cached_property
    def raw_store(self) -> BlobStore:
        return open_store(self.settings.storage_url, self.settings.s3_max_attempts, self.settings.s3_retry_mode, self.settings.s3_encryption)

    @cached_property
    def report_store(self) -> BlobStore:
        return open_store(self.settings.reports_url, self.settings.s3_max_attempts, self.settings.s3_retry_mode, self.settings.s3_encryption)

    @cached_property
    def sources(self) -> list[Source]:
        return build_sources(self.settings.privat24_columns)
