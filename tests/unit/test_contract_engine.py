"""The vectorised contract checks (data_contracts/contract.py) against great-expectations itself:
for every contract and every kind of bad value, the same rows quarantined with the same reasons,
the same table failures. great-expectations is the reference (`engine="gx"`)."""

import json
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from data_contracts import contract
from data_contracts.contract import evaluate, table_check, validate
from sources.records import RECORD_FIELDS


def line(**overrides):
    base = dict.fromkeys(RECORD_FIELDS)
    base.update(record_type="bank_line", source_format="t", account="UA1", booking_date="2026-11-20",
                value_date="2026-11-20", amount="100.00", currency="UAH", line_id="l1")
    base.update(overrides)
    return base


#: each bad case of a normalized line, and a reason it must get (None: it keeps the contract)
LINES = [
    (dict(line_id="ok"), None),
    (dict(line_id="feb-30", booking_date="2026-02-30"), "booking date is not a calendar date (expected YYYY-MM-DD after parsing) (got '2026-02-30')"),
    (dict(line_id="dotted", booking_date="20.11.2026"), "booking date is not a calendar date"),
    (dict(line_id="lead-space", booking_date=" 2026-11-05"), "booking date is not a calendar date"),
    (dict(line_id="trail-space", value_date="2026-11-05 "), "value date is not a calendar date"),
    (dict(line_id="short-month", booking_date="2026-1-5"), None),  # strptime takes it, so does the contract
    (dict(line_id="year-0", value_date="0000-01-01"), "value date is not a calendar date"),
    (dict(line_id="time", value_date="2026-11-05T10:00:00"), "value date is not a calendar date"),
    (dict(line_id="empty-date", booking_date=""), "booking date is not a calendar date (expected YYYY-MM-DD after parsing) (got '')"),
    (dict(line_id="no-date", booking_date=None), "the booking date is missing"),
    (dict(line_id="comma", amount="1,5x", currency="грн"), "amount is not a decimal number"),
    (dict(line_id="precise", amount="1.00001"), "at most 4 decimal places (got '1.00001')"),
    (dict(line_id="huge", amount="1234567890123456"), "amount is not a decimal number"),
    (dict(line_id="negative", amount="-5.0001"), None),
    (dict(line_id="newline", amount="100.00\n"), None),  # great-expectations' regex search says so; so do we
    (dict(line_id="no-amount", amount=None), "the amount is missing"),
    (dict(line_id="lower", currency="uah"), "ISO 4217"),
    (dict(line_id="four", currency="UAHX"), "ISO 4217"),
    (dict(line_id="no-currency", currency=None), "the currency is missing"),
    (dict(line_id="no-account", account=None), "account number is missing"),
    (dict(line_id="memo", record_type="memo"), "record_type is not one of"),
    (dict(line_id=None), "no stable line_id"),
    (dict(line_id=None), "no stable line_id"),
    (dict(line_id="twice"), "the same line_id appears twice in one file (got 'twice')"),
    (dict(line_id="twice"), "the same line_id appears twice in one file (got 'twice')"),
    (dict(line_id="all-bad", record_type=None, account=None, booking_date="x", value_date="y", amount="z", currency=""),
     "our account number is missing: check the statement's account column; the booking date is not a calendar date"),
]


def lines_frame(dtype="str"):
    return pd.DataFrame([line(**case) for case, _ in LINES], dtype=dtype)


def same(fast, reference):
    assert fast.valid.equals(reference.valid)
    assert fast.quarantined.equals(reference.quarantined), (
        fast.quarantined[["reason"]].to_string() + "\n---\n" + reference.quarantined[["reason"]].to_string())


@pytest.mark.parametrize("dtype", ["str", object])
def test_normalized_lines_catch_each_bad_case_as_great_expectations_does(dtype):
    frame = lines_frame(dtype)
    fast = validate(frame, "normalized_lines")
    same(fast, validate(frame, "normalized_lines", engine="gx"))
    reasons = dict(zip(fast.quarantined.index, fast.quarantined["reason"]))
    assert len(fast.valid) + len(fast.quarantined) == len(frame)
    for index, (_, expected) in enumerate(LINES):
        if expected is None:
            assert index in fast.valid.index, LINES[index]
        else:
            assert expected in reasons[index], (LINES[index], reasons.get(index))


def test_invoice_contract_as_great_expectations_does():
    rows = [
        dict(invoice_number="2026-00001", org_id="o1", issued_on="2026-11-01", due_on=None, currency="UAH", amount="100.00", status="open"),
        dict(invoice_number="2026-00002", org_id="o1", issued_on="01.11.2026", due_on=None, currency="UAH", amount="-5", status="draft"),
        dict(invoice_number="2026-00003", org_id=None, issued_on=None, due_on="2026-13-01", currency="usd", amount=None, status=None),
        dict(invoice_number="2026-00004", org_id="o2", issued_on="2026-11-01", due_on="2026-11-31", currency="EUR", amount="1.23456", status="paid"),
        dict(invoice_number="2026-00004", org_id="o2", issued_on="2026-11-01", due_on="2026-12-01", currency="EUR", amount="7", status="cancelled"),
        dict(invoice_number=None, org_id="o3", issued_on="2026-11-01", due_on="", currency="UAH", amount="12.5", status="partially_paid"),
    ]
    frame = pd.DataFrame(rows, dtype="str")
    fast = validate(frame, "invoices")
    same(fast, validate(frame, "invoices", engine="gx"))
    assert fast.valid["invoice_number"].tolist() == ["2026-00001"]
    reasons = fast.quarantined["reason"].tolist()
    assert "issued_on is not a date" in reasons[0] and "positive decimal" in reasons[0] and "status is not one of" in reasons[0]
    assert "names no organization" in reasons[1] and "due_on is not a date" in reasons[1] and "amount is missing" in reasons[1]
    assert all("appears twice" in r for r in reasons[2:4]) and "invoice number is missing" in reasons[4]


def test_a_date_that_is_not_text_is_left_to_great_expectations():
    """great-expectations refuses a non-text value under a date format (the whole check fails, every
    row gets the reason): the vectorised check does not guess, it hands that rule over."""
    frame = lines_frame(object)
    frame.loc[0, "booking_date"] = datetime(2026, 11, 20)
    fast, reference = validate(frame, "normalized_lines"), validate(frame, "normalized_lines", engine="gx")
    assert fast.valid.empty and reference.valid.empty
    # great-expectations lists a rule that raised first; the rows' reasons are the same
    assert [set(r.split("; ")) for r in fast.quarantined["reason"]] == [set(r.split("; ")) for r in reference.quarantined["reason"]]
    assert fast.quarantined["reason"].str.contains("booking date is not a calendar date").all()


def test_an_expectation_we_do_not_vectorise_goes_to_great_expectations(monkeypatch):
    spec = contract.load_suite_spec("normalized_lines")
    spec["expectations"].append({"type": "expect_column_values_to_match_regex",
                                 "kwargs": {"column": "line_id", "regex": "^[a-z-]+$", "mostly": 1.0},
                                 "meta": {"reason": "line ids are lower-case words"}})
    monkeypatch.setattr(contract, "load_suite_spec", lambda name: json.loads(json.dumps(spec)) if name == "normalized_lines"
                        else json.loads(contract._suite_text(name)))
    contract._batch_definition_and_suite.cache_clear()
    frame = pd.DataFrame([line(line_id="ok"), line(line_id="Upper")], dtype="str")
    result = validate(frame, "normalized_lines")
    assert result.valid["line_id"].tolist() == ["ok"]
    assert result.quarantined["reason"].tolist() == ["line ids are lower-case words (got 'Upper')"]
    contract._batch_definition_and_suite.cache_clear()


REPORT_CASES = {
    "report_balances": pd.DataFrame({
        "org_id": ["o1", "o1", None, "o2", None], "currency": ["UAH", "UAH", "USD", "UAHX", None],
        "balance": np.array([1, 2, 3, -4, 5], dtype=np.int64)}),
    "report_channel_spend": pd.DataFrame({
        "date": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-02", "2026-11-02"]).date,
        "org_id": ["o1", "o1", None, "o2"], "channel": ["sms", "sms", "fax", "email"],
        "quantity": np.array([1, -1, 0, 5], dtype=np.int64), "currency": ["UAH", "UAH", "UA", "EUR"],
        "amount": np.array([100, 0, -1, 5], dtype=np.int64)}),
    "report_credits": pd.DataFrame({
        "date": pd.to_datetime(["2026-11-01"] * 4).date, "credit_id": ["c1", "c1", None, "c4"], "org_id": ["o1", None, "o2", "o3"],
        "source": "camt", "bank_ref": None, "invoice_numbers": None, "currency": "UAH",
        "amount": np.array([-50000, 1, 0, 10], dtype=np.int64), "status": ["confirmed", "provisional", "void", "reversed"],
        "confidence": np.array([1000, 1001, -1, 500], dtype=np.int64), "rule": ["tax_id", None, "x", "y"],
        "credited_at": pd.to_datetime([datetime(2026, 11, 1, tzinfo=timezone.utc), None, datetime(2026, 11, 1, tzinfo=timezone.utc),
                                       datetime(2026, 11, 1, tzinfo=timezone.utc)], utc=True)}),
    "report_delays": pd.DataFrame({
        "kind": ["suspense", "suspense", "lost"], "ref": ["a", "a", "b"], "org_id": None, "currency": "UAH",
        "amount": np.array([1, -2, 3], dtype=np.int64), "expected_by": pd.to_datetime(["2026-11-01"] * 3).date,
        "age_business_days": np.array([1, 2, -3], dtype=np.int32), "flagged_at": pd.Timestamp("2026-11-01", tz="UTC")}),
    "report_exceptions": pd.DataFrame({
        "ref": ["r1", "r1", None], "source": "camt", "reason": [None, "x", "y"], "amount": [1.0, np.nan, 2.0],
        "currency": "UAH", "suggestions": None, "opened_at": pd.to_datetime(["2026-11-01", None, "2026-11-01"], utc=True)}),
    "report_provider_activity": pd.DataFrame({
        "date": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-02"]).date, "provider": ["paypal", "paypal", "visa"],
        "currency": "EUR", "record_type": ["fee", "fee", "gift"], "records": np.array([1, 0, 3], dtype=np.int64),
        "amount": np.array([1, 2, 3], dtype=np.int64)}),
    "report_unmatched_aging": pd.DataFrame({
        "bucket": ["0-1", "0-1", "9+"], "currency": ["UAH", "UAH", "UAH"], "payments": np.array([1, 0, 2], dtype=np.int64),
        "amount": np.array([1, 2, 3], dtype=np.int64)}),
}


@pytest.mark.parametrize("name", sorted(REPORT_CASES))
def test_report_contracts_fail_the_rows_great_expectations_fails(name):
    frame = REPORT_CASES[name]
    fast, reference = evaluate(frame, name), evaluate(frame, name, engine="gx")
    assert [o.type for o in fast] == [o.type for o in reference]
    for mine, theirs in zip(fast, reference):
        assert mine.success == theirs.success, (mine.type, mine.kwargs)
        assert list(mine.unexpected) == list(theirs.unexpected), (mine.type, mine.kwargs)
    checked = table_check(frame, name)
    assert checked.failures, name  # every case above breaks its contract somewhere
    assert checked.failures == table_check(frame, name, engine="gx").failures
    # each rule of the suite is broken by at least one row of its case: each is shown to catch it
    assert not [o.reason for o in fast if o.success], name


def test_the_report_contracts_pass_good_tables():
    good = pd.DataFrame({"org_id": ["o1", "o2"], "currency": ["UAH", "UAH"], "balance": np.array([1, 2], dtype=np.int64)})
    assert table_check(good, "report_balances").failures == []
    assert table_check(good.drop(columns="balance"), "report_balances").failures == ["missing columns balance"]


def test_vectorised_checks_are_many_times_faster():
    n = 20_000
    rng = np.random.default_rng(1)
    days = pd.date_range("2026-01-01", periods=300).strftime("%Y-%m-%d").to_numpy()
    frame = pd.DataFrame({c: pd.array([None] * n, dtype="str") for c in RECORD_FIELDS})
    frame["record_type"], frame["source_format"], frame["account"], frame["currency"] = "bank_line", "camt", "UA1", "UAH"
    frame["booking_date"] = days[rng.integers(0, 300, n)]
    frame["value_date"] = frame["booking_date"]
    frame["amount"] = [f"{x / 100:.2f}" for x in rng.integers(1, 10**8, n)]
    frame["line_id"] = [f"{i:032x}" for i in range(n)]
    frame = frame.astype("str")
    validate(frame.head(3), "normalized_lines", engine="gx")  # great-expectations loaded before timing
    started = time.perf_counter()
    fast = validate(frame, "normalized_lines")
    fast_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reference = validate(frame, "normalized_lines", engine="gx")
    gx_seconds = time.perf_counter() - started
    same(fast, reference)
    assert fast_seconds * 5 < gx_seconds, (fast_seconds, gx_seconds)
