"""Run a contract's great-expectations suite over a DataFrame and split valid rows from bad ones.

great_expectations is imported lazily (about 3 s): only code that validates pays for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

SUITES = Path(__file__).parent / "suites"
CONTRACTS = tuple(sorted(p.stem for p in SUITES.glob("*.json")))

_lock = threading.Lock()


@dataclass
class Validation:
    valid: pd.DataFrame
    #: the bad rows, with a `reason` column listing every broken rule of the row
    quarantined: pd.DataFrame


def load_suite_spec(contract: str) -> dict:
    path = SUITES / f"{contract}.json"
    if not path.is_file():
        raise ValueError(f"unknown data contract {contract!r}; known: {', '.join(CONTRACTS)}")
    return json.loads(path.read_text(encoding="utf-8"))


def columns_of(contract: str) -> list[str]:
    """The contract's columns, in order (the suite's meta.columns)."""
    return list(load_suite_spec(contract)["meta"]["columns"])


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


@lru_cache(maxsize=None)
def _batch_definition_and_suite(contract: str):
    import great_expectations as gx

    spec = load_suite_spec(contract)
    spec = {k: v for k, v in spec.items() if k != "id"}
    suite = gx.ExpectationSuite(**spec)
    context = _context()
    source = context.data_sources.add_pandas(f"payrecon-{contract}")
    asset = source.add_dataframe_asset(contract)
    return asset.add_batch_definition_whole_dataframe("whole"), suite


def validate(df: pd.DataFrame, contract: str) -> Validation:
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
    with _lock:  # the great-expectations context is not thread-safe
        batch_definition, suite = _batch_definition_and_suite(contract)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame[columns]})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    reasons: dict[int, list[str]] = {}
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        reason = (config.meta or {}).get("reason") or config.type
        column = config.kwargs.get("column")
        indexes = outcome.result.get("unexpected_index_list")
        if indexes is None:
            # A table-level expectation failed: every row shares the reason.
            indexes = list(range(len(frame)))
        for index in indexes:
            value = frame.at[index, column] if column in frame.columns else None
            shown = "" if value is None or (isinstance(value, float) and value != value) else f" (got {value!r})"  # float-ok: NaN test
            reasons.setdefault(int(index), []).append(f"{reason}{shown}")
    bad = sorted(reasons)
    quarantined = frame.loc[bad].assign(reason=["; ".join(reasons[i]) for i in bad])
    valid = frame.drop(index=bad)
    return Validation(valid=valid, quarantined=quarantined)


# --- whole-table contracts (report datasets), with Data Docs --------------------------------------

_DOCS_SITE = "payrecon"


def _checkpoint(contract: str, docs_dir: str | None):
    """A checkpoint validating a whole DataFrame against a contract; with `docs_dir`, it also
    renders great-expectations Data Docs there (one page per validation run)."""
    import great_expectations as gx

    context = _context()
    site = f"{_DOCS_SITE}-{hashlib.sha1(docs_dir.encode()).hexdigest()[:10]}" if docs_dir else None
    if site and site not in (context.get_config().data_docs_sites or {}):
        context.add_data_docs_site(
            site,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    name = f"{contract}-{site or 'plain'}"
    try:
        return context.checkpoints.get(name)
    except Exception:  # noqa: BLE001 - not created yet in this process
        pass
    batch_definition, suite = _batch_definition_and_suite(contract)
    try:
        suite = context.suites.get(suite.name)
    except Exception:  # noqa: BLE001
        suite = context.suites.add(suite)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
    actions = [gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=[site])] if site else []
    return context.checkpoints.add(
        gx.Checkpoint(name=name, validation_definitions=[definition], actions=actions, result_format={"result_format": "SUMMARY"})
    )


def check_table(df: pd.DataFrame, contract: str, docs_dir: str | None = None) -> list[str]:
    """Validate a whole table; returns the broken rules (empty when it keeps the contract)."""
    columns = columns_of(contract)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        return [f"missing columns {', '.join(missing)}"]
    with _lock:
        result = _checkpoint(contract, docs_dir).run(batch_parameters={"dataframe": df[columns]})
    failures = []
    for run in result.run_results.values():
        for outcome in run.results:
            if not outcome.success:
                config = outcome.expectation_config
                count = outcome.result.get("unexpected_count")
                sample = outcome.result.get("partial_unexpected_list") or []
                failures.append(
                    f"{(config.meta or {}).get('reason') or config.type}"
                    + (f" ({count} rows, e.g. {sample[:3]!r})" if count else "")
                )
    return failures
