"""The ``qwqchat`` command: the TUI with no subcommand, headless subcommands otherwise.

Every error a user can cause ends here as one line on stderr and an exit code
(0 ok, 1 runtime failure, 2 bad usage or bad input, 3 no answer, 130 stopped by Ctrl+C).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from typing import List, Optional

from . import config as config_mod
from . import paths
from .errors import QwqError
from .text import redact, shown

PROG = "qwqchat"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(text: str) -> float:
    """A float flag: NaN and infinities are not numbers anyone means."""
    import math

    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


_number.__name__ = "float"  # argparse says "invalid float value: 'warm'"


def _whole(low: int, high: int):
    """A whole-number flag within what the code below can hold (SQLite, llama.cpp's C ints)."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range ({low} to {high:,})")
        return value

    parse.__name__ = "whole number"  # argparse names the type in "invalid whole number value"
    return parse


_id = _whole(1, 2**63 - 1)
_int = _whole(-(2**31), 2**31 - 1)


def _engine_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        metavar="PATH",
        help="GGUF file (default: QWQCHAT_MODEL, then the config file); "
        "with --endpoint, the server's model name (default: the first it lists)",
    )
    g.add_argument(
        "--ctx", type=_int, metavar="N", help="context size in tokens (default 32768, capped at the model's)"
    )
    g.add_argument("--kv-cache", choices=config_mod.KV_TYPES, help="KV-cache type (q8_0 halves its memory)")
    g.add_argument("--yarn", action="store_true", default=None, help="YaRN long context (up to 4x the native context)")
    g.add_argument("--threads", type=_int, metavar="N", help="CPU threads (default: all physical cores)")
    g.add_argument(
        "--gpu-layers", type=_int, metavar="N", help="layers to offload (default: all when the build has a GPU)"
    )
    r = p.add_argument_group("remote server (OpenAI-compatible: vLLM, llama-server, Ollama, hosted)")
    r.add_argument("--endpoint", metavar="URL", help="e.g. http://gpu-box:8000/v1")
    r.add_argument(
        "--api-key",
        metavar="KEY",
        help="visible to other users in the process list: prefer "
        "QWQCHAT_API_KEY (default), OPENAI_API_KEY or a profile's api_key_env",
    )
    r.add_argument("--profile", metavar="NAME", help="a [profiles.NAME] table of the config file")
    return p


def _sampling_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("sampling (defaults: QwQ's recommended values)")
    g.add_argument("--system", metavar="TEXT", help="system prompt for a new conversation")
    g.add_argument("--max-tokens", type=_int, metavar="N")
    g.add_argument("--temperature", type=_number, metavar="F")
    g.add_argument("--top-p", type=_number, metavar="F")
    g.add_argument("--top-k", type=_int, metavar="N")
    g.add_argument("--min-p", type=_number, metavar="F")
    g.add_argument("--presence-penalty", type=_number, metavar="F", help="0-2; raise it against loops")
    g.add_argument("--seed", type=_int, metavar="N")
    g.add_argument(
        "--think-budget",
        type=_int,
        metavar="N",
        help="end the thinking after N tokens and let the model answer (local engine)",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    engine, sampling = _engine_options(), _sampling_options()
    parser = _Parser(
        prog=PROG,
        parents=[engine, sampling],
        description="Chat with a local reasoning model (QwQ-32B). With no command, opens the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    ask = sub.add_parser("ask", parents=[engine, sampling], help="ask one question, stream the answer")
    ask.add_argument("prompt", nargs="?", help="the prompt (default: read stdin)")
    ask.add_argument("--chat", type=_id, metavar="ID", help="continue conversation ID")
    ask.add_argument("--hide-reasoning", action="store_true", help="do not print the thinking")
    ask.add_argument("--no-save", action="store_true", help="do not save the exchange")
    ask.add_argument("--json", action="store_true", help="print one JSON object at the end instead of streaming")
    ask.add_argument(
        "--on-loop",
        choices=("warn", "stop", "answer"),
        default="warn",
        help="when the thinking repeats itself: warn (default), stop, or end the thinking and answer",
    )

    ans = sub.add_parser(
        "answer",
        parents=[engine, sampling],
        help="let the model answer from the thinking of a reply that stopped while thinking",
    )
    ans.add_argument("id", type=_id, help="conversation id (its last reply is continued)")
    ans.add_argument("--hide-reasoning", action="store_true", help=argparse.SUPPRESS)
    ans.add_argument("--json", action="store_true")
    ans.add_argument("--on-loop", default="warn", help=argparse.SUPPRESS)

    st = sub.add_parser("stats", help="thinking and speed statistics of one conversation or all")
    st.add_argument("id", type=_id, nargs="?")
    st.add_argument("--json", action="store_true")

    lst = sub.add_parser("list", help="list conversations, newest first")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("-n", "--limit", type=_whole(1, 2**31 - 1), metavar="N")

    show = sub.add_parser("show", help="print a conversation")
    show.add_argument("id", type=_id)
    show.add_argument("--no-reasoning", action="store_true")

    search = sub.add_parser("search", help="full-text search over titles, answers and reasoning")
    search.add_argument("query")
    search.add_argument("--json", action="store_true")

    rm = sub.add_parser("rm", help="delete a conversation")
    rm.add_argument("id", type=_id, nargs="+")

    exp = sub.add_parser("export", help="export a conversation to Markdown (or JSON)")
    exp.add_argument("id", type=_id, nargs="?")
    exp.add_argument("--all", action="store_true", help="export every conversation into -o DIR")
    exp.add_argument("-o", "--output", metavar="PATH", help="file (or folder with --all); default or - : stdout")
    exp.add_argument("--force", action="store_true", help="overwrite files that exist")
    exp.add_argument("--no-reasoning", action="store_true", help="leave the thinking out")
    exp.add_argument("--json", action="store_true", help="lossless JSON (for qwqchat import)")

    imp = sub.add_parser("import", help="import a conversation exported with --json")
    imp.add_argument("file")

    pull = sub.add_parser(
        "pull", help="download a model (default: QwQ-32B if it fits this machine, else the reasoning model that does)"
    )
    pull.add_argument(
        "spec",
        nargs="?",
        metavar="REPO[:QUANT]|REPO/FILE.gguf",
        help="e.g. Qwen/QwQ-32B-GGUF:Q5_K_M or bartowski/Qwen_QwQ-32B-GGUF",
    )
    pull.add_argument(
        "--ctx", type=_whole(256, config_mod.MAX_CTX), default=None, help="context to fit (default 32768)"
    )
    pull.add_argument("--kv-cache", choices=config_mod.KV_TYPES, default=None)
    pull.add_argument("--no-default", action="store_true", help="do not make it the default model")

    models = sub.add_parser("models", help="local GGUF models: size, quant, fit, default")
    models.add_argument("--use", metavar="ID|PATH", help="make this model the default")
    models.add_argument("--json", action="store_true")

    sub.add_parser("paths", help="print where config, data and logs live")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("qwqchat")
    except Exception:
        return "unknown"


class RedactingFormatter(logging.Formatter):
    """Log lines never carry a credential from a URL or an auth header."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _setup_logging() -> None:
    try:
        handler = logging.StreamHandler(paths.open_log(paths.log_dir() / "qwqchat.log"))
    except OSError:
        return
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("qwqchat")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_logging()
        return _dispatch(args)
    except QwqError as exc:
        print(f"{PROG}: error: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: {shown(str(exc.strerror or exc) + where)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback to the log
        logging.getLogger("qwqchat").error("unexpected error\n%s", traceback.format_exc())
        print(
            f"{PROG}: internal error: {exc.__class__.__name__}: {shown(str(exc).splitlines()[0] if str(exc) else '')}"
            f" (details in {paths.log_dir()})",
            file=sys.stderr,
        )
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    from . import commands

    handler = {
        None: commands.tui,
        "ask": commands.ask,
        "answer": commands.answer,
        "stats": commands.stats,
        "list": commands.list_,
        "show": commands.show,
        "search": commands.search,
        "rm": commands.rm,
        "export": commands.export,
        "import": commands.import_,
        "paths": commands.show_paths,
        "pull": commands.pull,
        "models": commands.models,
    }[args.command]
    return handler(args)
