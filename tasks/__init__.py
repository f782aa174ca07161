"""Prefect tasks: retries, logging and names around the service layer. They parse and match
nothing themselves."""
