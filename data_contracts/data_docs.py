"""great-expectations Data Docs of the report contracts, rendered once per run.

Finance reads `<docs_dir>/index.html`: per run one validation page for each report dataset (which
rules it kept, how many rows broke one, examples) and each contract's expectation page. The checks
themselves run vectorised (data_contracts/contract.py); their outcomes become great-expectations
validation results (the same fields great-expectations' SUMMARY format gives) and great-expectations
renders them, all pages of a run in one site build: the templates are compiled once, the index
written once, instead of a full site build after every dataset (which was three quarters of the
reports stage). A contract's expectation page is rendered again only when its suite changed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from data_contracts.contract import PARTIAL_UNEXPECTED_COUNT, TableCheck, _context, _lock, _suite, _suite_text

_DOCS_SITE = "payrecon"


def _site(docs_dir: str) -> str:
    context = _context()
    site = f"{_DOCS_SITE}-{hashlib.sha1(docs_dir.encode()).hexdigest()[:10]}"
    if site not in (context.get_config().data_docs_sites or {}):
        context.add_data_docs_site(
            site,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return site


def prepare() -> threading.Thread:
    """Import great-expectations and make its context in a background thread (3-4 s of CPU), to
    overlap the database reads of the reports; `render` waits for it."""
    thread = threading.Thread(target=_context, name="gx-prepare", daemon=True)
    thread.start()
    _prepared.append(thread)
    return thread


_prepared: list[threading.Thread] = []


def _percent(part: int | None, whole: int | None) -> float | None:
    return None if part is None or not whole else part / whole * 100


def _expectation_result(check: TableCheck, position: int):
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    outcome, sample = check.outcomes[position], check.samples[position]
    config = ExpectationConfiguration(type=outcome.type, kwargs=dict(outcome.kwargs), meta=dict(outcome.meta or {}))
    if outcome.unexpected is None:  # it failed as a whole
        return ExpectationValidationResult(
            success=False, expectation_config=config, result={},
            exception_info={"raised_exception": True, "exception_traceback": None,
                            "exception_message": outcome.exception or outcome.reason})
    count, elements = len(outcome.unexpected), outcome.element_count
    result: dict = {"element_count": elements, "unexpected_count": count}
    if outcome.nonnull_count is None:
        result["unexpected_percent"] = _percent(count, elements)
    else:
        missing = elements - outcome.nonnull_count
        result.update(unexpected_percent=_percent(count, outcome.nonnull_count), missing_count=missing,
                      missing_percent=_percent(missing, elements), unexpected_percent_total=_percent(count, elements),
                      unexpected_percent_nonmissing=_percent(count, outcome.nonnull_count))
    hashable = [tuple(v.values()) if isinstance(v, dict) else v for v in sample]
    result.update(
        partial_unexpected_list=sample,
        partial_unexpected_counts=[{"value": list(v) if isinstance(v, tuple) else v, "count": n}
                                   for v, n in Counter(hashable).most_common(PARTIAL_UNEXPECTED_COUNT)],
        partial_unexpected_index_list=[int(i) for i in outcome.unexpected[:PARTIAL_UNEXPECTED_COUNT]],
    )
    return ExpectationValidationResult(
        success=count == 0, expectation_config=config, result=result,
        exception_info={"raised_exception": False, "exception_traceback": None, "exception_message": None})


def _suite_result(check: TableCheck, run_id, contract: str):
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult

    results = [_expectation_result(check, i) for i in range(len(check.outcomes))]
    passed = sum(r.success for r in results)
    batch = f"payrecon-{contract}-{contract}"
    return ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=contract,
        statistics={"evaluated_expectations": len(results), "successful_expectations": passed,
                    "unsuccessful_expectations": len(results) - passed,
                    "success_percent": _percent(passed, len(results)) if results else None},
        meta={"great_expectations_version": gx.__version__, "run_id": run_id, "validation_time": run_id.run_time,
              "batch_spec": {"batch_data": "PandasDataFrame"},
              "batch_markers": {"ge_load_time": run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ")},
              "active_batch_definition": {"datasource_name": f"payrecon-{contract}", "data_connector_name": "fluent",
                                          "data_asset_name": contract, "batch_identifiers": {"dataframe": "<DATAFRAME>"}},
              "checked_by": "payrecon vectorised contract checks (data_contracts/contract.py)"},
    ), batch


def _suite_changed(docs_dir: str, contract: str) -> bool:
    """Whether the contract's expectation page must be rendered (missing, or the suite changed);
    remembers the suite's digest."""
    digest = hashlib.sha256(_suite_text(contract).encode()).hexdigest()
    marks = Path(docs_dir) / ".payrecon-suites.json"
    try:
        known = json.loads(marks.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    page = Path(docs_dir) / "expectations" / f"{contract}.html"
    if known.get(contract) == digest and page.is_file():
        return False
    known[contract] = digest
    marks.parent.mkdir(parents=True, exist_ok=True)
    marks.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
    return True


def render(checks: Iterable[TableCheck], docs_dir: str, run_time: datetime | None = None) -> str:
    """Render the validation pages of `checks` (one run) and the site index into `docs_dir`, in one
    site build. Returns the index page's path."""
    while _prepared:
        _prepared.pop().join()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_time=run_time or datetime.now(timezone.utc))
    checks = [c for c in checks if not c.missing_columns]
    with _lock:
        context = _context()
        site = _site(docs_dir)
        identifiers = []
        for check in checks:
            suite_id = ExpectationSuiteIdentifier(name=check.contract)
            try:
                context.suites.get(check.contract)
            except Exception:  # noqa: BLE001 - not added yet in this process
                context.suites.add(_suite(check.contract))
            result, batch = _suite_result(check, run_id, check.contract)
            key = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch)
            context.validation_results_store.set(key, result)
            identifiers.append(key)
            if _suite_changed(docs_dir, check.contract):
                identifiers.append(suite_id)
        if identifiers:
            context.build_data_docs(site_names=[site], resource_identifiers=identifiers)
    return str(Path(docs_dir) / "index.html")
