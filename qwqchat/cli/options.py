"""Parameter types and the option sets shared by the group and its commands.

A shared option does not reach the command as an argument: its callback files the value given (never a
default) under ``ctx.meta``, which the group and the command share.  So ``qwqchat --temperature 0.1 ask``
and ``qwqchat ask --temperature 0.1`` mean the same, and a flag after the command wins.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import click

from .. import config as config_mod

FLAGS = "qwqchat.flags"


class Number(click.ParamType):
    """A float flag: NaN and infinities are not numbers anyone means."""

    name = "float"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"invalid float value: {value!r}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"not a finite number: {value!r}", param, ctx)
        return number


class Whole(click.ParamType):
    """A whole number within what the code below can hold (SQLite, llama.cpp's C ints)."""

    name = "whole number"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"invalid whole number value: {value!r}", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{value} is out of range ({self.low} to {self.high:,})", param, ctx)
        return number


ID = Whole(1, 2**63 - 1)
INT = Whole(-(2**31), 2**31 - 1)
FLOAT = Number()


def flags(ctx: click.Context) -> Dict[str, Any]:
    """The shared flags given, before or after the command."""
    return ctx.meta.setdefault(FLAGS, {})


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name:
        flags(ctx)[param.name] = value
    return value


def shared(*names: str, **attrs: Any) -> Callable:
    """An option filed under ``ctx.meta`` (see the module docstring), not passed to the command."""
    return click.option(*names, callback=_keep, expose_value=False, default=None, **attrs)


def _stack(*decorators: Callable) -> Callable:
    def apply(f: Callable) -> Callable:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


engine_options = _stack(
    shared(
        "--model",
        metavar="PATH",
        help="GGUF file (default: QWQCHAT_MODEL, then the config file); "
        "with --endpoint, the server's model name (default: the first it lists)",
    ),
    shared("--ctx", type=INT, metavar="N", help="context size in tokens (default 32768, capped at the model's)"),
    shared("--kv-cache", type=click.Choice(config_mod.KV_TYPES), help="KV-cache type (q8_0 halves its memory)"),
    shared("--yarn", is_flag=True, flag_value=True, help="YaRN long context (up to 4x the native context)"),
    shared("--threads", type=INT, metavar="N", help="CPU threads (default: all physical cores)"),
    shared("--gpu-layers", type=INT, metavar="N", help="layers to offload (default: all when the build has a GPU)"),
    shared("--draft", type=INT, metavar="N", help="draft N tokens a step from the context (prompt lookup; 0: off)"),
    shared("--endpoint", metavar="URL", help="an OpenAI-compatible server, e.g. http://gpu-box:8000/v1"),
    shared(
        "--api-key",
        metavar="KEY",
        help="visible to other users in the process list: prefer "
        "QWQCHAT_API_KEY (default), OPENAI_API_KEY or a profile's api_key_env",
    ),
    shared("--profile", metavar="NAME", help="a [profiles.NAME] table of the config file"),
)

sampling_options = _stack(
    shared("--system", metavar="TEXT", help="system prompt for a new conversation"),
    shared("--max-tokens", type=INT, metavar="N", help="most tokens of one reply (thinking and answer)"),
    shared("--temperature", type=FLOAT, metavar="F", help="sampling temperature (QwQ: 0.6)"),
    shared("--top-p", type=FLOAT, metavar="F", help="nucleus sampling (QwQ: 0.95)"),
    shared("--top-k", type=INT, metavar="N", help="sample from the N likeliest tokens (QwQ: 20-40)"),
    shared("--min-p", type=FLOAT, metavar="F", help="drop tokens below F times the likeliest (QwQ: 0)"),
    shared("--presence-penalty", type=FLOAT, metavar="F", help="0-2; raise it against loops"),
    shared("--seed", type=INT, metavar="N", help="random seed (-1: random)"),
    shared(
        "--think-budget",
        type=INT,
        metavar="N",
        help="end the thinking after N tokens and let the model answer (local engine)",
    ),
)

model_options = _stack(engine_options, sampling_options)

reply_options = _stack(
    click.option("--hide-reasoning", is_flag=True, help="do not print the thinking"),
    click.option("--json", "as_json", is_flag=True, help="print one JSON object at the end instead of streaming"),
    click.option(
        "--on-loop",
        type=click.Choice(("warn", "stop", "answer")),
        default="warn",
        show_default=True,
        help="when the thinking repeats itself: warn, stop, or end the thinking and answer",
    ),
)
