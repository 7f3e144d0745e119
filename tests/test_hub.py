"""Models: catalogue, fit estimate, pull (through a fake hub on 127.0.0.1), the local list."""

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import run_process, smol_path
from fake_hub import FakeHub

from qwqchat.errors import BadInput, QwqError
from qwqchat.models import catalog, fit, hub

GiB = 1024**3
REPO = "Qwen/QwQ-32B-GGUF"


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return cache


@pytest.fixture(scope="module")
def model_bytes():
    return smol_path().read_bytes()


@pytest.fixture
def fake_hub(model_bytes):
    with FakeHub() as h:
        h.add(REPO, "qwq-32b-q4_k_m.gguf", model_bytes)
        h.add(REPO, "qwq-32b-q8_0.gguf", model_bytes[:4096])
        yield h


def record():
    seen = []
    return seen, (lambda name, done, total: seen.append((name, done, total)))


# -- fit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kv,ctx,gib",
    [
        ("f16", 16384, 4),
        ("f16", 32768, 8),
        ("f16", 131072, 32),
        ("q8_0", 32768, 4.25),
        ("q4_0", 32768, 2.25),
        ("q8_0", 131072, 17),
    ],
)
def test_qwq_kv_cache_matches_the_reference_table(kv, ctx, gib):
    assert fit.kv_bytes(catalog.QWQ.shape, ctx, kv) == pytest.approx(gib * GiB, rel=1e-3)


def test_test_model_figures_from_its_header():
    from qwqchat import gguf_header

    shape = fit.shape_of(gguf_header.read(smol_path()))
    assert (shape.layers, shape.kv_heads, shape.head_dim, shape.context_length) == (30, 3, 64, 8192)
    # 2 x 30 layers x 3 heads x 64 x 2 bytes = 23,040 bytes per token
    assert fit.kv_bytes(shape, 8192) == 23040 * 8192


@pytest.mark.parametrize(
    "free_gib,kv,fits",
    [
        (24, "q8_0", True),  # 18.5 + 4.25 + 1 = 23.8 GiB: just fits a 24 GB card
        (24, "f16", False),  # 27.5 GiB: partial offload
        (12, "f16", False),
    ],
)
def test_qwq_q4_fit_and_partial_offload(free_gib, kv, fits):
    q4 = catalog.QWQ.quants[0]
    est = fit.estimate(q4.size, catalog.QWQ.shape, 32768, kv, free_gib * GiB)
    assert est.fits is fits
    if not fits:
        layers = est.gpu_layers()
        assert 0 < layers < 64
        per_layer = (est.weights + est.kv) / 65
        assert layers * per_layer + fit.COMPUTE_MARGIN <= free_gib * GiB


# -- resolving what the user names ------------------------------------------------


def test_resolve_forms(fake_hub, hf_cache):
    fake_hub.add("someone/QwQ-32B-GGUF", "QwQ-32B-Q5_K_M.gguf", b"x")
    fake_hub.add("someone/QwQ-32B-GGUF", "QwQ-32B-F16-00001-of-00002.gguf", b"x")
    fake_hub.add("someone/QwQ-32B-GGUF", "QwQ-32B-F16-00002-of-00002.gguf", b"x")
    e = fake_hub.url
    assert hub.resolve("Qwen/QwQ-32B-GGUF:q8_0", endpoint=e).files == ["qwq-32b-q8_0.gguf"]
    assert hub.resolve("someone/QwQ-32B-GGUF:F16", endpoint=e).files == [
        "QwQ-32B-F16-00001-of-00002.gguf",
        "QwQ-32B-F16-00002-of-00002.gguf",
    ]
    assert (
        hub.resolve("someone/QwQ-32B-GGUF/QwQ-32B-F16-00001-of-00002.gguf", endpoint=e).files[1]
        == "QwQ-32B-F16-00002-of-00002.gguf"
    )
    assert hub.resolve("Qwen/QwQ-32B-GGUF", available=80 * GiB, endpoint=e).files == ["qwq-32b-q8_0.gguf"]
    assert hub.resolve("Qwen/QwQ-32B-GGUF", available=24 * GiB, kv_type="q8_0", endpoint=e).files == [
        "qwq-32b-q4_k_m.gguf"
    ]
    with pytest.raises(BadInput, match="no Q2_K file"):
        hub.resolve("Qwen/QwQ-32B-GGUF:Q2_K", endpoint=e)
    with pytest.raises(BadInput, match="not found"):
        hub.resolve("nobody/nothing", endpoint=e)


# -- downloading ---------------------------------------------------------------------


def test_pull_downloads_into_the_hf_cache_with_progress_and_verifies(fake_hub, hf_cache, model_bytes, qwq_home):
    seen, progress = record()
    path = hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), progress, endpoint=fake_hub.url)
    assert path.read_bytes() == model_bytes and str(hf_cache) in str(path)
    downloads = [s for s in seen if s[0] == "qwq-32b-q4_k_m.gguf"]
    assert downloads[-1][1:] == (len(model_bytes), len(model_bytes)) and len(downloads) > 5
    assert any(s[0].startswith("verifying") for s in seen)
    assert (path.parent.parent.parent / "refs" / "main").read_text() == path.parent.name  # the hub's layout
    from huggingface_hub import try_to_load_from_cache

    assert Path(try_to_load_from_cache(REPO, "qwq-32b-q4_k_m.gguf")).read_bytes() == model_bytes
    # a second pull reuses the cache: no GET, no second verification
    gets = sum(r["method"] == "GET" and "resolve" in r["path"] for r in fake_hub.requests)
    seen2, progress2 = record()
    assert hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), progress2, endpoint=fake_hub.url) == path
    assert sum(r["method"] == "GET" and "resolve" in r["path"] for r in fake_hub.requests) == gets
    assert not any(s[0].startswith("verifying") for s in seen2)


def test_a_connection_that_drops_mid_file_is_resumed(fake_hub, hf_cache, model_bytes, qwq_home):
    fake_hub.die_after = len(model_bytes) // 2
    path = hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=fake_hub.url)
    assert path.read_bytes() == model_bytes
    assert any(r["range"] and int(r["range"].split("=")[1].split("-")[0]) > 0 for r in fake_hub.requests)


def test_interrupted_download_resumes_on_the_next_run(hf_cache, model_bytes, qwq_home):
    first = FakeHub().__enter__()
    first.add(REPO, "qwq-32b-q4_k_m.gguf", model_bytes)
    first.throttle = 0.01
    errors = []
    seen, progress = record()

    def run():
        try:
            hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), progress, endpoint=first.url)
        except QwqError as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.time() + 30
    while time.time() < deadline and not any(d > 5_000_000 for _, d, _ in seen):
        time.sleep(0.05)
    first.stop()  # the hub goes away mid-file
    t.join(60)
    assert errors and "\n" not in str(errors[0])
    assert list(hf_cache.rglob("*.qwqchat-partial")), "the partial download is kept for resuming"
    with FakeHub() as second:
        second.add(REPO, "qwq-32b-q4_k_m.gguf", model_bytes)
        path = hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=second.url)
        ranges = [r["range"] for r in second.requests if r["range"]]
        assert ranges and int(ranges[0].split("=")[1].split("-")[0]) >= 5_000_000
    assert path.read_bytes() == model_bytes


def test_cancel_then_resume(fake_hub, hf_cache, model_bytes, qwq_home):
    fake_hub.throttle = 0.005
    cancel = threading.Event()

    def progress(name, done, total):
        if done > 3_000_000:
            cancel.set()

    with pytest.raises(hub.PullCancelled, match="run it again to resume"):
        hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), progress, cancel, endpoint=fake_hub.url)
    fake_hub.throttle = 0
    path = hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=fake_hub.url)
    assert path.read_bytes() == model_bytes


def test_not_found_gated_and_unreachable(fake_hub, hf_cache, qwq_home, monkeypatch):
    with pytest.raises(BadInput, match="not found"):
        hub.pull(hub.Target(REPO, ["nope.gguf"]), endpoint=fake_hub.url)
    fake_hub.add("org/gated", "m-Q4_K_M.gguf", b"GGUF" + b"\0" * 100)
    fake_hub.gated.add("org/gated")
    with pytest.raises(QwqError, match="gated|needs a token") as err:
        hub.pull(hub.Target("org/gated", ["m-Q4_K_M.gguf"]), endpoint=fake_hub.url)
    assert "HF_TOKEN" in str(err.value)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    assert hub.pull(hub.Target("org/gated", ["m-Q4_K_M.gguf"]), endpoint=fake_hub.url).exists()
    gone = FakeHub()
    url = gone.url
    gone.httpd.server_close()
    with pytest.raises(QwqError) as err:
        hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=url)
    assert "\n" not in str(err.value)


def test_checksum_mismatch_deletes_the_file(fake_hub, hf_cache, qwq_home):
    fake_hub.bad_checksum.add((REPO, "qwq-32b-q4_k_m.gguf"))
    with pytest.raises(QwqError, match="corrupt"):
        hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=fake_hub.url)
    blobs = [p for p in hf_cache.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert not [b for b in blobs if b.stat().st_size > 10_000]  # nothing left that could be loaded


def test_not_enough_disk_space_is_checked_first(fake_hub, hf_cache, qwq_home, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(QwqError, match="not enough disk space"):
        hub.pull(hub.Target(REPO, ["qwq-32b-q4_k_m.gguf"]), endpoint=fake_hub.url)
    assert not any(r["method"] == "GET" and "resolve" in r["path"] for r in fake_hub.requests)


# -- the command line ------------------------------------------------------------------


def test_cli_pull_then_models_then_use(fake_hub, tmp_path, qwq_home, model_bytes):
    env = {"HF_ENDPOINT": fake_hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_XET": "1"}
    proc = run_process("pull", "Qwen/QwQ-32B-GGUF:Q4_K_M", env_extra=env)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.read_bytes() == model_bytes and "is now the default model" in proc.stderr
    listed = json.loads(run_process("models", "--json", env_extra=env).stdout)
    assert [r["default"] for r in listed] == [True]
    assert listed[0]["architecture"] == "llama" and listed[0]["context_length"] == 8192
    asked = run_process("ask", "--json", "--max-tokens", "5", "hi", env_extra=env)  # the pulled model is used
    assert asked.returncode == 0, asked.stderr
    other = tmp_path / "other.gguf"
    other.write_bytes(model_bytes)
    assert run_process("models", "--use", str(other), env_extra=env).returncode == 0
    rows = json.loads(run_process("models", "--json", env_extra=env).stdout)
    assert [r["default"] for r in rows] == [False, True]
    assert run_process("models", "--use", "1", env_extra=env).returncode == 0
    assert [r["default"] for r in json.loads(run_process("models", "--json", env_extra=env).stdout)] == [True, False]
    bad = run_process("pull", "nobody/nothing", env_extra=env)
    assert bad.returncode == 2 and "not found" in bad.stderr and bad.stderr.count("\n") == 1


def test_cli_pull_with_no_argument_fetches_what_fits_this_machine(tmp_path, qwq_home, model_bytes):
    """Every catalogue file is on the fake hub; `pull` takes the one recommended for this machine."""
    from qwqchat import config
    from qwqchat.models.recommend import recommend, this_machine

    rec = recommend(catalog.MODELS, this_machine())
    with FakeHub() as h:
        for m in catalog.MODELS:
            for q in m.quants:
                h.add(m.repo, q.filename, model_bytes)
        env = {"HF_ENDPOINT": h.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_XET": "1"}
        proc = run_process("pull", env_extra=env)  # huggingface-hub reads HF_HOME once, at import
        fetched = [r["path"] for r in h.requests if r["method"] == "GET" and "/resolve/" in r["path"]]
    assert proc.returncode == 0, proc.stderr
    o = rec.option
    reason = next(
        line for line in proc.stderr.splitlines() if line.startswith("qwqchat: CPU") or line.startswith("qwqchat: GPU")
    )
    assert o.label in reason and ("recommending" in reason or "fits" in reason)  # the one-line reason
    assert fetched and all(p.startswith(f"/{o.model.repo}/resolve/") and p.endswith(o.quant.filename) for p in fetched)
    assert Path(proc.stdout.strip()).read_bytes() == model_bytes
    cfg = config.load()
    assert cfg.model == proc.stdout.strip() and (cfg.ctx, cfg.kv_cache) == (o.ctx, o.kv)
