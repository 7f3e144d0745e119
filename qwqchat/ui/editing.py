"""F4: a prompt back in the box, it and what follows only hidden until the edit is sent as a new branch.

Kept apart from the chat screen so the three steps (begin, cancel, branch) of one edit sit together.
Nothing is ever deleted: the old prompt and its continuation stay a version away (Alt+←).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..store import Conversation, Store
from .widgets.conversation import ConversationView
from .widgets.prompt import PromptBox


@dataclass
class Editing:
    conversation_id: int
    message_id: int  # the prompt being edited: the edit becomes its sibling
    hidden: list  # its widget and those below it, hidden meanwhile
    draft: str  # what the prompt box held before F4

    @classmethod
    def begin(
        cls, conversation: Conversation, view: ConversationView, prompt: PromptBox, target: Optional[int] = None
    ) -> Optional[Editing]:
        """Hide the prompt ``target`` (or the prompt of the reply ``target``; default: the last prompt) and
        what follows it, and put its text in the box; None when the chat has no such prompt on screen."""
        messages = conversation.messages
        at = next((i for i, m in enumerate(messages) if m.id == target), len(messages) - 1)
        users = [i for i, m in enumerate(messages[: at + 1]) if m.role == "user"]
        if not users:
            return None
        message = messages[users[-1]]
        children = list(view.children)
        start = next((i for i, w in enumerate(children) if view.message_id_of(w) == message.id), None)
        if start is None:  # not mounted (an earlier message not loaded): nothing to edit in place
            return None
        hidden = children[start:]
        for w in hidden:
            w.display = False
        editing = cls(conversation.id, message.id, hidden, prompt.text)
        _put(prompt, message.content)
        return editing

    def cancel(self, prompt: PromptBox) -> None:
        """Esc: show the old exchange again and give the prompt box back its draft."""
        for w in self.hidden:
            w.display = True
        _put(prompt, self.draft)

    async def branch(self, store: Store, text: str) -> Tuple[int, int]:
        """The edited prompt is being sent: saved beside the old one, which leaves the screen (not the
        store).  Returns the new prompt's id and how many versions that prompt now has."""
        mid = store.add_version(self.message_id, text)
        for w in self.hidden:
            await w.remove()
        return mid, len(store.siblings(mid))


def _put(prompt: PromptBox, text: str) -> None:
    prompt.text = text
    prompt.move_cursor(prompt.document.end)
