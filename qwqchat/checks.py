"""Type checks for data from outside (config files, imported exports, database rows).

``isinstance`` alone is not enough: ``True`` is an ``int`` to Python and NaN is a
``float``; neither is a number a user meant.  One place says what counts.
"""

from __future__ import annotations

import json
import math
import typing
from typing import Any, Dict, Optional

from .errors import QwqError

NoneType = type(None)


def conforms(value: Any, kind: Any) -> bool:
    """Whether ``value`` is of ``kind``: a plain type, ``Optional[...]``/``Union[...]``, ``Dict``/``List``."""
    origin = typing.get_origin(kind)
    if origin is typing.Union:
        return any(conforms(value, k) for k in typing.get_args(kind))
    if origin in (dict, list):
        return isinstance(value, origin)
    if kind is Any:
        return True
    if kind is NoneType:
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # a whole number is a fine float; NaN and infinities are not numbers a user means
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


def type_name(kind: Any) -> str:
    """``Optional[int]`` → "a whole number"; how a one-line error names the expected type."""
    args = (
        [k for k in typing.get_args(kind) if k is not NoneType] if typing.get_origin(kind) is typing.Union else [kind]
    )
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        dict: "a table",
        list: "a list",
    }
    return " or ".join(names.get(typing.get_origin(k) or k, getattr(k, "__name__", str(k))) for k in args)


def dataclass_problem(cls: Any, data: Dict[str, Any]) -> Optional[str]:
    """What is wrong with ``data`` as keyword arguments of the dataclass ``cls`` (unknown keys are ignored)."""
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key in hints and not conforms(value, hints[key]):
            return f"{key} must be {type_name(hints[key])}, not {json.dumps(value, default=str)[:40]}"
    try:
        cls.from_dict(data)
    except (QwqError, ValueError, TypeError) as exc:  # the class's own range checks
        return str(exc)
    return None
