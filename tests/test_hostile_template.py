"""Hostile chat templates in a GGUF: loops, huge strings, errors and escapes end as one line, fast,
and stay cancellable."""

from __future__ import annotations

import threading
import time

import pytest

from qwqchat.engines.template import ChatTemplate, TemplateCancelled, TemplateError
from qwqchat.types import Message, Sampling, TurnDone

MSGS = [{"role": "user", "content": "hi"}]
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HOSTILE = [
    LOOP,
    "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",  # 10 GB if nothing stops it
    "{{ 'x' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 10 ** 10 ** 10 }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",  # unbounded recursion
    "{{ raise_exception('no system prompt allowed') }}",
    "{{ messages[5].content }}",
    "{{ messages.__class__.__mro__[1].__subclasses__() }}",  # sandbox escape attempt
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for m in messages %}{{ m.content|int / 0 }}{% endfor %}",
    "{{ undefined_thing.attr }}",
    "{{ lipsum(100000, html=False, min=1000, max=1000) }}",
    "{% set x = namespace(s='x') %}{% for i in range(100000) %}{% set x.s = x.s ~ x.s %}{% endfor %}{{ x.s }}",
]
BROKEN = ["{% for %}", "{{ 'unclosed", "{% if x %}", "{% endfor %}", "{{ x | nonexistent_filter }}"]


@pytest.mark.parametrize("template", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_template_ends_as_one_line_naming_the_file(template):
    t = ChatTemplate(template, "</s>", "<s>", "evil.gguf", time_limit=2.0)
    started = time.monotonic()
    try:
        out = t.render(MSGS)
    except TemplateError as exc:
        assert "evil.gguf" in str(exc) and "\n" not in str(exc)
    else:
        assert len(out) <= 8 * 1024 * 1024 and "uid=" not in out
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("template", BROKEN)
def test_a_broken_template_is_one_line_at_load_or_render(template):
    with pytest.raises(TemplateError, match="evil.gguf") as err:
        ChatTemplate(template, "</s>", "<s>", "evil.gguf").render(MSGS)
    assert "\n" not in str(err.value)


def test_a_looping_template_is_cancelled_at_once():
    t = ChatTemplate(LOOP, "</s>", "<s>", "evil.gguf", time_limit=60)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(TemplateCancelled):
        t.render(MSGS, cancel)
    assert time.monotonic() - started < 5


def test_the_real_engine_turns_a_template_failure_into_an_error_reply(qwq):
    qwq._formatter = ChatTemplate(LOOP, "</s>", "<s>", "evil.gguf", time_limit=1.0)
    events = list(qwq.stream([Message("user", "hi")], Sampling(max_tokens=5)))
    result = events[-1].result
    assert isinstance(events[-1], TurnDone) and result.finish_reason == "error"
    assert "evil.gguf" in result.error and "\n" not in result.error


def test_the_real_engine_stops_a_looping_template_on_cancel(qwq):
    qwq._formatter = ChatTemplate(LOOP, "</s>", "<s>", "evil.gguf", time_limit=60)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    events = list(qwq.stream([Message("user", "hi")], Sampling(max_tokens=5), cancel))
    assert events[-1].result.finish_reason == "cancelled" and time.monotonic() - started < 5


def test_the_qwq_template_still_renders_as_before(qwq):
    prompt, tokens = qwq.render([Message("system", "S"), Message("user", "Q")])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n") and "<|im_start|>system\nS<|im_end|>" in prompt
