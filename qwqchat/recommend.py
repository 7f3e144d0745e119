"""Moved to ``qwqchat.models.recommend``; this alias stays only until the issue-11 branches are merged."""

import sys

from .models import recommend

sys.modules[__name__] = recommend
