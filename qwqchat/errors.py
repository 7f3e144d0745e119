"""Errors a user sees as one line.

Anything raised as ``QwqError`` is caught at the edge (CLI or UI) and shown as
its message alone; ``exit_code`` follows the CLI's convention (1 runtime
failure, 2 bad usage or bad input).
"""


class QwqError(Exception):
    exit_code = 1


class BadInput(QwqError):
    """The user gave us something we cannot use (a file, a flag, an id)."""

    exit_code = 2


class ModelError(BadInput):
    """A model file that cannot be loaded."""


class StoreError(QwqError):
    """The conversation database cannot be used."""
