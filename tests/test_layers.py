"""The import graph's arrows point down: the core never imports the UI or Textual, and the engines never
import the config, the downloads or the shims that lead to them (issue 11)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

ROOT = Path(__file__).resolve().parent.parent / "qwqchat"
TOP = ("qwqchat/ui/", "qwqchat/cli/", "qwqchat/__main__.py")
ENGINES_MAY_NOT = ("qwqchat.config", "qwqchat.hub", "qwqchat.models.hub", "qwqchat.models.local", "qwqchat.fit")


def imports(path: Path, root: Path) -> Iterator[Tuple[int, str]]:
    """Every module a file imports (relative imports made absolute), lazy ones inside functions too."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def violations(root: Path = ROOT) -> List[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        if rel.startswith(TOP):
            continue
        for line, name in imports(path, root):
            where = f"{rel}:{line} imports {name}"
            if name.split(".")[0] == "textual" or name.startswith("qwqchat.ui"):
                found.append(f"{where} (core -> UI)")
            elif rel.startswith("qwqchat/engines/") and name.startswith(ENGINES_MAY_NOT):
                found.append(f"{where} (engine -> config/downloads)")
    return found


def test_no_upward_imports():
    assert violations() == []


def test_the_check_sees_upward_imports(tmp_path):
    pkg = tmp_path / "qwqchat"
    (pkg / "engines").mkdir(parents=True)
    (pkg / "store.py").write_text("def f():\n    from textual.app import App\n")
    (pkg / "export.py").write_text("from .ui.widgets import turn\n")
    (pkg / "engines" / "factory.py").write_text("from ..config import Config\nfrom .. import hub\n")
    (pkg / "engines" / "llama.py").write_text("from ..models.hub import pull\nfrom ..models import fit\n")
    assert [v.split(" (")[0] for v in violations(pkg)] == [
        "qwqchat/engines/factory.py:1 imports qwqchat.config",
        "qwqchat/engines/factory.py:1 imports qwqchat.config.Config",
        "qwqchat/engines/factory.py:2 imports qwqchat.hub",
        "qwqchat/engines/llama.py:1 imports qwqchat.models.hub",
        "qwqchat/engines/llama.py:1 imports qwqchat.models.hub.pull",
        "qwqchat/export.py:1 imports qwqchat.ui.widgets",
        "qwqchat/export.py:1 imports qwqchat.ui.widgets.turn",
        "qwqchat/store.py:2 imports textual.app",
        "qwqchat/store.py:2 imports textual.app.App",
    ]
