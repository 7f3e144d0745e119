"""Hostile hub: what a broken or malicious HF_ENDPOINT sends must never write outside the cache
nor pass unverified bytes as a model."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_process
from fake_hub import COMMIT, FakeHub

from qwqchat.errors import QwqError
from qwqchat.models import catalog, hub

REPO = "Qwen/QwQ-32B-GGUF"
FILE = "qwq-32b-q4_k_m.gguf"
PAYLOAD = b"GGUF" + b"\0" * 2000

COMMITS = [
    "../../../../outside",
    "ABSOLUTE",
    "..",
    COMMIT[:-2] + "/x",
    "Z" * 40,
    COMMIT + "/../../..",
    "c0ffee\n" + "0" * 33,
]
ETAGS = ['"not-a-sha"', '"../../../../outside"', '"' + "A" * 64 + '"', 'W/"abc"', '"' + "0" * 63 + '/"', '""']
LISTED = [
    "../../outside.gguf",
    "/abs/outside.gguf",
    "a/../../outside.gguf",
    "a\\..\\outside.gguf",
    "./x.gguf",
    "a//b.gguf",
    "x\x1b]52;c;AAAA\x07.gguf",
]
SPECS = ["../x/y.gguf", "a/b/../../../outside.gguf", "a/../b.gguf", "Qwen/../../x", "a/b//../c.gguf"]


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return cache


@pytest.fixture
def hostile():
    with FakeHub() as h:
        h.add(REPO, FILE, PAYLOAD)
        yield h


def outside(tmp_path: Path, cache: Path):
    """Everything under tmp_path that is neither in the cache nor in QWQCHAT_HOME."""
    return sorted(
        str(p)
        for p in tmp_path.rglob("*")
        if cache not in p.parents
        and p != cache
        and "home" not in p.relative_to(tmp_path).parts[:1]
        and p not in (cache.parent,)
    )


def one_line(exc: BaseException) -> None:
    assert str(exc) and "\n" not in str(exc) and "Traceback" not in str(exc)


@pytest.mark.parametrize("commit", COMMITS)
def test_commit_hash_cannot_move_the_snapshot(hostile, hf_cache, tmp_path, commit):
    hostile.commit = commit
    with pytest.raises(QwqError) as err:
        hub.pull(hub.Target(REPO, [FILE]), endpoint=hostile.url)
    one_line(err.value)
    assert outside(tmp_path, hf_cache) == []
    assert not Path("ABSOLUTE").exists()


@pytest.mark.parametrize("etag", ETAGS)
def test_an_etag_that_is_not_a_sha256_is_refused(hostile, hf_cache, tmp_path, etag):
    hostile.etags[(REPO, FILE)] = etag
    with pytest.raises(QwqError) as err:
        hub.pull(hub.Target(REPO, [FILE]), endpoint=hostile.url)
    one_line(err.value)
    assert outside(tmp_path, hf_cache) == []
    assert not [p for p in hf_cache.rglob("*.gguf")]  # nothing unverified passes as a model


@pytest.mark.parametrize("name", LISTED)
def test_listed_names_outside_the_repo_are_ignored(hostile, hf_cache, tmp_path, name):
    hostile.files["evil/repo"] = {}
    hostile.listed["evil/repo"] = [name]
    with pytest.raises(QwqError) as err:
        hub.resolve("evil/repo", available=80 * 1024**3, endpoint=hostile.url)
    one_line(err.value)
    hostile.add("evil/repo", "good-Q4_K_M.gguf", PAYLOAD)
    assert hub.resolve("evil/repo", available=80 * 1024**3, endpoint=hostile.url).files == ["good-Q4_K_M.gguf"]


@pytest.mark.parametrize("spec", SPECS)
def test_user_specs_that_climb_out_are_refused(hostile, hf_cache, tmp_path, spec):
    with pytest.raises(QwqError) as err:
        hub.pull(hub.resolve(spec, endpoint=hostile.url), endpoint=hostile.url)
    one_line(err.value)
    assert outside(tmp_path, hf_cache) == []


def test_pull_with_no_argument_from_a_hostile_hub_writes_nothing_outside(hostile, tmp_path, qwq_home):
    hostile.commit = "../../../../outside"
    for m in catalog.MODELS:  # whatever this machine is recommended, the hub has it
        for q in m.quants:
            hostile.add(m.repo, q.filename, PAYLOAD)
    env = {"HF_ENDPOINT": hostile.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_XET": "1"}
    proc = run_process("pull", env_extra=env)  # huggingface-hub reads HF_HOME once, at import
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert outside(tmp_path, tmp_path / "hf" / "hub") == []
    cfg = qwq_home / "config.toml"
    assert not cfg.exists() or "model" not in cfg.read_text()
