"""The thinking's blocks: cut where a line ends, so that the pane shows the text as one piece would."""

from textual.content import Content

from qwqchat.ui.widgets.reasoning_pane import BLOCK_CHARS, SLACK, ReasoningPane, _extend, _split

PARAGRAPHS = "\n\n".join(
    f"Paragraph {i}: let me check the sum of the first {i} odd numbers again, " + "carefully and slowly " * (5 + i % 11)
    for i in range(60)
)  # ~17,000 characters in paragraphs of 150-380
UNBROKEN = " ".join(f"word{i}" for i in range(2500))  # ~17,000 characters, no line end at all


def lines(contents, width: int) -> list:
    return [line.plain for content in contents for line in content.wrap(width)]


def test_a_block_ends_where_a_line_does_when_one_comes_within_the_slack():
    blocks = _split(PARAGRAPHS)
    assert "".join(blocks) == PARAGRAPHS and len(blocks) > 5
    assert all(b.endswith("\n") and BLOCK_CHARS <= len(b) <= BLOCK_CHARS + SLACK for b in blocks[:-1])


def test_a_line_longer_than_the_slack_is_cut_after_a_word():
    blocks = _split(UNBROKEN)
    assert "".join(blocks) == UNBROKEN and len(blocks) > 3
    assert all(b.endswith(" ") and len(b) <= BLOCK_CHARS + SLACK + 20 for b in blocks[:-1])


def test_streamed_token_by_token_the_blocks_are_those_of_the_whole_text():
    for text in (PARAGRAPHS, UNBROKEN):
        blocks: list = []
        for at in range(0, len(text), 4):
            _extend(blocks, text[at : at + 4])
        assert blocks == _split(text)


def test_the_pane_draws_paragraphs_as_one_piece_of_text_would():
    """Each block is a widget of its own and starts a new line: a block cut inside a paragraph drew a line
    break there, and one cut after a line's end drew a blank line (now left out of the drawing)."""
    for text in (PARAGRAPHS[:12000], PARAGRAPHS):  # six blocks; then a chapter and a block (over 8 blocks' worth)
        for width in (60, 97):
            pane = ReasoningPane(text, final=True)
            blocks = list(pane.compose())
            assert len(blocks) >= 2
            drawn = lines([pane._content(i) for i in range(len(blocks))], width)
            assert drawn == lines([Content(text)], width)
