"""Moved to ``qwqchat.models.fit``; this alias stays only until the issue-11 branches are merged."""

import sys

from .models import fit

sys.modules[__name__] = fit
