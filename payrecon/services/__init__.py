"""The service layer: plain functions the CLI and the Prefect tasks both call."""
