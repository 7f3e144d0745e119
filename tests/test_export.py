import json

from markdown_it import MarkdownIt

from qwqchat import export
from qwqchat.store import Store
from qwqchat.types import Stats

NASTY_REASONING = "Maybe ```python\nprint('x')``` then </details> <summary>oops</summary> and ````"
NASTY_ANSWER = "Here:\n\n```python\nopen_fence_never_closed()\n"


def make(store: Store) -> int:
    cid = store.create_conversation(
        model="qwq-32b-q4_k_m", system_prompt="Be exact.", settings={"temperature": 0.6, "top_p": 0.95}
    )
    store.add_user_message(cid, "Question with <details> in it")
    mid = store.start_reply(cid)
    store.finish_reply(
        mid,
        NASTY_REASONING,
        NASTY_ANSWER,
        "stop",
        Stats(
            reasoning_tokens=2345,
            thinking_s=34.2,
            answer_tokens=12,
            ttft_s=0.5,
            decode_tokens_per_s=31.0,
            context_used=2400,
            context_size=32768,
        ),
    )
    store.add_user_message(cid, "Second question")
    mid = store.start_reply(cid)
    store.finish_reply(mid, "only thinking", "", "cancelled")
    return cid


def test_markdown_has_metadata_folded_reasoning_and_survives_nasty_text():
    store = Store()
    md = export.to_markdown(store.get(make(store)))
    assert md.startswith("# Question with &lt;details> in it\n")  # the title keeps the prompt's "<details>", escaped
    assert "**Model:** qwq-32b-q4_k_m" in md and "temperature 0.6" in md
    assert "<summary>Thought for 34 s · 2,345 tokens</summary>" in md
    # our <details> blocks stay balanced whatever the model wrote (tags inside fences are code)
    assert md.count("\n<details>\n") == md.count("\n</details>\n") == 2
    # the reasoning sits in a fence longer than any backtick run inside it
    assert "`````text\n" + NASTY_REASONING + "\n`````" in md
    # the answer's open code fence is closed before the next turn: a Markdown parser sees every heading
    tokens = MarkdownIt("commonmark").parse(md)
    headings = [tokens[i + 1].content for i, tok in enumerate(tokens) if tok.type == "heading_open"]
    assert headings.count("You") == 2 and "Second question" in [tok.content for tok in tokens if tok.type == "inline"]
    code = [tok.content for tok in tokens if tok.type == "fence" and tok.info == "python"]
    assert [c.strip() for c in code] == ["open_fence_never_closed()"]
    assert "Stopped while thinking — no answer" in md


def test_a_title_is_exported_as_its_words_not_as_markdown():
    store = Store()
    cid = store.create_conversation("__init__ and *args [bold]x[/] `y`")
    md = export.to_markdown(store.get(cid))
    tokens = MarkdownIt("commonmark").parse(md)
    heading = tokens[1]  # heading_open, then its inline content
    assert [c.type for c in heading.children] == ["text"]  # no emphasis, link or code span
    assert heading.children[0].content == "__init__ and *args [bold]x[/] `y`"


def test_markdown_without_reasoning():
    store = Store()
    md = export.to_markdown(store.get(make(store)), reasoning=False)
    assert "<details>" not in md and "only thinking" not in md and "open_fence_never_closed" in md


def test_json_round_trip_is_lossless():
    store = Store()
    conv = store.get(make(store))
    data = json.loads(export.dumps(conv))
    new_id = export.import_json(store, data)
    again = store.get(new_id)
    a, b = export.to_json(conv)["conversation"], export.to_json(again)["conversation"]
    a.pop("id"), b.pop("id")
    assert a == b


def test_import_rejects_foreign_json():
    import pytest

    from qwqchat.errors import BadInput

    with pytest.raises(BadInput):
        export.import_json(Store(), {"hello": 1})
    with pytest.raises(BadInput):
        export.import_json(Store(), {"format": export.JSON_FORMAT, "conversation": {"title": "x"}})


def test_replies_are_headed_by_the_model_that_wrote_them():
    store = Store()
    md = export.to_markdown(store.get(make(store)))
    assert md.count("\n## qwq-32b-q4_k_m\n") == 2 and "## QwQ" not in md
    cid = store.create_conversation(model="Qwen3 8B Q4_K_M\n## injected</details>")
    store.add_user_message(cid, "hi")
    store.finish_reply(store.start_reply(cid), "", "hello", "stop")
    md = export.to_markdown(store.get(cid))
    assert "\n## Qwen3 8B Q4_K_M ## injected&lt;/details>\n" in md and "\n## injected" not in md
    cid = store.create_conversation(model=None)
    store.add_user_message(cid, "hi")
    store.finish_reply(store.start_reply(cid), "", "hello", "stop")
    assert "\n## Assistant\n" in export.to_markdown(store.get(cid))


def test_each_reply_is_headed_by_the_model_that_answered_it(qwq_home):
    """The model is recorded per reply by run_turn: a chat continued with another model names both."""
    from qwqchat.chat import run_turn
    from qwqchat.engines.replay import ReplayEngine, tokens_of
    from qwqchat.types import Sampling

    store = Store()
    cid = store.create_conversation(model="QwQ-32B Q4_K_M")
    for name in ("QwQ-32B Q4_K_M", "Qwen3 8B Q8_0"):
        store.add_user_message(cid, "hi")
        list(run_turn(ReplayEngine(tokens_of("ok</think>hello"), name=name), store, cid, Sampling()))
    assert [m.stats.model for m in store.get(cid).messages if m.stats] == ["QwQ-32B Q4_K_M", "Qwen3 8B Q8_0"]
    md = export.to_markdown(store.get(cid))
    assert md.index("\n## QwQ-32B Q4_K_M\n") < md.index("\n## Qwen3 8B Q8_0\n") and "## Assistant" not in md
    # a reply saved before replies named their model: the chat's model, else "Assistant"
    store.finish_reply(store.start_reply(cid), "", "old", "stop", Stats(answer_tokens=1))
    assert export.to_markdown(store.get(cid)).endswith("## QwQ-32B Q4_K_M\n\nold\n\n<sub>answer 1 tok</sub>\n")


def test_markdown_export_shows_control_characters_as_symbols():
    """`cat` on an export must not hand a server's escape sequences to the terminal (OSC 52 writes the clipboard)."""
    store = Store()
    cid = store.create_conversation(model="m")
    store.add_user_message(cid, "hi \x1b[31mred")
    mid = store.start_reply(cid)
    store.finish_reply(mid, "think \x1b]52;c;aGk=\x07", "answer \x1b[2J\x9b done", "stop")
    md = export.to_markdown(store.get(cid))
    assert not any(c in md for c in "\x1b\x07\x9b")
    assert "␛]52;c;aGk=␇" in md and "answer ␛[2J" in md and "hi ␛[31mred" in md
