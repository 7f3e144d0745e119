"""The outline of a trace: turning points found where a paragraph opens with a self-correction."""

from pathlib import Path

from qwqchat.outline import LABEL_CHARS, PHRASES, label, turning_points

TRACE = (Path(__file__).parent / "data" / "qwq_trace.txt").read_text().split("</think>")[0]


def test_the_recorded_trace_has_exactly_one_turning_point():
    points = turning_points(TRACE)
    assert len(points) == 1  # "Let me also double-check" inside a paragraph does not count
    (p,) = points
    assert TRACE[p.offset : p.end] == "Wait"
    assert TRACE[p.offset - 2 : p.offset] == "\n\n"
    assert p.label == "Wait, should I mention [bold]markup[/bold]-looking text?…"


def test_every_phrase_counts_at_the_start_of_a_paragraph_in_any_case():
    for phrase in PHRASES:
        for variant in (phrase, phrase.lower(), phrase.upper()):
            text = f"Some reasoning.\n\n{variant}, the sum is 12.\n"
            (p,) = turning_points(text)
            assert text[p.offset : p.end] == variant
            assert p.label == f"{variant}, the sum is 12."


def test_after_indentation_and_markdown_marks():
    text = "a\n  Wait, one\n> Hmm, two\n- **Actually**, three\n1. Let me  check four\n## However five\n"
    found = [text[p.offset : p.end] for p in turning_points(text)]
    assert found == ["Wait", "Hmm", "Actually", "Let me  check", "However"]


def test_phrases_inside_a_paragraph_or_word_do_not_count():
    text = (
        "So I wait, and then Wait again.\n\n"
        "Waiting for nothing.\n"
        "Hmmus is not a word.\n"
        "However-ish.\n"
        "Actually_not\n"
        "x Let me check\n"
        "Alternative: no.\n"
        "`Wait` in code\n"
    )
    assert turning_points(text) == []


def test_offsets_start_and_a_scan_from_the_middle():
    text = "Wait, a\nb\nHmm, c\nnot Hmm\nBut wait, d"
    assert [p.offset for p in turning_points(text)] == [0, 10, 25]
    assert [p.offset for p in turning_points(text, 10)] == [10, 25]
    assert [p.offset for p in turning_points(text, 11)] == [25]  # mid-line: not a paragraph start
    assert [text[p.offset : p.end] for p in turning_points(text)] == ["Wait", "Hmm", "But wait"]


def test_labels_are_one_short_printable_line():
    long = "Wait, " + "word " * 40
    (p,) = turning_points(long)
    assert len(p.label) <= LABEL_CHARS + 1 and p.label.endswith("…") and "  " not in p.label
    (p,) = turning_points("Hmm,\tx\x1b[31m red \u202e evil\n next line")
    assert "\x1b" not in p.label and "\u202e" not in p.label and "\t" not in p.label
    assert p.label.startswith("Hmm, x␛[31m red")
    assert label("Wait" + "x" * 500, 0) == "Wait" + "x" * (LABEL_CHARS - 4) + "…"  # no space: cut at the width


def test_hostile_text():
    assert turning_points("") == []
    # prefixes that a careless pattern would backtrack on, lone surrogates, control characters, no newline
    hostile = ("\n" + " " * 5000 + "> " * 3000 + "*" * 3000) * 50 + "\ud800Wait\x00" + "\n- - - Wait\n- > Wait!\ud800"
    points = turning_points(hostile)
    assert [hostile[p.offset : p.end] for p in points] == ["Wait"]
    assert "\ud800" not in points[0].label
    big = ("Wait, x. " * 10 + "\n") * 20000  # 1.8 MB: one point per line
    assert len(turning_points(big)) == 20000
