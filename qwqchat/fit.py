"""Moved to ``qwqchat.models.fit``; this alias stays only until the issue-11 branches are merged."""

import sys

from .models import fit as _moved
from .models.fit import *  # noqa: F403  (names for type checkers; the alias below is what runs)

sys.modules[__name__] = _moved
