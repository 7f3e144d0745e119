"""LaTeX math in model text shown as readable Unicode (display only).

QwQ writes math in LaTeX (``$\\frac{a}{b}$``, ``\\[ x^2 \\]``, ``\\boxed{42}``).
pylatexenc does the conversion (Greek, operators, ``\\sqrt``, ``\\mathbb``…);
this module finds the math, leaves code and dollar amounts alone, writes
fractions unambiguously, turns simple super/subscripts into Unicode and shows
``\\boxed{…}`` as a highlighted final answer.  Stored text and exports keep
the original LaTeX.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List

BOX_OPEN, BOX_CLOSE = "【", "】"

_SUP = dict(zip("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", strict=True))
_SUB = dict(zip("0123456789+-=()aeijknmoprstx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₙₘₒₚᵣₛₜₓ", strict=True))

# Code (fenced blocks, inline spans) is never touched.
_CODE = re.compile(
    r"^ {0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^ {0,3}(?P=fence)[ \t]*$|\Z)"
    r"|(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`)",
    re.M | re.S,
)
# Math: $$…$$, \[…\], \(…\), and $…$ by pandoc's rule (no space inside the dollars,
# no digit right after the closing one), so "$5 and $10" stays money.
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$\w])\$(?=\S)([^$\n]*?\S)\$(?![\d$])", re.S)
_BOXED = re.compile(r"\\boxed\s*\{")
_LATEXISH = re.compile(r"\\[a-zA-Z]+|[\^_{}=<>+\-*/]|^[A-Za-z]$|^\d+$")


def _balanced(text: str, start: int) -> int:
    """Index just past the brace group opening at ``start - 1``, or -1."""
    depth = 1
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


@lru_cache(maxsize=1)
def _converter():
    from pylatexenc import latexwalker, macrospec
    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    def frac(n, l2tobj):
        num, den = (l2tobj.nodelist_to_text([a]).strip() for a in n.nodeargd.argnlist[-2:])

        def wrap(s: str) -> str:
            return s if re.fullmatch(r"[\w.′^⁰¹²³⁴⁵⁶⁷⁸⁹√πα-ω]+|\(.*\)", s) else f"({s})"

        return f"{wrap(num)}/{wrap(den)}"

    def binom(n, l2tobj):
        a, b = (l2tobj.nodelist_to_text([x]).strip() for x in n.nodeargd.argnlist[-2:])
        return f"C({a}, {b})"

    def boxed(n, l2tobj):
        return f"{BOX_OPEN} {l2tobj.nodelist_to_text([n.nodeargd.argnlist[-1]]).strip()} {BOX_CLOSE}"

    two = ("frac", "dfrac", "tfrac", "cfrac", "binom", "dbinom", "tbinom")
    walker_db = latexwalker.get_default_latex_context_db()
    walker_db.add_context_category(
        "qwqchat",
        prepend=True,
        macros=[macrospec.MacroSpec(m, "{{") for m in two] + [macrospec.MacroSpec("boxed", "{")],
    )
    text_db = get_default_latex_context_db()
    text_db.add_context_category(
        "qwqchat",
        prepend=True,
        macros=(
            [MacroTextSpec(m, simplify_repl=frac) for m in two[:4]]
            + [MacroTextSpec(m, simplify_repl=binom) for m in two[4:]]
            + [
                MacroTextSpec("boxed", simplify_repl=boxed),
                MacroTextSpec("text", simplify_repl="%(1)s"),
                MacroTextSpec("mathrm", simplify_repl="%(1)s"),
                MacroTextSpec("operatorname", simplify_repl="%(1)s"),
            ]
        ),
    )
    to_text = LatexNodes2Text(latex_context=text_db, math_mode="text", strict_latex_spaces="macros")
    return walker_db, to_text


def _scripts(latex: str) -> str:
    """x^2 → x², a_{n} → aₙ where every character has a Unicode form; else x^(…)."""

    def repl(m: "re.Match[str]") -> str:
        table = _SUP if m.group(1) == "^" else _SUB
        body = m.group(2) if m.group(2) is not None else m.group(3)
        if body and all(c in table for c in body):
            return "{}" + "".join(table[c] for c in body)  # {} ends a macro name before it (\sum_i)
        return f"{m.group(1)}({body})" if len(body) > 1 else m.group(0)

    latex = re.sub(r"([\^_])(?:\{([^{}]*)\}|([0-9a-zA-Z]))", repl, latex)
    # LaTeX swallows the space after a macro ("\approx 1" -> "≈1"); keep it for reading
    return re.sub(r"(\\[a-zA-Z]+)(\s+)(?=[^\s{])", r"\1{}\2", latex)


def latex_to_unicode(latex: str) -> str:
    from pylatexenc import latexwalker

    walker_db, to_text = _converter()
    try:
        nodes, _, _ = latexwalker.LatexWalker(
            _scripts(latex), latex_context=walker_db, tolerant_parsing=True
        ).get_latex_nodes()
        text = to_text.nodelist_to_text(nodes)
    except Exception:  # never let odd LaTeX break the display
        return latex
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _prose(text: str, markdown: bool) -> str:
    highlight = _highlight if markdown else (lambda t: t)

    def math(m: "re.Match[str]") -> str:
        display = m.group(1) or m.group(2)
        body = display or m.group(3) or m.group(4)
        if m.group(4) is not None and not _LATEXISH.search(body.strip()):
            return m.group(0)  # "$ x $"-like text that is not math
        out = highlight(latex_to_unicode(body))
        return f"\n\n{out}\n\n" if display and "\n" in m.group(0) else out

    text = _MATH.sub(math, text)
    # \boxed{…} outside math delimiters
    parts: List[str] = []
    pos = 0
    for m in _BOXED.finditer(text):
        if m.start() < pos:
            continue
        end = _balanced(text, m.end())
        if end < 0:
            continue
        parts.append(text[pos : m.start()])
        parts.append(highlight(f"{BOX_OPEN} {latex_to_unicode(text[m.end() : end - 1])} {BOX_CLOSE}"))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _highlight(text: str) -> str:
    """The boxed final answer stands out (bold) in Markdown."""
    return re.sub(f"({BOX_OPEN}.*?{BOX_CLOSE})", r"**\1**", text)


def render_math(text: str, markdown: bool = True) -> str:
    """Text with its LaTeX math made readable; code blocks and spans are left exactly as they are.

    ``markdown`` marks a boxed answer bold; plain text (the reasoning pane) keeps only the brackets.
    """
    if "\\" not in text and "$" not in text:
        return text
    out: List[str] = []
    pos = 0
    for m in _CODE.finditer(text):
        out.append(_prose(text[pos : m.start()], markdown))
        out.append(m.group(0))
        pos = m.end()
    out.append(_prose(text[pos:], markdown))
    return "".join(out)


_SPECIAL = re.compile(r"[$\\`~]")  # what may start math, code or a fence: text before it can be shown at once
_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})")


class MathStream:
    """Answer text as it streams, its math converted as soon as the lines that hold it are complete.

    ``feed`` returns what may be shown now: plain prose at once, a line with math
    (or code spans) once it is whole and every expression in it is closed (a
    ``$$``/``\\[`` block may span lines; a blank line ends any wait), lines of a
    code fence as they are.  Never half an expression; the answer is rendered
    whole again when it ends.
    """

    def __init__(self) -> None:
        self._held = ""  # text not shown yet (from a special character of the line on)
        self._fence = ""  # the open code fence's marker, "" outside code
        self._prev = ""  # the last character shown: the math pattern looks behind at it
        self._line_start = True  # ``_held`` starts at the beginning of a line

    def feed(self, text: str) -> str:
        held = self._held + text
        if not self._fence and not _SPECIAL.search(held):  # plain prose: the common case, cheap
            self._held = ""
            return self._shown(held)
        out: List[str] = []
        done = held.rfind("\n") + 1  # complete lines end here
        prose = 0  # start of the complete prose lines not shown yet
        pos = 0
        for line in held[:done].splitlines(keepends=True):
            at_start = pos > 0 or self._line_start
            if self._fence:
                if at_start and _closes(line, self._fence):
                    self._fence = ""
                out.append(self._shown(line))
                prose = pos + len(line)
            elif at_start and (m := _FENCE_LINE.match(line)):
                out.append(self._convert(held[prose:pos]))
                self._fence = m.group(1)
                out.append(self._shown(line))
                prose = pos + len(line)
            pos += len(line)
        lines = held[prose:done]
        if lines and (_closed(lines) or not lines.splitlines()[-1].strip()):
            out.append(self._convert(lines))
            prose = done
        if prose:
            self._line_start = True
        held = held[prose:]
        if prose == done and "\n" not in held:  # only the line being written is left: show it up to its first special
            cut = 0 if self._fence and self._line_start and held.lstrip(" ")[:1] in ("`", "~") else len(held)
            if not self._fence:
                m = _SPECIAL.search(held)
                cut = m.start() if m else len(held)
            out.append(self._shown(held[:cut]))
            held = held[cut:]
            self._line_start = self._line_start and not cut
        self._held = held
        return "".join(out)

    def _shown(self, text: str) -> str:
        if text:
            self._prev = text[-1]
            self._line_start = text.endswith("\n")
        return text

    def _convert(self, text: str) -> str:
        """``text`` with its math made readable, seen after the last character shown (``a$b$`` is not math)."""
        if not text:
            return ""
        out = render_math(self._prev + text)
        out = out[len(self._prev) :] if out.startswith(self._prev) else render_math(text)
        return self._shown(out)


def _closes(line: str, fence: str) -> bool:
    m = _FENCE_LINE.match(line)
    return bool(m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line[m.end() :].strip())


def _closed(text: str) -> bool:
    """No math, code span or boxed answer in ``text`` is still open."""
    if text.count("$$") % 2 or text.count("`") % 2:
        return False
    if text.count("\\[") > text.count("\\]") or text.count("\\(") > text.count("\\)"):
        return False
    return all(_balanced(text, m.end()) >= 0 for m in _BOXED.finditer(text))
