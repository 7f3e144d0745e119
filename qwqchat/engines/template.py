"""A GGUF's chat template, rendered with limits.

The template comes from the model file: anyone who publishes a GGUF writes it.
llama-cpp-python's sandboxed Jinja formatter blocks escapes but not loops that
never end or strings that fill memory, so rendering here has a time limit, a
size limit, and checks a cancel event between template lines (Esc, Ctrl+C and
quit end it at once).  Any failure is one line naming the model file.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Dict, List, Optional

from ..errors import QwqError

TIME_LIMIT_S = 10.0
MAX_CHARS = 8 * 1024 * 1024  # a prompt this long is far past any context


class TemplateError(QwqError):
    pass


class _Stop(BaseException):  # not an Exception: a template's own error handling cannot swallow it
    pass


class ChatTemplate:
    """``render(messages)`` → (prompt, added_special), as llama-cpp-python's formatter would."""

    def __init__(
        self,
        template: str,
        eos_token: str,
        bos_token: str,
        source: str,
        time_limit: float = TIME_LIMIT_S,
        max_chars: int = MAX_CHARS,
    ) -> None:
        from jinja2 import TemplateError as JinjaError
        from jinja2.sandbox import SandboxedEnvironment
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.source, self.time_limit, self.max_chars = source, time_limit, max_chars
        try:
            # built on an empty template: Jinja folds constants while compiling ("{{ 10 ** 10 ** 10 }}"
            # would hang right here), so the real one is compiled only once the guards are in place
            self._formatter = Jinja2ChatFormatter(
                template="", eos_token=eos_token, bos_token=bos_token, add_generation_prompt=True
            )
            env: Any = self._formatter._environment.environment
            env.intercepted_binops = frozenset({"*", "**"})  # the two that can build huge values in one step
            env.call_binop = lambda context, op, left, right: self._binop(
                SandboxedEnvironment, env, context, op, left, right
            )
            self._template = env.from_string(template)  # recompiled so the interception applies
        except (JinjaError, ValueError, TypeError, RecursionError) as exc:
            raise TemplateError(f"the chat template in {source} cannot be used: {_first_line(exc)}") from None

    def _binop(self, base: Any, env: Any, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, (int, float)) and abs(right) > 1024:
            raise _Stop("an exponent too large")
        if op == "*":
            n, seq = (right, left) if isinstance(right, int) else (left, right)
            if isinstance(n, int) and hasattr(seq, "__len__") and len(seq) * n > self.max_chars:
                raise _Stop("a value too large")
        return base.call_binop(env, context, op, left, right)

    def render(
        self, messages: List[Dict[str, str]], cancel: Optional[threading.Event] = None, generation_prompt: bool = True
    ) -> str:
        deadline = time.monotonic() + self.time_limit
        pieces: List[str] = []
        size = 0

        def check(frame, event, arg):  # runs between template lines: the only way into a running loop
            if cancel is not None and cancel.is_set():
                raise _Stop("cancelled")
            if time.monotonic() > deadline:
                raise _Stop(f"it ran for more than {self.time_limit:.0f} s")
            return check

        previous = sys.gettrace()
        sys.settrace(check)
        try:
            for piece in self._template.generate(
                messages=messages,
                eos_token=self._formatter.eos_token,
                bos_token=self._formatter.bos_token,
                raise_exception=_raise,
                add_generation_prompt=generation_prompt,
                strftime_now=self._formatter.strftime_now,
            ):
                size += len(piece)
                if size > self.max_chars:
                    raise _Stop(f"it produced more than {self.max_chars // 2**20} MiB")
                pieces.append(piece)
        except _Stop as why:
            if str(why) == "cancelled":
                raise TemplateCancelled("stopped while building the prompt") from None
            raise TemplateError(f"the chat template in {self.source} was stopped: {why}") from None
        except Exception as exc:  # noqa: BLE001 - anything the template raises is the template's fault
            raise TemplateError(f"the chat template in {self.source} failed: {_first_line(exc)}") from None
        finally:
            sys.settrace(previous)
        return "".join(pieces)


class TemplateCancelled(QwqError):
    pass


def _raise(message: str) -> None:
    raise ValueError(message)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__
