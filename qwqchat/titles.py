"""A short, clean conversation title from the first prompt, without a model call."""

from __future__ import annotations

import re

MAX_TITLE = 60


# Markdown's own marks go (headings, quotes, list bullets, links, backticks, asterisks); the prompt's brackets and
# underscores stay: "[bold]hi[/]" was "boldhi/", "__init__" was "init"
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")  # a URL may hold one level of (...)
_BLOCK_MARK = re.compile(r"^\s*(?:#{1,6}\s|>\s?|[-+*]\s+|\d+[.)]\s+)+")
_MARKUP = re.compile(r"`+|\*\*|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")


def title_from_prompt(prompt: str, limit: int = MAX_TITLE) -> str:
    for line in prompt.splitlines():
        line = _LINK.sub(r"\1", line)  # [text](url) and ![alt](url): the text
        line = _MARKUP.sub("", _BLOCK_MARK.sub("", line))
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
