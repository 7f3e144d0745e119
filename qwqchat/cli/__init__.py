"""The ``qwqchat`` command (click): ``group`` holds the group and its error handling, ``options`` the flags
shared by the group and its commands, ``ask`` / ``chats`` / ``models`` the commands, ``printer`` the terminal
rendering of a reply."""

from .group import cli, main, parse_flags

__all__ = ["cli", "main", "parse_flags"]
