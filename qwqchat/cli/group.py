"""The ``qwqchat`` group: the TUI with no command, and the one place errors become a line and an exit code.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input, 3 no answer, 130 stopped by Ctrl+C.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any, Dict, List, NoReturn, Optional

import click

from .. import logs, paths
from ..errors import QwqError
from ..text import shown
from . import ask, chats, models
from .options import flags, model_options

PROG = "qwqchat"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("qwqchat")
    except Exception:
        return "unknown"


def _error(text: str) -> None:
    print(f"{PROG}: error: {text}", file=sys.stderr)


class QwqGroup(click.Group):
    """Runs a command and turns whatever it raises into one line and an exit code (see the module docstring)."""

    def resolve_command(self, ctx: click.Context, args: List[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            names = ", ".join(sorted(self.commands))
            raise click.UsageError(f"argument COMMAND: invalid choice: {args[0]!r} (choose from {names})", ctx)
        return super().resolve_command(ctx, args)

    def main(self, args: Any = None, prog_name: Optional[str] = None, **extra: Any) -> NoReturn:  # type: ignore[override]
        sys.exit(self.run(sys.argv[1:] if args is None else list(args)))

    def run(self, argv: List[str]) -> int:
        try:
            with self.make_context(PROG, argv) as ctx:
                return self.invoke(ctx) or 0
        except click.exceptions.Exit as exc:  # --help, --version
            return exc.exit_code
        except click.ClickException as exc:  # bad usage: one line, exit 2
            _error(f"{shown(exc.format_message())} (see --help)")
            return 2
        except click.exceptions.Abort:
            print(f"{PROG}: stopped", file=sys.stderr)
            return 130
        except QwqError as exc:
            _error(shown(str(exc)))
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
            _error(shown(str(exc.strerror or exc) + where))
            return 1
        except Exception as exc:  # a bug: one line for the user, the traceback to the log
            logging.getLogger("qwqchat").error("unexpected error\n%s", traceback.format_exc())
            first = str(exc).splitlines()[0] if str(exc) else ""
            print(
                f"{PROG}: internal error: {exc.__class__.__name__}: {shown(first)} (details in {paths.log_dir()})",
                file=sys.stderr,
            )
            return 1


@click.group(cls=QwqGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name=PROG, message="%(prog)s %(version)s")
@model_options
@click.pass_context
def cli(ctx: click.Context) -> int:
    """Chat with a local reasoning model (QwQ-32B). With no command, opens the terminal UI.

    The model and sampling options mean the same before or after a command.
    """
    logs.setup()
    if ctx.invoked_subcommand is not None:
        return 0
    from ..ui.run import run_app

    return run_app(flags(ctx))


for command in (
    ask.ask,
    ask.answer,
    chats.stats,
    chats.list_,
    chats.show,
    chats.search,
    chats.rm,
    chats.export,
    chats.import_,
    models.pull,
    models.models,
    models.paths,
):
    cli.add_command(command)


def parse_flags(argv: List[str]) -> Dict[str, Any]:
    """The model and sampling flags of a command line, without running it (for starting the app in a benchmark)."""
    with cli.make_context(PROG, list(argv)) as ctx:
        return dict(flags(ctx))


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``qwqchat`` with ``argv`` (default: the command line); return the exit code."""
    assert isinstance(cli, QwqGroup)
    return cli.run(sys.argv[1:] if argv is None else list(argv))
