"""The one table of the chat's keys: bindings, the help screen and the command palette all come from it.

Kept apart from the app so a key is added in one place and cannot drift
between what the app answers to and what the help says.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from textual.binding import Binding, BindingType


class Key(NamedTuple):
    action: str
    keys: str  # Textual key names, comma-separated
    title: str  # what the help screen and the palette call it
    footer: Optional[str] = None  # a short label shown in the footer; None keeps it out of the footer
    priority: bool = False  # before the focused widget: for keys a text box would otherwise take


KEYS: List[Key] = [
    Key("stop", "escape", "Stop generating", "Stop"),
    Key("new_chat", "ctrl+n", "New chat", "New chat"),
    Key("regenerate", "ctrl+r", "Regenerate the last reply (keeps the old version)", "Regenerate"),
    Key("edit_last", "f4", "Edit the focused (or last) prompt: a new branch"),
    Key("version_back", "alt+left", "Previous version of the focused (or last) reply or prompt"),
    Key("version_next", "alt+right", "Next version of the focused (or last) reply or prompt"),
    Key("toggle_reasoning", "ctrl+t", "Fold/unfold the focused turn's thinking", "Fold thinking"),
    Key("toggle_all_reasoning", "ctrl+g", "Fold/unfold every turn's thinking"),
    Key("copy_answer", "ctrl+o", "Copy the focused (or last) answer"),
    Key("copy_code", "f5", "Copy the last code block of the answer"),
    Key("copy_reasoning", "ctrl+backslash", "Copy the focused (or last) turn's thinking"),  # F6/F7: TextArea's
    Key("find_reasoning", "f12", "Find in the focused turn's thinking (Enter next, ↑ previous, Esc close)"),
    Key("outline", "f11", "Turning points of the focused turn's thinking: jump to one"),
    Key("export", "ctrl+s", "Export this chat to Markdown", "Export"),
    Key("rename", "f2", "Rename this chat"),
    Key("delete", "f8", "Delete this chat"),
    Key("settings", "f3", "Chat settings (system prompt, sampling)"),
    Key("toggle_sidebar", "ctrl+b", "Show/hide the chat list"),
    Key("filter", "ctrl+f", "Find a chat (full-text)", priority=True),  # Textual < 8's TextArea binds it
    Key("answer_now", "f9", "Answer now: end the thinking, or answer from saved thinking"),
    Key("retry_with_penalty", "f10", "Retry with a higher presence penalty (against loops)"),
    # priority: the prompt's TextArea binds F6/F7 to select line / select all
    Key("toggle_quick", "f6", "Think / Quick: answer without thinking, or with it", priority=True),
    Key("think_about_it", "f7", "Think about it: redo the last Quick answer with thinking", priority=True),
    Key("attach", "ctrl+l", "Attach a file to the prompt, or remove one"),  # TextArea takes Ctrl+A, F6, F7
    Key("help", "f1", "Keys and help", "Help"),  # not "?": the focused prompt types it
]

_NAMES = {"escape": "Esc", "question_mark": "?", "enter": "Enter", "tab": "Tab", "backslash": "\\"}


def key_text(keys: str) -> str:
    """'ctrl+n' -> 'Ctrl+N', 'f1,question_mark' -> 'F1 or ?'."""

    def one(key: str) -> str:
        *mods, last = key.split("+")
        name = _NAMES.get(last, last.upper() if len(last) <= 3 else last.title())
        return "+".join([m.title() for m in mods] + [name])

    return " or ".join(one(k) for k in keys.split(","))


def bindings(table: List[Key]) -> List[BindingType]:
    return [
        Binding(k.keys, k.action, k.footer or k.title, show=k.footer is not None, priority=k.priority) for k in table
    ]


def key_for(action: str) -> str:
    """The key of an action, as shown: for hints that name it ("F7 Think about it")."""
    return key_text(next(k.keys for k in KEYS if k.action == action))
