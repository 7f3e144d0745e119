"""Readable math over typical QwQ answers; stored text is never changed."""

import pytest

from qwqchat.mathtext import render_math

CORPUS = [
    # (what QwQ writes, what the screen shows)
    (r"The roots are $x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}$.", "The roots are x = (-b ± √(b²-4ac))/2a."),
    (r"**Final Answer**" "\n\n" r"\[ \boxed{42} \]", "**Final Answer**\n\n**【 42 】**"),
    (r"So the answer is \boxed{\dfrac{3}{4}}.", "So the answer is **【 3/4 】**."),
    (r"\[ \sum_{i=1}^{n} i = \frac{n(n+1)}{2} \]", "∑ᵢ₌₁ⁿ i = (n(n+1))/2"),
    (r"Let \(\alpha + \beta = \pi\).", "Let α + β = π."),
    (r"$x^{2} + y^2 = r^2$", "x² + y² = r²"),
    (r"$a_{n+1} = 2a_n$", "aₙ₊₁ = 2aₙ"),
    (r"$\binom{5}{2} = 10$ ways", "C(5, 2) = 10 ways"),
    (r"$\sqrt{2} \approx 1.414$", "√(2) ≈ 1.414"),
    (r"$x \times y \leq \infty$", "x × y ≤ ∞"),
    (r"$2^{10} = 1024$", "2¹⁰ = 1024"),
    (r"$e^{i\pi} + 1 = 0$", "e^(iπ) + 1 = 0"),
    (r"$\text{Area} = \pi r^2$", "Area = π r²"),
]

UNTOUCHED = [
    "It costs $5 and $10 today.",
    "Between $3 and $4.50, pick one.",
    "```python\nprice = \"$x$\"\nprint(r'\\frac{1}{2}')\n```",
    "Use `$HOME` and `\\n` in the shell.",
    "Plain text with no math at all.",
]


@pytest.mark.parametrize("latex,shown", CORPUS)
def test_typical_qwq_math_becomes_readable(latex, shown):
    assert render_math(latex) == shown


@pytest.mark.parametrize("text", UNTOUCHED)
def test_code_and_dollar_amounts_are_never_mangled(text):
    assert render_math(text) == text


def test_code_inside_an_answer_with_math_is_left_alone():
    text = "Compute $x^2$:\n\n```python\nx = 3  # $x^2$ here stays\nprint(x ** 2)\n```\nso $x^2 = 9$."
    out = render_math(text)
    assert "```python\nx = 3  # $x^2$ here stays\nprint(x ** 2)\n```" in out
    assert out.startswith("Compute x²:") and out.endswith("so x² = 9.")


def test_plain_text_mode_has_no_markdown():
    assert render_math(r"\boxed{7}", markdown=False) == "【 7 】"


def test_broken_latex_never_breaks_the_display():
    assert render_math(r"$\frac{1}{$ and \boxed{unclosed") is not None


def test_export_keeps_the_original_latex(qwq_home):
    from qwqchat import export
    from qwqchat.store import Store

    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "q")
    mid = store.start_reply(cid)
    store.finish_reply(mid, r"think $x^2$", r"Answer: \boxed{42}", "stop")
    md = export.to_markdown(store.get(cid))
    assert r"\boxed{42}" in md and r"$x^2$" in md
