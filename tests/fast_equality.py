"""What the fast-reader tests share: read a file through a source's stream() and through its
parse(), and say where the two differ (they must not: the fast readers are exact)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sources.errors import SourceError


def streamed(source, path: Path, batch_size: int = 1000):
    """(records, statements, warnings, transactions_found, stream) of source.stream(), with each
    statement's line_ids rebuilt from the records' statement index; or the SourceError it raised."""
    stream = source.stream(path, batch_size)
    records, owners, summaries = [], [], {}
    try:
        for batch in stream.batches():
            assert len(batch) == len(batch.frame["statement"])
            records.extend(batch.records())
            batch_owners = batch.frame["statement"].tolist()
            assert not set(batch_owners) & set(summaries), "a record came after its statement's summary"
            owners.extend(batch_owners)
            for index, summary in batch.statements:
                assert index not in summaries, f"statement {index} delivered twice"
                summaries[index] = summary
    except SourceError as error:
        return error
    ids: dict[int, list[str]] = {}
    for record, owner in zip(records, owners):
        ids.setdefault(owner, []).append(record.line_id)
    assert sorted(summaries) == list(range(len(summaries))), "statement indexes are not 0..n-1"
    assert set(ids) - {-1} <= set(summaries), "a record points at a statement that never came"
    statements = [replace(summaries[i], line_ids=tuple(ids.get(i, ()))) for i in sorted(summaries)]
    return records, statements, stream.warnings, stream.transactions_found, stream


def differences(source, path: Path, batch_size: int = 1000) -> list[str]:
    """How stream() and parse() differ on this file (empty: they agree)."""
    try:
        full = source.parse(path)
    except SourceError as error:
        full = error
    fast = streamed(source, path, batch_size)
    if isinstance(full, SourceError) or isinstance(fast, SourceError):
        if type(full) is type(fast) and str(full) == str(fast):
            return []
        return [f"parse gave {full!r:.300}, stream gave {fast!r:.300}"]
    records, statements, warnings, found, _ = fast
    problems = []
    ours, theirs = [r.as_dict() for r in records], [r.as_dict() for r in full.records]
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} records streamed, {len(theirs)} parsed")
    for number, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            problems.append(f"record {number}: " + "; ".join(f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in keys))
            break
    if statements != full.statements:
        problems.append(f"statements differ: {statements[:2]!r:.400} != {full.statements[:2]!r:.400}")
    if warnings != full.warnings:
        problems.append(f"warnings differ: {warnings!r:.400} != {full.warnings!r:.400}")
    if found != full.transactions_found:
        problems.append(f"transactions_found {found} != {full.transactions_found}")
    return problems
