"""Prompt-lookup drafting (``--draft N``): the same reply as without it, counted acceptance, the stats line."""

from __future__ import annotations

import numpy as np
import pytest

from qwqchat.engines.llama import LlamaEngine
from qwqchat.engines.lookup import Drafter
from qwqchat.notes import stats_line
from qwqchat.types import Message, Sampling, TurnDone, TurnResult

CODE = "Add type hints to this function and explain it:\n\ndef area(w, h):\n    return w * h\n"
PROSE = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def reply(model, prompt: str, draft: int, sampling: Sampling) -> TurnResult:
    # q8_0 KV: flash attention for both engines (on CPU with f16 KV only the drafting one has it, see
    # llama_load), so the only difference between the two is the drafting
    engine = LlamaEngine(model, ctx=2048, threads=1, kv_cache="q8_0", draft=draft)
    engine.load()
    try:
        done = [ev for ev in engine.stream([Message("user", prompt)], sampling) if isinstance(ev, TurnDone)]
    finally:
        engine.close()
    return done[0].result


@pytest.mark.parametrize("prompt", [CODE, PROSE], ids=["code", "prose"])
@pytest.mark.parametrize("temperature", [0.0, 0.6])
def test_drafting_gives_the_same_reply_with_a_fixed_seed(qwq_model, prompt, temperature):
    sampling = Sampling(temperature=temperature, seed=42, max_tokens=150)
    plain, drafted = reply(qwq_model, prompt, 0, sampling), reply(qwq_model, prompt, 10, sampling)
    assert (drafted.reasoning, drafted.answer) == (plain.reasoning, plain.answer)
    assert (plain.stats.draft, plain.stats.drafted) == (0, 0) and "draft" not in stats_line(plain.stats)
    s = drafted.stats
    assert s.draft == 10 and 0 < s.draft_accepted < s.drafted
    assert s.draft_accepted < s.reasoning_tokens + s.answer_tokens  # every step samples one token of its own
    assert f"draft 10 · {100 * s.draft_accepted // s.drafted} % accepted" in stats_line(s)


def test_drafting_turns_flash_attention_on(qwq_model):
    import llama_cpp

    engine = LlamaEngine(qwq_model, ctx=1024, threads=1, draft=4)  # f16 KV: plain CPU runs have it off
    engine.load()
    try:
        assert engine.llm.context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    finally:
        engine.close()


def test_acceptance_counts_the_drafted_tokens_the_model_kept_until_the_first_miss():
    d = Drafter(3)
    d.start()
    draft = d(np.array([1, 2, 3, 1, 2, 3, 1], dtype=np.intc))  # "3 1" came before: "2 3 1" followed it
    assert draft.tolist() == [2, 3, 1] and d.drafted == 3
    for token in (2, 9, 1):  # kept, missed, and the rest of that draft is gone
        d.take(token)
    assert (d.accepted, d.drafted) == (1, 3)
    d(np.array([5, 6, 7, 5, 6], dtype=np.intc))  # drafts "7 5 6"
    d.take(7)
    d.settle()  # generation stopped: "5 6" were never checked
    assert (d.accepted, d.drafted) == (2, 4)
    d.start()
    assert (d.accepted, d.drafted) == (0, 0)


def test_drafting_and_a_thinking_budget_give_the_same_reply(qwq_model):
    # the engine closes the thinking itself mid-draft: drafted tokens left in the KV cache must not leak
    sampling = Sampling(temperature=0.0, seed=42, max_tokens=100, think_budget=30)
    plain, drafted = reply(qwq_model, PROSE, 0, sampling), reply(qwq_model, PROSE, 10, sampling)
    assert plain.stats.intervention == drafted.stats.intervention == "think-budget"
    assert (drafted.reasoning, drafted.answer) == (plain.reasoning, plain.answer) and plain.answer
