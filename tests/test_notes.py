"""The words shared by the export, the chat screen and the CLI, each written once in the core."""

import pytest

from qwqchat.notes import finish_note
from qwqchat.text import age


@pytest.mark.parametrize(
    "finish, answer, export, screen",
    [
        ("stop", "42", "", ""),
        ("stop", "", "", "The model finished without an answer"),
        ("error", "", "Error: boom", "⚠ boom"),
        ("error", "part", "Error: generation failed", "⚠ generation failed"),
        ("cancelled", "", "Stopped while thinking — no answer", "Stopped while thinking — no answer"),
        ("cancelled", "part", "Reply cancelled before it finished", "■ Stopped"),
        (
            "interrupted",
            "",
            "Interrupted while thinking — no answer",
            "Interrupted while thinking — no answer (qwqchat was closed)",
        ),
        ("interrupted", "part", "Reply interrupted before it finished", "■ Interrupted (qwqchat was closed)"),
        ("length", "", "Ran out of tokens while thinking — no answer", "Ran out of tokens while thinking — no answer"),
        ("length", "part", "Reply cut off at the token limit", "■ Cut off at the token limit"),
        (None, "", "", ""),
    ],
)
def test_finish_note_in_the_export_and_on_screen(finish, answer, export, screen):
    error = "boom" if answer == "" else None
    assert finish_note(finish, answer, error) == export
    assert finish_note(finish, answer, error, screen=True) == screen


@pytest.mark.parametrize(
    "seconds, long, short",
    [
        (0, "just now", "just now"),
        (-5, "just now", "just now"),
        (59, "just now", "just now"),
        (60, "1 minute ago", "1m ago"),
        (7200, "2 hours ago", "2h ago"),
        (86400 * 3 + 5, "3 days ago", "3d ago"),
    ],
)
def test_age_for_the_sidebar_and_the_cli(seconds, long, short):
    assert age(1_000_000 - seconds, now=1_000_000) == long
    assert age(1_000_000 - seconds, now=1_000_000, short=True) == short
