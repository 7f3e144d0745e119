"""What went wrong talking to the Hugging Face hub, as one line that says what to do.

``HubOffline`` (nothing could be fetched) and ``HubInterrupted`` (a transfer broke off and will resume)
are told apart so the first-run screen and ``qwqchat pull`` can say which.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from ..errors import BadInput, QwqError, dns_failed


class PullCancelled(QwqError):
    pass


class HubOffline(QwqError):
    """The hub could not be reached at all (no network, DNS failure, refused): this attempt fetched nothing."""


class HubInterrupted(QwqError):
    """A transfer started and broke off; what arrived is kept and the next attempt resumes from it."""


def hub_endpoint(endpoint: Optional[str]) -> Optional[str]:
    """The hub to talk to: as given, else ``HF_ENDPOINT`` read now (huggingface-hub reads it once at import)."""
    return endpoint or os.environ.get("HF_ENDPOINT") or None


def hub_error(exc: BaseException, repo: str, filename: str = "") -> QwqError:
    """One line for any failure of huggingface-hub, saying what to do."""
    from huggingface_hub import errors

    where = f"{repo}/{filename}" if filename else repo
    if isinstance(exc, errors.GatedRepoError):
        return QwqError(f"{repo} is gated: accept its terms on huggingface.co and set HF_TOKEN (or `hf auth login`)")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return BadInput(f"repository {repo} not found (or private: set HF_TOKEN)")
    if isinstance(exc, (errors.RemoteEntryNotFoundError, errors.EntryNotFoundError)):
        return BadInput(f"{where} not found")
    if isinstance(exc, errors.RevisionNotFoundError):
        return BadInput(f"{where}: revision not found")
    if isinstance(exc, errors.LocalEntryNotFoundError):
        return HubOffline(f"offline: cannot reach {_hub_host()} for {where}")
    if isinstance(exc, errors.HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 401:
            return QwqError(f"{repo} needs a token (401): set HF_TOKEN")
        return QwqError(f"the hub answered {status or 'an error'} for {where}: {str(exc).splitlines()[0]}")
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return QwqError(
            f"the disk is full while downloading {where}; free space and run the command again (the download resumes)"
        )
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    offline = _offline_reason(exc, text)
    if offline:
        return HubOffline(f"offline: cannot reach {_hub_host()} ({offline})")
    if any(
        s in text.lower() for s in ("connect", "timed out", "network", "remoteprotocol", "reset")
    ) or exc.__class__.__name__ in (
        "ReadTimeout",
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "ConnectionError",
        "ChunkedEncodingError",
    ):
        return HubInterrupted(f"the download of {filename or repo} was interrupted ({_short(text)})")
    return QwqError(f"download of {where} failed: {exc.__class__.__name__}: {text}")


def _hub_host() -> str:
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = hub_endpoint(None) or constants.ENDPOINT
    return urlparse(url).netloc or url


def _offline_reason(exc: BaseException, text: str) -> Optional[str]:
    """Why no connection could be made at all, or None when the failure came later."""
    low = text.lower()
    if dns_failed(low) or "resolve" in low:
        return "DNS lookup failed"
    if "refused" in low:
        return "connection refused"
    if "network is unreachable" in low or "no route to host" in low:
        return "network unreachable"
    if exc.__class__.__name__ in ("ConnectError", "ConnectTimeout"):
        return "no connection"
    return None


def _short(text: str) -> str:
    """'[Errno 104] Connection reset by peer' -> 'connection reset by peer'."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text).strip()
    return (text[:1].lower() + text[1:])[:60] if text else "network error"
