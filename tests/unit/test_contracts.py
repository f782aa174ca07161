import pandas as pd
import pytest

from data_contracts import validate
from data_contracts.contract import columns_of
from sources.records import RECORD_FIELDS


def line(**overrides):
    base = dict.fromkeys(RECORD_FIELDS)
    base.update(record_type="bank_line", source_format="t", account="UA1", booking_date="2026-11-20",
                value_date="2026-11-20", amount="100.00", currency="UAH", line_id="l1")
    base.update(overrides)
    return base


def test_contract_columns_are_the_record_fields():
    assert columns_of("normalized_lines") == list(RECORD_FIELDS)


def test_bad_rows_are_split_off_with_every_reason_and_nothing_is_lost():
    frame = pd.DataFrame(
        [
            line(line_id="ok"),
            line(line_id="bad-date", booking_date="2026-02-30"),
            line(line_id="bad-amount-and-currency", amount="1,5x", currency="грн"),
            line(line_id="no-account", account=None),
            line(line_id="too-precise", amount="1.00001"),
            line(line_id="odd-type", record_type="memo"),
        ],
        dtype="str",
    )
    result = validate(frame, "normalized_lines")
    assert result.valid["line_id"].tolist() == ["ok"]
    reasons = dict(zip(result.quarantined["line_id"], result.quarantined["reason"]))
    assert len(result.valid) + len(result.quarantined) == len(frame)
    assert "not a calendar date" in reasons["bad-date"] and "'2026-02-30'" in reasons["bad-date"]
    assert "amount is not a decimal" in reasons["bad-amount-and-currency"]
    assert "ISO 4217" in reasons["bad-amount-and-currency"]
    assert "account number is missing" in reasons["no-account"]
    assert "at most 4 decimal places" in reasons["too-precise"]
    assert "record_type is not one of" in reasons["odd-type"]


def test_repeated_line_ids_are_quarantined():
    frame = pd.DataFrame([line(), line()], dtype="str")
    result = validate(frame, "normalized_lines")
    assert result.valid.empty
    assert result.quarantined["reason"].str.contains("same line_id appears twice").all()


def test_empty_frame_validates_to_empty():
    frame = pd.DataFrame(columns=list(RECORD_FIELDS), dtype="str")
    result = validate(frame, "normalized_lines")
    assert result.valid.empty and result.quarantined.empty


def test_missing_column_and_unknown_contract_are_errors():
    with pytest.raises(ValueError, match="missing columns"):
        validate(pd.DataFrame({"line_id": ["x"]}), "normalized_lines")
    with pytest.raises(ValueError, match="unknown data contract"):
        validate(pd.DataFrame(), "nope")


def test_invoice_contract():
    frame = pd.DataFrame(
        [
            dict(invoice_number="2026-00001", org_id="o1", issued_on="2026-11-01", due_on=None, currency="UAH", amount="100.00", status="open"),
            dict(invoice_number="2026-00002", org_id="o1", issued_on="01.11.2026", due_on=None, currency="UAH", amount="-5", status="draft"),
        ],
        dtype="str",
    )
    result = validate(frame, "invoices")
    assert result.valid["invoice_number"].tolist() == ["2026-00001"]
    reason = result.quarantined.iloc[0]["reason"]
    assert "issued_on is not a date" in reason and "positive decimal" in reason and "status is not one of" in reason
