"""Moved to ``qwqchat.models.hub`` (downloads) and ``qwqchat.models.local`` (local files); these
re-exports stay only until the issue-11 branches are merged."""

from .models.hub import REPO, Target, pull, resolve, verify
from .models.hub_errors import HubInterrupted, HubOffline, PullCancelled, hub_error
from .models.local import LocalModel, describe_local, local_models

__all__ = [
    "REPO",
    "HubInterrupted",
    "HubOffline",
    "LocalModel",
    "PullCancelled",
    "Target",
    "describe_local",
    "hub_error",
    "local_models",
    "pull",
    "resolve",
    "verify",
]
