"""Matching logic over DataFrames: candidates, evidence, decisions. No Prefect, no database."""
