"""Errors a person can act on. Each carries a one-line message; the CLI prints it without a traceback."""


class PayreconError(Exception):
    """Base of the errors that payrecon reports as one line."""


class SettingsError(PayreconError, ValueError):
    """A PAYRECON_* setting has a value that cannot be used."""


class ImportFileError(PayreconError, ValueError):
    """A billing-system export (organizations, invoices, card payments, usage) cannot be loaded."""
