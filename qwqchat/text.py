"""Text from outside (a model, a server, a file, the user) made safe to show, log or store.

One place decides what may reach a terminal: control characters become visible
symbols, bidi controls and invisible characters are neutralised, lone
surrogates (which cannot be encoded, so would end a write) become U+FFFD; and
secrets in URLs are redacted before any text is shown, logged or saved.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, List, Optional

# C0 controls except tab and newline, DEL, and C1 controls: ESC sequences in
# model output must never reach the terminal as commands.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates and marks (they reorder what is shown: "Trojan Source"),
# zero-width and invisible characters (they hide text), and lone surrogates.
_HIDDEN = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """Show control characters as visible symbols (ESC becomes ␛) and neutralise hidden ones."""
    return _HIDDEN.sub("\ufffd", _CONTROL.sub(_symbol, text))


def _symbol(m: "re.Match[str]") -> str:
    code = ord(m.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures"
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (valid JSON ``\\ud800``, never valid UTF-8) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def json_line(data: Any, **kwargs: Any) -> str:
    """JSON for a terminal or a file: like ``json.dumps(ensure_ascii=False)`` but with
    DEL, C1, bidi, invisible characters and lone surrogates written as ``\\uXXXX`` escapes."""
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return re.sub(
        "[\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]",
        lambda m: f"\\u{ord(m.group()):04x}",
        text,
    )


# user:password@ in a URL, and query values whose name says secret
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@?#]+@")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:key|token|secret|password|passwd|pwd|auth|signature|sig|session|credential)"
    r"[a-z0-9_.-]*)=)[^&#\s'\"]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}")
REDACTED = "***"


def redact(text: str, *secrets: Optional[str]) -> str:
    """``text`` with credentials in URLs, auth headers and the given secrets replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def url_secrets(url: str) -> List[str]:
    """The password and secret-looking query values of a URL: literals to redact wherever they turn up."""
    from urllib.parse import parse_qsl, urlparse

    try:
        parsed = urlparse(url)
        found = [parsed.password or ""]
        found += [v for k, v in parse_qsl(parsed.query) if _SECRET_QUERY.match(f"?{k}=x")]
    except ValueError:
        return []
    return [s for s in found if s]


def shown(text: str, *secrets: Optional[str]) -> str:
    """Text from outside as one may show it in a terminal: redacted, then made printable."""
    return printable(redact(text, *secrets))


def age(ts: float, now: Optional[float] = None, *, short: bool = False) -> str:
    """How long ago: "3 hours ago" (the sidebar), or "3h ago" (``short``: the CLI's columns)."""
    d = max(0.0, (now or time.time()) - ts)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if d >= size:
            n = int(d // size)
            return f"{n}{unit[0]} ago" if short else f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"
