"""Prompt-lookup speculative decoding: drafts copied from the context, checked by the model in one batch.

Reasoning traces repeat the problem's numbers, names and phrases, so the tokens that followed the
last token(s) earlier in the context are a cheap guess at what comes next.  ``Llama.generate``
evaluates the guess with the sampled token in one batch and samples at every position; it keeps the
drafted tokens the model would have sampled anyway, so the output is what plain decoding gives
(with the same attention kernels: drafting turns flash attention on, see ``llama_load``).

Two things here that llama-cpp-python does not do itself:

- ``Drafter`` remembers its draft, so the engine can count how many drafted tokens were accepted;
- ``DraftingLlama.eval`` asks llama.cpp for logits at every drafted position, as drafting needs, but
  does not copy them into ``Llama.scores``: with a draft model ``Llama`` keeps every evaluated
  position's logits there (n_ctx x n_vocab floats: 20 GB for QwQ at 32K context, 600 KB more
  resident per token) and fails once a prompt passes ``n_batch`` unless ``logits_all`` allocates it
  all.  Nothing on our path reads ``scores``: sampling reads llama.cpp's own logits.
"""

from __future__ import annotations

from typing import Any, List, Sequence

import llama_cpp
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding


class Drafter(LlamaPromptLookupDecoding):
    """Up to ``num_pred_tokens`` tokens that followed the last token(s) earlier in the context,
    with a count of those drafted and those the model accepted (``take`` each generated token)."""

    def __init__(self, num_pred_tokens: int) -> None:
        super().__init__(num_pred_tokens=num_pred_tokens)
        self.drafted = 0
        self.accepted = 0
        self._pending: List[int] = []

    def __call__(self, input_ids: Any, /, **kwargs: Any) -> Any:
        draft = super().__call__(input_ids, **kwargs)
        self._pending = [int(t) for t in draft]
        self.drafted += len(self._pending)
        return draft

    def start(self) -> None:
        """A new turn: count from zero."""
        self.drafted = self.accepted = 0
        self._pending = []

    def take(self, token: int) -> None:
        """A token the model generated: the next drafted one is accepted if it is the same
        (``Llama.generate`` keeps drafted tokens while they match, and drops the rest at the first miss)."""
        if self._pending and self._pending[0] == token:
            self.accepted += 1
            del self._pending[0]
        else:
            self._pending = []

    def settle(self) -> None:
        """Generation stopped: drafted tokens never checked (after a stop or a cancel) do not count."""
        self.drafted -= len(self._pending)
        self._pending = []


class DraftingLlama(llama_cpp.Llama):
    """A ``Llama`` with a ``Drafter`` whose evaluation keeps no copy of the logits (see the module)."""

    draft_model: Drafter

    def eval(self, tokens: Sequence[int]) -> None:
        # The same steps as Llama.eval, less the copy into self.scores.  A call no longer than a
        # draft (+ the sampled token) is a decode step: generate samples at each of its positions.
        every = len(tokens) <= self.draft_model.num_pred_tokens + 1
        self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
        for i in range(0, len(tokens), self.n_batch):
            batch = tokens[i : i + self.n_batch]
            self._batch.set_batch(batch=batch, n_past=self.n_tokens, logits_all=every)
            self._ctx.decode(self._batch)
            self.input_ids[self.n_tokens : self.n_tokens + len(batch)] = batch
            self.n_tokens += len(batch)
            self._requires_eval = False
