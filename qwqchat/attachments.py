"""Files in a prompt: read once, checked, and written into the user message in a form read back here.

The CLI (``ask -f``) and the UI's attach dialog both go through ``read_file`` and ``with_files``, so a
file is refused for the same reasons everywhere (binary, a directory, unreadable, too large) with one
line each.  A file goes into the message after the prompt as

    📎 main.py · 120 lines
    ````python
    …the file…
    ````

The fence is longer than any run of backticks in the file, so the file cannot close it early.  The
model reads this text as it is; ``split`` finds the blocks again for the folded display and the export:
a block counts only if its header's line count matches its body and every block after it is one too,
running to the end of the message, so a prompt that merely quotes such a header is left alone.
"""

from __future__ import annotations

import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple

from .errors import BadInput
from .text import printable

MARK = "📎"
STDIN = "-"
CHARS_PER_TOKEN = 4  # the estimate when no tokenizer is loaded (BPE tokens average about 4 characters)

# extension (or whole file name) -> the fence's language
LANGUAGES = {
    ".py": "python", ".pyi": "python", ".rs": "rust", ".md": "markdown", ".js": "javascript", ".mjs": "javascript",
    ".ts": "typescript", ".tsx": "tsx", ".jsx": "jsx", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
    ".hpp": "cpp", ".cs": "csharp", ".go": "go", ".java": "java", ".kt": "kotlin", ".swift": "swift",
    ".rb": "ruby", ".php": "php", ".pl": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".hs": "haskell",
    ".ml": "ocaml", ".scala": "scala", ".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".fish": "fish",
    ".ps1": "powershell", ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss",
    ".json": "json", ".jsonl": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini",
    ".cfg": "ini", ".xml": "xml", ".csv": "csv", ".tsv": "tsv", ".tex": "latex", ".rst": "rst",
    ".txt": "text", ".diff": "diff", ".patch": "diff", ".dart": "dart", ".zig": "zig", ".nix": "nix",
    ".vue": "vue", ".svelte": "svelte", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure",
    ".f90": "fortran", ".m": "matlab", ".asm": "asm", ".s": "asm", ".cu": "cuda", ".proto": "protobuf",
    "makefile": "makefile", "dockerfile": "dockerfile", "cmakelists.txt": "cmake",
}  # fmt: skip

_BLOCK = re.compile(
    r"\n\n" + MARK + r" (?P<name>[^\n]*) · (?P<lines>\d+) lines?\n(?P<fence>`{3,})(?P<lang>[^\n`]*)\n"
    r"(?:(?P<body>.*?)\n)?(?P=fence)(?=\n\n" + MARK + r" |\Z)",
    re.S,
)


@dataclass(frozen=True)
class Attachment:
    name: str  # as given (one printable line); "stdin" for ``-``
    text: str  # the file's text, newlines as \n, without its final newline
    size: int  # bytes read

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1 if self.text else 0

    def label(self) -> str:
        """``main.py (2.1 KB)``: a chip in the prompt area."""
        return f"{self.name} ({human_size(self.size)})"


def human_size(n: int) -> str:
    """Sizes in the units of ``attach_max_kb`` (1 KB = 1024 bytes)."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def language(name: str) -> str:
    """The fence language for a file name ("" when the extension says nothing)."""
    base = Path(name).name.lower()
    return LANGUAGES.get(base) or LANGUAGES.get(Path(base).suffix, "")


def read_file(name: str, max_kb: int, stdin: Optional[BinaryIO] = None) -> Attachment:
    """Read ``name`` (``-``: ``stdin``) as UTF-8 text; a ``BadInput`` with one line if it cannot be attached."""
    shown = one_line(name)
    limit = max_kb * 1024
    if name == STDIN:
        source = stdin if stdin is not None else sys.stdin.buffer
        data = source.read(limit + 1)
        shown = "stdin"
    else:
        path = Path(name).expanduser()
        try:
            mode = path.stat().st_mode
            if stat.S_ISDIR(mode):
                raise BadInput(f"{shown} is a directory, not a file")
            size = path.stat().st_size
            if stat.S_ISREG(mode) and size > limit:
                raise BadInput(f"{shown} is {human_size(size)}; the limit is {max_kb} KB (attach_max_kb)")
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            raise BadInput(f"no such file: {shown}") from None
        except OSError as exc:
            raise BadInput(f"cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadInput(f"{shown} is over the limit of {max_kb} KB (attach_max_kb)")
    if b"\0" in data:
        raise BadInput(f"{shown} is a binary file; only text files can be attached")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{shown} is not UTF-8 text; only text files can be attached") from None
    text = text.replace("\r\n", "\n")
    return Attachment(shown, text[:-1] if text.endswith("\n") else text, len(data))


def one_line(name: str) -> str:
    """A file name as one printable line: a newline or an escape in it must not start a line or a command."""
    return printable(name).replace("\n", "\u240a").replace("\t", " ").strip() or "?"


def summary(a: Attachment) -> str:
    """``📎 main.py · 120 lines``: the block's header, and the folded line in the chat and the export."""
    return f"{MARK} {a.name} · {a.lines} line{'' if a.lines == 1 else 's'}"


def fenced(a: Attachment) -> str:
    """The file in a code fence of its language, longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", a.text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = f"{a.text}\n" if a.text else ""
    return f"{fence}{language(a.name)}\n{body}{fence}"


def block(a: Attachment) -> str:
    return f"{summary(a)}\n{fenced(a)}"


def with_files(prompt: str, files: List[Attachment]) -> str:
    """The user message: the prompt, then each file's block."""
    return "".join([prompt.rstrip("\n")] + [f"\n\n{block(a)}" for a in files])


def split(message: str) -> Tuple[str, List[Attachment]]:
    """A stored user message as its prompt and its files (none if it has no block written by ``with_files``)."""
    found: List[Attachment] = []
    end = len(message)
    starts = [m.start() for m in re.finditer(r"\n\n" + MARK + " ", message)]
    for start in reversed(starts):  # the chain of blocks that runs to the end, read from the back
        if start >= end:
            continue
        m = _BLOCK.fullmatch(message, start, end)
        if m is None:
            continue  # a header quoted inside a file's body, or in the prompt: look further back
        body = m.group("body")
        if int(m.group("lines")) != (body.count("\n") + 1 if body is not None else 0):
            continue
        found.insert(0, Attachment(m.group("name"), body or "", len((body or "").encode("utf-8"))))
        end = start
    return message[:end], found


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def count_tokens(engine: object, text: str) -> int:
    """Tokens in ``text`` by the engine's own tokenizer when it has one loaded, else the estimate."""
    counter = getattr(engine, "count_tokens", None)
    counted = counter(text) if counter is not None else None
    return counted if counted is not None else estimate_tokens(text)


def reply_room(context_size: int, max_tokens: Optional[int]) -> int:
    """Tokens the local engine keeps free for the reply (the same rule as ``LlamaEngine.fit``)."""
    from .engines.llama import DEFAULT_REPLY_ROOM

    return max_tokens or min(DEFAULT_REPLY_ROOM, context_size // 4)


def check_fits(engine: object, message: str, system_prompt: Optional[str], max_tokens: Optional[int]) -> None:
    """Refuse, before anything is sent or saved, a message that cannot fit the context with room for a reply."""
    size = getattr(engine, "context_size", 0)
    if not size:  # not known (a server that does not say): the server will tell
        return
    needed = count_tokens(engine, (system_prompt or "") + message)
    room = reply_room(size, max_tokens)
    over = needed + room - size
    if over > 0:
        what, fix = ("the prompt with its files", "attach less") if split(message)[1] else ("the prompt", "shorten it")
        raise BadInput(
            f"{what} is {needed:,} tokens: {over:,} over the {size:,}-token context "
            f"(with {room:,} kept for the reply); {fix} or raise --ctx"
        )
