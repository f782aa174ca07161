"""Every parser of sources/registry.py fuzzed, for a bounded number of examples (the hypothesis
profile of tests/conftest.py: `ci` under CI=true, `fuzz` for a long local run).

Seeds are real files: tests/data, the shared fixtures when present, the demo's Privat24 export and
a generated PDF statement, grouped by the source that detects them. Each example mutates a seed's
bytes and goes through detection and the parser, as `payrecon parse` would: the outcome is a
`ParseResult` with JSON-safe records and amounts as text (never floats), or a typed `SourceError` (which
quarantines the file with its reason), never anything else. A source registered without a seed
fails here: that is the reminder to give it one.

The format-specific fuzzers (test_source_*.py) mutate with each format's own grammar; this one is
the floor under all of them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.errors import SourceError
from sources.records import ParseResult
from sources.registry import build_sources, detect, parse_file
from tests.conftest import FIXTURES, REPO
from tests.source_checks import assert_json_safe

SOURCES = build_sources()
_SEED_LIMIT = 4  # per source: the smallest files, so an example parses in milliseconds
_SEED_MIN_BYTES = 200  # ... but whole statements, not the stubs some tests keep
#: Parsers whose every example costs a hundred times more (a PDF is laid out page by page) run a
#: fraction of the profile's examples here; test_source_pdf.py fuzzes them on their own.
_SLOW = {"pdf_statement": 5}


def _candidates(scratch: Path) -> list[Path]:
    from payrecon.demo import write_demo_files
    from tests import pdf_factory

    files = [p for p in sorted((REPO / "tests" / "data").rglob("*")) if p.is_file() and p.suffix.lower() != ".md"]
    if FIXTURES.is_dir():
        files += [p for p in sorted(FIXTURES.rglob("*")) if p.is_file() and p.suffix.lower() != ".md"]
    demo = write_demo_files(scratch / "demo")
    files += sorted((scratch / "demo" / "inbox").iterdir()) + list(demo.values())
    pdf = scratch / "statement.pdf"
    pdf_factory.write_ukrainian_statement(pdf, pdf_factory.ukrainian_spec(count=6))
    return files + [pdf]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, list[bytes]]:
    found: dict[str, list[Path]] = defaultdict(list)
    for path in _candidates(tmp_path_factory.mktemp("seeds")):
        try:
            found[detect(path, SOURCES).name].append(path)
        except SourceError:
            continue
    usable = {name: sorted((p for p in paths if p.stat().st_size >= _SEED_MIN_BYTES), key=lambda p: p.stat().st_size)
              for name, paths in found.items()}
    return {name: [p.read_bytes() for p in paths[:_SEED_LIMIT]] for name, paths in usable.items() if paths}


def test_every_registered_parser_has_fuzz_seeds(seeds):
    missing = {s.name for s in SOURCES} - set(seeds)
    assert not missing, f"no seed file is detected as {sorted(missing)}: add one under tests/data"


_mutation = st.tuples(
    st.sampled_from(["replace", "delete", "insert", "duplicate"]),
    st.integers(0, 10**9),
    st.one_of(st.binary(min_size=1, max_size=6),
              st.sampled_from([b'"', b",", b";", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"-", b".", b"<", b"</", b"{",
                               b"}", b":61:", b"99999999999999999999", b"1e400", b"NaN", b"\xd0", b"\xc3\x28"])),
)


def _mutate(data: bytes, mutations) -> bytes:
    for kind, where, chunk in mutations:
        position = where % (len(data) + 1)
        if kind == "replace":
            data = data[:position] + chunk + data[position + len(chunk):]
        elif kind == "delete":
            data = data[:position] + data[position + len(chunk) * 16:]
        elif kind == "insert":
            data = data[:position] + chunk + data[position:]
        else:  # a stretch repeated: duplicated lines, entries, pages
            data = data[:position] + data[position:position + 256] + data[position:]
    return data


def _check(outcome: ParseResult) -> None:
    assert isinstance(outcome, ParseResult)
    for record in outcome.records:
        row = record.as_dict()
        assert_json_safe(row)
        # Text, never a float: an amount that is not a decimal is the data contract's to quarantine.
        assert row.get("amount") is None or isinstance(row["amount"], str)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_fuzz_parser(source, seeds, tmp_path_factory):
    if source.name not in seeds:
        pytest.fail(f"no seed for {source.name}")
    bases = seeds[source.name]
    folder = tmp_path_factory.mktemp(f"fuzz_{source.name}")

    examples = max(10, settings.default.max_examples // _SLOW.get(source.name, 1))

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(base=st.sampled_from(range(len(bases))), mutations=st.lists(_mutation, min_size=1, max_size=8))
    def run(base: int, mutations: list) -> None:
        path = folder / f"mutated{Path(source.name).suffix}"
        path.write_bytes(_mutate(bases[base], mutations))
        for name in (source.name, None):  # the named parser, then detection and whichever parser claims it
            try:
                _, outcome = parse_file(path, SOURCES, name)
            except SourceError:
                continue
            _check(outcome)

    run()
