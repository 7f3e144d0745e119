"""The words shared by the export, the chat screen and the CLI, each written once in the core."""

import pytest

from qwqchat.notes import finish_note, stats_line
from qwqchat.text import age
from qwqchat.types import Stats


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


def test_the_stats_line_says_when_drafting_was_on_and_how_much_of_it_the_model_kept():
    assert "draft" not in stats_line(Stats(answer_tokens=5))
    line = stats_line(Stats(answer_tokens=200, decode_tokens_per_s=30.0, draft=10, drafted=300, draft_accepted=190))
    assert "30.0 tok/s · draft 10 · 63 % accepted" in line
    assert "draft 10 · context" in stats_line(Stats(answer_tokens=1, draft=10, context_size=4096))  # nothing drafted


def test_one_token_is_not_tokens():
    from qwqchat.notes import thought_summary

    assert thought_summary(Stats(thinking_s=1.0, reasoning_tokens=1), "x") == "Thought for 1 s · 1 token"
    assert thought_summary(Stats(thinking_s=1.0, reasoning_tokens=2345), "x") == "Thought for 1 s · 2,345 tokens"
    assert thought_summary(None, "one") == "Thought · 1 word"


@pytest.mark.parametrize(
    "intervention, says",
    [
        (None, "thinking looped"),
        ("loop-stop", "stopped: thinking looped"),
        ("loop-answer", "thinking ended: it looped"),
    ],
)
def test_a_loop_is_said_once_in_the_stats_line(intervention, says):
    """A reply stopped because its thinking looped said so twice: "stopped: thinking looped · thinking looped"."""
    line = stats_line(Stats(answer_tokens=3, loop_detected=True, intervention=intervention))
    assert line.count("looped") == 1 and says in line
