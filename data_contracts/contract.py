"""Check a DataFrame against a contract's great-expectations suite and split valid rows from bad ones.

The suites (suites/*.json) are great-expectations 1.x suites and stay the single statement of each
contract. Running them through great-expectations' validation engine, though, costs far more than
the checks themselves (a Python `strptime` per value for a date format, and the metric machinery
around every expectation): at a million bank lines the date checks alone took half the ingest. So
the expectation types the suites use are evaluated here, vectorised over pandas, with exactly
great-expectations' semantics (`_FAST` below: the same pandas calls on the same columns, nulls left
out of every check but `not_be_null`, a date format still decided by `datetime.strptime`, once per
distinct value). An expectation of any other type, with any other argument (`mostly`,
`row_condition`, ...), or one whose vectorised check cannot decide it (a non-text value under a
date format) goes to great-expectations itself, so a suite may use anything great-expectations
offers. `tests/unit/test_contract_engine.py` checks both engines agree, case by case.

great_expectations is imported lazily (about 3 s): only the fallback and Data Docs pay for it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

SUITES = Path(__file__).parent / "suites"
CONTRACTS = tuple(sorted(p.stem for p in SUITES.glob("*.json")))

#: how many unexpected values a table check keeps as examples (great-expectations' SUMMARY default)
PARTIAL_UNEXPECTED_COUNT = 20

_lock = threading.Lock()


@dataclass
class Validation:
    valid: pd.DataFrame
    #: the bad rows, with a `reason` column listing every broken rule of the row
    quarantined: pd.DataFrame


@dataclass
class Outcome:
    """One expectation checked over a frame."""

    type: str
    kwargs: dict
    meta: dict
    #: positions of the rows that break it; None when it failed as a whole (no row to blame)
    unexpected: np.ndarray | None
    element_count: int
    #: rows it looked at (non-null ones for a column check that leaves nulls out); None: all
    nonnull_count: int | None = None
    exception: str | None = None

    @property
    def success(self) -> bool:
        return self.exception is None and self.unexpected is not None and len(self.unexpected) == 0

    @property
    def reason(self) -> str:
        return (self.meta or {}).get("reason") or self.type


def load_suite_spec(contract: str) -> dict:
    return json.loads(_suite_text(contract))


@lru_cache(maxsize=None)
def _suite_text(contract: str) -> str:
    path = SUITES / f"{contract}.json"
    if not path.is_file():
        raise ValueError(f"unknown data contract {contract!r}; known: {', '.join(CONTRACTS)}")
    return path.read_text(encoding="utf-8")


def columns_of(contract: str) -> list[str]:
    """The contract's columns, in order (the suite's meta.columns)."""
    return list(load_suite_spec(contract)["meta"]["columns"])


def columns_checked(contract: str) -> list[str]:
    """The columns the contract's rules read (a subset of `columns_of`, in that order)."""
    read = set()
    for expectation in load_suite_spec(contract)["expectations"]:
        kwargs = expectation.get("kwargs") or {}
        read.update([kwargs["column"]] if "column" in kwargs else [])
        read.update(kwargs.get("column_list") or [])
        read.update(v for k, v in kwargs.items() if k.startswith("column_") and isinstance(v, str))  # column_A, column_B
    columns = columns_of(contract)
    return [c for c in columns if c in read] + sorted(read - set(columns))


# --- the vectorised checks ---------------------------------------------------------------------------


class _Undecided(Exception):
    """This check is left to great-expectations."""


def _nonnull(column: pd.Series) -> np.ndarray:
    return column.notna().to_numpy(dtype=bool)


def _scatter(nonnull: np.ndarray, bad_among_nonnull) -> np.ndarray:
    bad = np.zeros(len(nonnull), dtype=bool)
    bad[nonnull] = np.asarray(bad_among_nonnull, dtype=bool)
    return bad


def _not_null(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, int | None]:
    # great-expectations: ~column.isnull(), over every row
    return frame[column].isna().to_numpy(dtype=bool), None


def _unique(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, int]:
    # great-expectations: ~column.duplicated(keep=False), over the non-null values
    values = frame[column]
    nonnull = _nonnull(values)
    return _scatter(nonnull, values[nonnull].duplicated(keep=False).to_numpy(dtype=bool)), int(nonnull.sum())


def _in_set(frame: pd.DataFrame, column: str, value_set) -> tuple[np.ndarray, int]:
    values = frame[column]
    nonnull = _nonnull(values)
    if value_set is None:  # vacuously true, as great-expectations has it
        return np.zeros(len(values), dtype=bool), int(nonnull.sum())
    return _scatter(nonnull, ~values[nonnull].isin(value_set).to_numpy(dtype=bool)), int(nonnull.sum())


@lru_cache(maxsize=65536)
def _parses(value: str, strftime_format: str) -> bool:
    try:
        datetime.strptime(value, strftime_format)  # noqa: DTZ007 - what great-expectations does, value by value
        return True
    except ValueError:
        return False


def _strftime(frame: pd.DataFrame, column: str, strftime_format: str) -> tuple[np.ndarray, int]:
    # great-expectations: datetime.strptime(value, format) for each non-null value; here once per
    # distinct value (a statement has a few hundred dates, not a million)
    values = frame[column]
    nonnull = _nonnull(values)
    codes, uniques = pd.factorize(values[nonnull])
    ok = np.empty(len(uniques), dtype=bool)
    for i, value in enumerate(uniques):
        if not isinstance(value, str):  # great-expectations raises on it: let it say so
            raise _Undecided
        ok[i] = _parses(value, strftime_format)
    return _scatter(nonnull, ~ok[codes] if len(codes) else np.zeros(0, dtype=bool)), int(nonnull.sum())


def _regex(frame: pd.DataFrame, column: str, regex: str) -> tuple[np.ndarray, int]:
    # great-expectations: column.astype(str).str.contains(regex), over the non-null values
    values = frame[column]
    nonnull = _nonnull(values)
    matched = values[nonnull].astype(str).str.contains(regex)
    return _scatter(nonnull, ~matched.to_numpy(dtype=bool)), int(nonnull.sum())


def _lengths(frame: pd.DataFrame, column: str, value) -> tuple[np.ndarray, int]:
    # great-expectations: column.astype(str).str.len() == value, over the non-null values
    values = frame[column]
    nonnull = _nonnull(values)
    lengths = values[nonnull].astype(str).str.len()
    return _scatter(nonnull, ~(lengths == value).to_numpy(dtype=bool)), int(nonnull.sum())


def _between(frame: pd.DataFrame, column: str, min_value=None, max_value=None, strict_min=None,
             strict_max=None) -> tuple[np.ndarray, int]:
    # great-expectations' vectorised branch (numpy int and float columns); anything else is its own
    values = frame[column]
    if values.dtype.kind not in "iuf":  # numpy integers and floats: plain comparisons, as great-expectations makes
        raise _Undecided
    numbers = (int, float, np.integer, np.floating)
    if (min_value is None and max_value is None) or any(
            v is not None and (isinstance(v, bool) or not isinstance(v, numbers)) for v in (min_value, max_value)):
        raise _Undecided
    if min_value is not None and max_value is not None and min_value > max_value:
        raise _Undecided
    nonnull = _nonnull(values)
    kept = values[nonnull]
    ok = np.ones(len(kept), dtype=bool)
    if min_value is not None:
        ok &= (kept > min_value if strict_min else kept >= min_value).to_numpy(dtype=bool)
    if max_value is not None:
        ok &= (kept < max_value if strict_max else kept <= max_value).to_numpy(dtype=bool)
    return _scatter(nonnull, ~ok), int(nonnull.sum())


def _compound_unique(frame: pd.DataFrame, column_list, ignore_row_if="all_values_are_missing") -> tuple[np.ndarray, int]:
    # great-expectations: ~frame[columns].duplicated(keep=False), rows whose values are all missing left out
    columns = list(column_list)
    part = frame[columns]
    missing = part.isna()
    if ignore_row_if == "all_values_are_missing":
        kept = ~missing.all(axis=1).to_numpy(dtype=bool)
    elif ignore_row_if == "any_value_is_missing":
        kept = ~missing.any(axis=1).to_numpy(dtype=bool)
    elif ignore_row_if == "never":
        kept = np.ones(len(part), dtype=bool)
    else:
        raise _Undecided
    return _scatter(kept, part[kept].duplicated(keep=False).to_numpy(dtype=bool)), int(kept.sum())


#: expectation type -> (check, the arguments it takes)
_FAST: dict[str, tuple[Any, frozenset]] = {
    "expect_column_values_to_not_be_null": (_not_null, frozenset({"column"})),
    "expect_column_values_to_be_unique": (_unique, frozenset({"column"})),
    "expect_column_values_to_be_in_set": (_in_set, frozenset({"column", "value_set"})),
    "expect_column_values_to_match_strftime_format": (_strftime, frozenset({"column", "strftime_format"})),
    "expect_column_values_to_match_regex": (_regex, frozenset({"column", "regex"})),
    "expect_column_value_lengths_to_equal": (_lengths, frozenset({"column", "value"})),
    "expect_column_values_to_be_between": (_between, frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})),
    "expect_compound_columns_to_be_unique": (_compound_unique, frozenset({"column_list", "ignore_row_if"})),
}


def _fast_outcome(frame: pd.DataFrame, expectation: dict) -> Outcome:
    """The expectation checked here; raises _Undecided when great-expectations must decide."""
    kind, kwargs = expectation["type"], expectation.get("kwargs") or {}
    check, accepted = _FAST.get(kind, (None, frozenset()))
    if check is None or not set(kwargs) <= accepted:
        raise _Undecided
    columns = kwargs.get("column_list") if "column_list" in kwargs else [kwargs.get("column")]
    if any(c not in frame.columns for c in columns):
        raise _Undecided  # great-expectations reports the missing column its own way
    bad, nonnull = check(frame, **kwargs)
    return Outcome(kind, kwargs, expectation.get("meta") or {}, np.flatnonzero(bad), len(frame), nonnull)


def evaluate(frame: pd.DataFrame, contract: str, engine: str = "auto") -> list[Outcome]:
    """Every expectation of the contract over `frame` (a 0..n-1 index), in the suite's order.

    engine: "auto" (vectorised where it can, great-expectations for the rest) or "gx" (all by
    great-expectations; the reference the tests compare with).
    """
    expectations = load_suite_spec(contract)["expectations"]
    outcomes: list[Outcome | None] = [None] * len(expectations)
    left = []
    for position, expectation in enumerate(expectations):
        if engine == "auto":
            try:
                outcomes[position] = _fast_outcome(frame, expectation)
                continue
            except _Undecided:
                pass
        left.append(position)
    if left:
        for position, outcome in zip(left, _gx_outcomes(frame, contract, tuple(left))):
            outcomes[position] = outcome
    return outcomes  # type: ignore[return-value]


# --- great-expectations itself -----------------------------------------------------------------------


_contexts: list = []
_context_lock = threading.Lock()


def _context():
    """The process's great-expectations context (made once, by whichever thread asks first)."""
    with _context_lock:
        if not _contexts:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            import great_expectations as gx

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = {"globally": False}
            _contexts.append(context)
        return _contexts[0]


def _suite(contract: str, positions: tuple[int, ...] | None = None):
    import great_expectations as gx

    spec = {k: v for k, v in load_suite_spec(contract).items() if k != "id"}
    if positions is not None:
        spec["expectations"] = [spec["expectations"][i] for i in positions]
        spec["name"] = f"{spec['name']}-part-{'-'.join(map(str, positions))}"
    return gx.ExpectationSuite(**spec)


@lru_cache(maxsize=None)
def _batch_definition_and_suite(contract: str, positions: tuple[int, ...]):
    context = _context()
    name = f"payrecon-{contract}-{'-'.join(map(str, positions))}"
    try:
        batch_definition = context.data_sources.get(name).get_asset(contract).get_batch_definition("whole")
    except Exception:  # noqa: BLE001 - not made yet in this process
        source = context.data_sources.add_pandas(name)
        batch_definition = source.add_dataframe_asset(contract).add_batch_definition_whole_dataframe("whole")
    return batch_definition, _suite(contract, positions)


def _result_key(kind: str, kwargs, meta) -> str:
    kwargs = dict(kwargs or {})
    return json.dumps([kind, kwargs.get("column"), list(kwargs.get("column_list") or []), meta or {}], sort_keys=True, default=str)


def _gx_outcomes(frame: pd.DataFrame, contract: str, positions: tuple[int, ...]) -> list[Outcome]:
    """The expectations at `positions` of the suite, checked by great-expectations."""
    expectations = load_suite_spec(contract)["expectations"]
    with _lock:  # the great-expectations context is not thread-safe
        batch_definition, suite = _batch_definition_and_suite(contract, positions)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    # great-expectations lists the expectations that raised first: match its results to the suite's
    by_key: dict[str, list] = {}
    for found in result.results:
        by_key.setdefault(_result_key(found.expectation_config.type, found.expectation_config.kwargs,
                                      found.expectation_config.meta), []).append(found)
    outcomes = []
    for position in positions:
        expectation = expectations[position]
        found = by_key[_result_key(expectation["type"], expectation.get("kwargs") or {}, expectation.get("meta"))].pop(0)
        info = found.exception_info or {}
        failed = info.get("raised_exception") if isinstance(info, dict) else False
        indexes = (found.result or {}).get("unexpected_index_list")
        if found.success:
            unexpected = np.zeros(0, dtype=np.int64)
        elif indexes is None:
            unexpected = None
        else:
            unexpected = np.asarray([int(i) for i in indexes], dtype=np.int64)
        missing = (found.result or {}).get("missing_count")
        outcomes.append(Outcome(expectation["type"], expectation.get("kwargs") or {}, expectation.get("meta") or {},
                                unexpected, len(frame), None if missing is None else len(frame) - missing,
                                exception=(info.get("exception_message") or "failed") if failed else None))
    return outcomes


# --- rows: valid and quarantined ---------------------------------------------------------------------


def validate(df: pd.DataFrame, contract: str, engine: str = "auto") -> Validation:
    """Split `df` into rows that keep the contract and rows that break it (with reasons).

    Nothing is dropped: len(valid) + len(quarantined) == len(df).
    """
    columns = columns_of(contract)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{contract}: missing columns {', '.join(missing)}")
    frame = df.reset_index(drop=True)
    if frame.empty:
        return Validation(valid=frame, quarantined=frame.assign(reason=pd.Series(dtype="str")))
    reasons: dict[int, list[str]] = {}
    for outcome in evaluate(frame[columns], contract, engine):
        if outcome.success:
            continue
        column = outcome.kwargs.get("column")
        # A check that failed as a whole: every row shares the reason.
        indexes = range(len(frame)) if outcome.unexpected is None else outcome.unexpected.tolist()
        values = frame[column] if column in frame.columns else None
        for index in indexes:
            value = None if values is None else values.iat[index]
            shown = "" if value is None or (isinstance(value, float) and value != value) else f" (got {value!r})"  # float-ok: NaN test
            reasons.setdefault(int(index), []).append(f"{outcome.reason}{shown}")
    if not reasons:
        return Validation(valid=frame, quarantined=frame.iloc[0:0].assign(reason=pd.Series(dtype="str")))
    bad = sorted(reasons)
    quarantined = frame.loc[bad].assign(reason=["; ".join(reasons[i]) for i in bad])
    valid = frame.drop(index=bad)
    return Validation(valid=valid, quarantined=quarantined)


# --- whole tables (report datasets) ------------------------------------------------------------------


@dataclass
class TableCheck:
    """A whole table checked against its contract (the report datasets)."""

    contract: str
    outcomes: list[Outcome]
    #: the unexpected values of each outcome, at most PARTIAL_UNEXPECTED_COUNT (for messages and Data Docs)
    samples: list[list]
    failures: list[str]
    missing_columns: list[str]


def table_check(df: pd.DataFrame, contract: str, engine: str = "auto", present: Iterable[str] | None = None) -> TableCheck:
    """Check a whole table; `failures` lists the broken rules (empty when it keeps the contract).

    `present`: the table's columns when `df` holds only those the rules read (`columns_checked`)."""
    present = set(df.columns if present is None else present)
    missing = [c for c in columns_of(contract) if c not in present]
    if missing:
        return TableCheck(contract, [], [], [f"missing columns {', '.join(missing)}"], missing)
    frame = df[[c for c in columns_of(contract) if c in df.columns]].reset_index(drop=True)
    outcomes = evaluate(frame, contract, engine)
    samples, failures = [], []
    for outcome in outcomes:
        sample = _sample(frame, outcome)
        samples.append(sample)
        if not outcome.success:
            count = None if outcome.unexpected is None else len(outcome.unexpected)
            failures.append(outcome.reason + (f" ({count} rows, e.g. {sample[:3]!r})" if count else ""))
    return TableCheck(contract, outcomes, samples, failures, [])


def _sample(frame: pd.DataFrame, outcome: Outcome) -> list:
    if outcome.unexpected is None or not len(outcome.unexpected):
        return []
    rows = outcome.unexpected[:PARTIAL_UNEXPECTED_COUNT]
    if "column_list" in outcome.kwargs:
        part = frame[list(outcome.kwargs["column_list"])].iloc[rows].astype(object)
        return [dict(zip(part.columns, (_plain(v) for v in r))) for r in part.itertuples(index=False)]
    return [_plain(v) for v in frame[outcome.kwargs["column"]].iloc[rows].astype(object)]


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def check_table(df: pd.DataFrame, contract: str, docs_dir: str | None = None) -> list[str]:
    """Validate a whole table; returns the broken rules (empty when it keeps the contract).

    With `docs_dir`, its great-expectations Data Docs page is rendered there at once; to render
    many tables' pages in one go, collect their `table_check` results and call
    `data_docs.render` (what the nightly reports do)."""
    checked = table_check(df, contract)
    if docs_dir:
        from data_contracts.data_docs import render

        render([checked], docs_dir)
    return checked.failures
