"""Each reasoning family's own chat template through the real engine and the splitter.

The test model carries each template in its metadata (rewritten as for QwQ's).
Templates, from the models' repositories as llama.cpp's ``models/templates``
keeps them: ``deepseek_r1_distill_chat_template.jinja`` (DeepSeek-R1-Distill-Qwen-32B;
the 1.5B-14B distills carry the same), ``qwen3_chat_template.jinja`` (Qwen3, first
release; the same for 0.6B-32B).
"""

import pytest
from conftest import DATA, QWQ_TEMPLATE, templated_path

from qwqchat import gguf_header
from qwqchat.engines.llama import LlamaEngine, display_name
from qwqchat.models import catalog
from qwqchat.reasoning import split_text
from qwqchat.types import AnswerDelta, Message, ReasoningDelta, Sampling, TurnDone

TEMPLATES = {  # catalogue name prefix -> (template file, how the thinking starts, the prompt's end)
    "QwQ": (QWQ_TEMPLATE, catalog.PREFILL, "<|im_start|>assistant\n<think>\n"),
    "DeepSeek-R1-Distill": (
        DATA / "deepseek_r1_distill_chat_template.jinja",
        catalog.PREFILL,
        "<｜Assistant｜><think>\n",
    ),
    "Qwen3": (DATA / "qwen3_chat_template.jinja", catalog.SWITCH, "<|im_start|>assistant\n"),
}
HISTORY = [
    Message("system", "SYS-PROMPT"),
    Message("user", "first question"),
    Message("assistant", "<think>\nOLD-THOUGHTS\n</think>\n\nfirst answer"),
    Message("user", "second question"),
]


@pytest.fixture(scope="module", params=sorted(TEMPLATES))
def family(request):
    template, thinking, end = TEMPLATES[request.param]
    engine = LlamaEngine(templated_path(template, request.param.lower()), ctx=2048, threads=1)
    engine.load()
    yield request.param, thinking, end, engine
    engine.close()


def test_every_catalogue_model_has_a_tested_template():
    for m in catalog.MODELS:
        prefix = next(p for p in TEMPLATES if m.name.startswith(p))
        assert m.thinking == TEMPLATES[prefix][1], m.name


def test_the_template_renders_through_the_engine(family):
    name, thinking, end, engine = family
    prompt, tokens = engine.render(HISTORY)
    assert prompt.endswith(end) and engine.opens_thinking(prompt) is (thinking == catalog.PREFILL)
    assert "SYS-PROMPT" in prompt and "first answer" in prompt and "second question" in prompt
    assert "OLD-THOUGHTS" not in prompt  # earlier turns go back without their thinking
    bos = engine.llm.token_bos()
    assert len(tokens) > 10 and tokens[:2] != [bos, bos]  # no doubled BOS (the R1 template writes its own)


def test_a_reply_streams_through_the_splitter(family):
    name, thinking, _, engine = family
    events = list(engine.stream(HISTORY, Sampling(max_tokens=16, seed=3)))
    result = next(e.result for e in events if isinstance(e, TurnDone))
    assert result.finish_reason in ("stop", "length") and not result.error
    kinds = [type(e) for e in events if isinstance(e, (ReasoningDelta, AnswerDelta))]
    if thinking == catalog.PREFILL:  # the prompt opened the thinking: the reply starts in it
        assert kinds and kinds[0] is ReasoningDelta and result.stats.reasoning_tokens > 0
    else:  # thinking on, the model opens it itself; the test model does not, so all of it is answer
        assert kinds and set(kinds) == {AnswerDelta} and result.answer


def test_qwen3_thinking_that_the_model_opens_is_split_out():
    """What Qwen3 writes with thinking on, split as the engine splits it after Qwen3's prompt."""
    starts_in_reasoning = LlamaEngine.opens_thinking("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert split_text("<think>\nLet me add: 2+2=4.\n</think>\n\nIt is 4.", starts_in_reasoning) == (
        "Let me add: 2+2=4.",
        "It is 4.",
    )


def test_answer_from_saved_thinking_opens_it_for_a_template_that_does_not(family):
    name, thinking, _, engine = family
    events = list(engine.stream(HISTORY, Sampling(max_tokens=4, seed=3), prefill_reasoning="SAVED"))
    assert next(e.result for e in events if isinstance(e, TurnDone)).finish_reason in ("stop", "length")
    prompt = engine.llm.detokenize(engine.llm._input_ids.tolist(), special=True).decode("utf-8", "replace")
    assert "<think>\nSAVED\n</think>" in prompt and prompt.count("<think>") == 1


def test_the_model_is_named_from_its_gguf(family):
    _, _, _, engine = family
    assert engine.name == display_name(engine.info) == "Smollm2 135M 8k Lc100K Mix1 Ep2"


def test_display_name_is_one_line_with_the_quant(smol_model, tmp_path):
    info = gguf_header.read(smol_model)
    info.metadata["general.name"] = "QwQ\n32B\x1b[2J"
    info.path = tmp_path / "qwq-32b-q4_k_m.gguf"
    assert display_name(info) == "QwQ 32B␛[2J Q4_K_M"


def test_quick_closes_an_empty_thinking_in_every_family(family, monkeypatch):
    """Quick: the prompt ends in "<think>\n\n</think>\n\n" whether the template opened the thinking or not
    (Qwen3's own enable_thinking=false renders the same), and not one reasoning token follows."""
    from test_quick import spy_prompts

    _, _, end, engine = family
    prompts = spy_prompts(engine, monkeypatch)
    events = list(engine.stream(HISTORY, Sampling(max_tokens=8, seed=3), think=False))
    result = next(e.result for e in events if isinstance(e, TurnDone))
    opened = "" if end.endswith("<think>\n") else "<think>\n"
    assert prompts[0].endswith(end + opened + "\n</think>\n\n") and prompts[0].count("<think>") == 1
    assert result.stats.reasoning_tokens == 0 and not any(isinstance(e, ReasoningDelta) for e in events)
