"""F4: the last prompt back in the box, its exchange only hidden until the edited prompt is sent.

Kept apart from the chat screen so the three steps (begin, cancel, replace) of one edit sit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ..store import Conversation, Store
from .widgets.conversation import ConversationView
from .widgets.prompt import PromptBox


@dataclass
class Editing:
    conversation_id: int
    message_ids: List[int]  # the last prompt and everything after it, deleted when the edit is sent
    hidden: list  # their widgets, hidden meanwhile
    draft: str  # what the prompt box held before F4

    @classmethod
    def begin(cls, conversation: Conversation, view: ConversationView, prompt: PromptBox) -> Optional[Editing]:
        """Hide the last exchange and put its prompt in the box; None when the chat has no prompt yet."""
        messages = conversation.messages
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        if not users:
            return None
        at = users[-1]
        from .widgets.turn import UserMessage

        children = list(view.children)
        prompts = [w for w in children if isinstance(w, UserMessage)]
        hidden = children[children.index(prompts[-1]) :] if prompts else []
        for w in hidden:
            w.display = False
        editing = cls(conversation.id, [m.id for m in messages[at:]], hidden, prompt.text)
        _put(prompt, messages[at].content)
        return editing

    def cancel(self, prompt: PromptBox) -> None:
        """Esc: show the old exchange again and give the prompt box back its draft."""
        for w in self.hidden:
            w.display = True
        _put(prompt, self.draft)

    async def replace(self, store: Store) -> None:
        """The edited prompt is being sent: only now does the old exchange go."""
        for mid in self.message_ids:
            store.delete_message(mid)
        for w in self.hidden:
            await w.remove()


def _put(prompt: PromptBox, text: str) -> None:
    prompt.text = text
    prompt.move_cursor(prompt.document.end)
