"""payrecon: payment reconciliation for a prepaid messaging platform.

This package holds what is neither a format, a matcher nor a ledger: settings, storage adapters,
the service layer the CLI and the Prefect tasks share, and the command line.
"""

__version__ = "0.1.0"
