"""The inbox split between workers by account and date (payrecon/partitions.py): deterministic in
every process, every file in exactly one partition, an account's day never split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from payrecon.partitions import partition_key, partition_of, select_partition
from payrecon.services.ingest import expand_paths
from tests.conftest import REPO

ACCOUNTS = ["UA213223130000026007233566001", "UA903052992990004149123456789", "DE89370400440532013000", "monobank-fop"]


def _inbox(root: Path) -> list[Path]:
    """An inbox as a bank drop lays it out, plus files outside that layout."""
    for number, account in enumerate(ACCOUNTS):
        for day in range(1, 21):
            folder = root / account / f"2026-11-{day:02d}"
            folder.mkdir(parents=True)
            (folder / "statement.xml").write_text(f"{account} {day}")
            if day % 3 == number % 3:
                (folder / "interim.sta").write_text(f"{account} {day} interim")
    (root / "monobank-fop" / "loose.json").write_text("{}")
    for name in ("privat24_2026-11-20.csv", "export_broken.csv", "receipt.eml"):
        (root / name).write_text(name)
    return expand_paths([root])


def test_the_partition_key_is_account_and_date_where_the_layout_gives_them(tmp_path):
    inbox = tmp_path / "inbox"
    assert partition_key(inbox / "UA21" / "2026-11-20" / "a.xml", inbox) == "UA21/2026-11-20"
    assert partition_key(inbox / "UA21" / "2026-11-20" / "deeper" / "a.xml", inbox) == "UA21/2026-11-20"
    assert partition_key(inbox / "UA21" / "a.xml", inbox) == "UA21"
    assert partition_key(inbox / "UA21" / "not-a-day" / "a.xml", inbox) == "UA21"
    assert partition_key(inbox / "a.xml", inbox) == "a.xml"


@pytest.mark.parametrize("partitions", [1, 2, 3, 5, 8])
def test_every_file_is_in_exactly_one_partition_and_an_accounts_day_is_never_split(tmp_path, partitions):
    inbox = tmp_path / "inbox"
    files = _inbox(inbox)
    assert len(files) == 80 + 26 + 1 + 3
    chosen = [select_partition(files, inbox, i, partitions) for i in range(partitions)]
    assert sorted(p for part in chosen for p in part) == sorted(files)  # all of them, none twice
    owner = {}
    for index, part in enumerate(chosen):
        for path in part:
            key = partition_key(path, inbox)
            assert owner.setdefault(key, index) == index, f"{key} split between partitions"
    if partitions > 1:  # 84 keys spread over the partitions, none empty, none with most of them
        sizes = Counter(owner.values())
        assert len(sizes) == partitions and max(sizes.values()) < 0.6 * len(owner), sizes


def test_the_split_is_the_same_in_every_process(tmp_path):
    inbox = tmp_path / "inbox"
    files = _inbox(inbox)
    here = {str(p.relative_to(inbox)): partition_of(p, inbox, 3) for p in files}
    script = (
        "import json, sys; from pathlib import Path; from payrecon.partitions import partition_of; "
        "inbox = Path(sys.argv[1]); names = json.loads(sys.argv[2]); "
        "print(json.dumps({n: partition_of(inbox / n, inbox, 3) for n in names}))"
    )
    for seed in ("0", "1", "12345"):
        result = subprocess.run([sys.executable, "-c", script, str(inbox), json.dumps(sorted(here))], capture_output=True,
                                text=True, check=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(result.stdout) == here


@pytest.mark.parametrize("partition, partitions", [(2, 2), (-1, 2), (0, 0)])
def test_a_partition_outside_the_count_is_refused(tmp_path, partition, partitions):
    with pytest.raises(ValueError, match="partition must be"):
        select_partition([], tmp_path, partition, partitions)
