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


DNS_FAILURES = ("name or service not known", "nodename nor servname", "getaddrinfo", "name resolution")


def dns_failed(text: str) -> bool:
    """Whether a connection error's text says the host name could not be resolved (any OS's wording)."""
    low = text.lower()
    return any(words in low for words in DNS_FAILURES)


# Quick (answer without thinking) on an engine that cannot skip its model's thinking, with no fast profile set
QUICK_NEEDS = "Quick needs a local model or a `fast` profile"
