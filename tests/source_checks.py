"""Checks the source tests share: the file head a source identifies by, JSON-safe output, and
golden files (`tests/golden/<source>/<file>.jsonl`; PAYRECON_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sources.base import HEAD_BYTES
from tests.conftest import GOLDEN

UPDATE_GOLDEN = os.environ.get("PAYRECON_UPDATE_GOLDEN") == "1"


def head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def assert_json_safe(value: object) -> None:
    if isinstance(value, dict):
        for item in value.values():
            assert_json_safe(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_json_safe(item)
    else:
        assert not isinstance(value, float), value
        assert isinstance(value, (str, int, type(None))), type(value)


def check_golden(source, path: Path) -> None:
    result = source.parse(path)
    lines = [json.dumps(record.as_dict(), ensure_ascii=False, sort_keys=True) for record in result.records]
    golden = GOLDEN / source.name / f"{path.name}.jsonl"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with PAYRECON_UPDATE_GOLDEN=1 and check it by hand"
    assert lines == golden.read_text(encoding="utf-8").splitlines()
