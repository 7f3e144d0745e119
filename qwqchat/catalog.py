"""Moved to ``qwqchat.models.catalog``; this alias stays only until the issue-11 branches are merged."""

import sys

from .models import catalog

sys.modules[__name__] = catalog
