"""Data contracts: canonical schemas as great-expectations 1.x suites (JSON under suites/), and
`validate(df, contract) -> (valid, quarantined)`.

Every expectation carries `meta.reason`, the sentence a finance person reads when a row is
quarantined for breaking it.
"""

from data_contracts.contract import CONTRACTS, Validation, validate

__all__ = ["CONTRACTS", "Validation", "validate"]
