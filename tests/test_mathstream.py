"""Math converted while the answer streams: whole lines with closed expressions only."""

import pytest

from qwqchat.mathtext import MathStream, render_math

CASES = [
    "The area is $\\pi r^2$ here.\n\nNext $x_1$ para\n",
    'Code:\n```py\nx = "$a$ \\\\alpha"\n\n`y`\n```\nAfter $\\alpha$\n',
    "costs $5 and $10.\n",
    "a$b$ c and `$x$` code\n",
    "$$\n\\frac{1}{2}\n$$\nok\n",
    "Final: \\boxed{42}\n\n- item $a^2$\n- two $\\beta$\n",
    "| a | $\\sqrt{2}$ |\n|---|---|\n| \\(x^2\\) | y |\n",
    "~~~\n$not math$\n~~~\n\\[\n\\sum_i x_i\n\\]\n",
]


def streamed(text: str, size: int):
    math = MathStream()
    pieces = [math.feed(text[i : i + size]) for i in range(0, len(text), size)]
    return pieces, math


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_whole_lines_come_out_as_the_final_render_does(text, size):
    pieces, math = streamed(text, size)
    assert "".join(pieces) == render_math(text)
    assert math.feed("") == ""


def test_plain_prose_passes_at_once_and_math_waits_for_its_line():
    math = MathStream()
    assert math.feed("Plain words ") == "Plain words "
    assert math.feed("then $\\fra") == "then "  # never half an expression
    assert math.feed("c{1}{2}$ and") == ""
    assert math.feed(" more\nNext") == "1/2 and more\nNext"


def test_an_open_display_block_waits_until_it_closes_and_a_blank_line_ends_any_wait():
    math = MathStream()
    assert math.feed("$$\n\\alpha\n") == ""
    assert math.feed("$$\n") == "\n\nα\n\n\n"
    math = MathStream()
    assert math.feed("odd ") == "odd "
    assert math.feed("` tick\n") == ""  # a code span may close on the next line
    assert math.feed("\n") == "` tick\n\n"  # a paragraph ends: shown as it is


def test_code_fence_lines_pass_as_they_are_written():
    math = MathStream()
    assert math.feed("```\n") == "```\n"
    assert math.feed("x = $a$ \\") == "x = $a$ \\"
    assert math.feed("\n``") == "\n"  # may be the closing fence: wait for the line
    assert math.feed("`\n$x$\n") == "```\nx\n"
