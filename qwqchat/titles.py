"""A short, clean conversation title from the first prompt, without a model call."""

from __future__ import annotations

import re

MAX_TITLE = 60


def title_from_prompt(prompt: str, limit: int = MAX_TITLE) -> str:
    for line in prompt.splitlines():
        line = re.sub(r"[`*_#>\[\]]+", "", line)
        line = re.sub(r"\s+", " ", line).strip(" -:")
        if line:
            break
    else:
        return "New chat"
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"
