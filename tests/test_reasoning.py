from hypothesis import given, settings
from hypothesis import strategies as st

from qwqchat.reasoning import ANSWER, REASONING, ReasoningSplitter, merge, split_text


def run(chunks, starts_in_reasoning=True):
    s = ReasoningSplitter(starts_in_reasoning)
    out = []
    for c in chunks:
        out += s.feed(c)
    out += s.flush()
    return merge(out), s


def test_qwq_output_starts_inside_thinking():
    pieces, s = run(["Let me think", " about it.\n", "</think>", "\n\nThe answer is **4**."])
    assert pieces == [(REASONING, "Let me think about it."), (ANSWER, "The answer is **4**.")]
    assert s.saw_close and not s.unclosed


def test_tags_split_across_every_boundary():
    text = "hmm</think>\n\nok"
    for cut in range(1, len(text)):
        pieces, _ = run([text[:cut], text[cut:]])
        assert pieces == [(REASONING, "hmm"), (ANSWER, "ok")], cut
    pieces, _ = run(list(text))
    assert pieces == [(REASONING, "hmm"), (ANSWER, "ok")]


def test_explicit_opening_tag_is_accepted_and_never_shown():
    assert run(["<th", "ink>\nplan", "</thi", "nk>done"], False)[0] == [(REASONING, "plan"), (ANSWER, "done")]
    assert run(["<think>plan</think>done"], True)[0] == [(REASONING, "plan"), (ANSWER, "done")]


def test_no_thinking_when_prompt_does_not_open_it():
    assert run(["Hello ", "there"], False)[0] == [(ANSWER, "Hello there")]
    # a "<" that turns out not to be a tag is released
    assert run(["<", "b>bold"], False)[0] == [(ANSWER, "<b>bold")]


def test_never_closed_thinking_stays_reasoning():
    pieces, s = run(["thinking forever </thi"])
    assert pieces == [(REASONING, "thinking forever </thi")]
    assert s.unclosed


def test_reasoning_field_from_a_server():
    s = ReasoningSplitter(starts_in_reasoning=False)
    out = s.feed_reasoning("weighing options") + s.feed("\n\nFinal.")
    assert merge(out) == [(REASONING, "weighing options"), (ANSWER, "Final.")]
    assert not s.unclosed


def test_later_tags_in_the_answer_are_text():
    assert split_text("a</think>use <think> and </think> tags") == ("a", "use <think> and </think> tags")


TEXT = st.text(alphabet=st.sampled_from(list("ab \n\t<>/thinkTHINK")), max_size=60) | st.text(max_size=8)
SNIPPET = st.sampled_from(["<think>", "</think>", "\n", " ", "x", "</", "<think", "think>"])


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(st.one_of(TEXT, SNIPPET), max_size=12),
    cuts=st.lists(st.integers(0, 400), max_size=20),
    starts=st.booleans(),
)
def test_any_chunking_gives_the_same_output(parts, cuts, starts):
    text = "".join(parts)
    points = sorted({c % (len(text) + 1) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0] + points, points + [len(text)], strict=True)]
    whole, s1 = run([text], starts)
    cut, s2 = run(chunks, starts)
    assert cut == whole
    assert s1.unclosed == s2.unclosed
    if not s1.saw_close:  # before any closing tag, no tag text is ever emitted as reasoning
        assert all("</think>" not in t for k, t in whole if k == REASONING)
