"""Analyst datasets: definitions, building them from the ledger, publishing them as Parquet."""
