"""The recommendation as a table: machines described, never read from the one running the tests."""

import pytest

from qwqchat.models import catalog, fit
from qwqchat.models.recommend import MIN_CPU_SPEED, Machine, choices, recommend, settings

GiB = 1024**3


def gpu(gb: int, name: str) -> Machine:
    """An idle card of ``gb`` GiB: nvidia-smi reports ~2 % of it taken (driver, CUDA context)."""
    return Machine((fit.Gpu(name, gb * GiB, int(gb * GiB * 0.98)),), ram_free=32 * GiB, cores=8)


def ram(free_gib: float, cores: int = 8) -> Machine:
    return Machine((), ram_free=int(free_gib * GiB), cores=cores)


# machine, expected (model, quant, ctx, kv), words the reason must hold
TABLE = [
    (gpu(8, "NVIDIA GeForce RTX 4060"), ("Qwen3-8B", "Q5_K_M", 16384, "q8_0"), ["QwQ-32B Q4_K_M needs 21.7 GiB"]),
    (gpu(12, "NVIDIA GeForce RTX 3060"), ("Qwen3-14B", "Q4_K_M", 16384, "q8_0"), ["11.8 GiB free on the GPU"]),
    (gpu(24, "NVIDIA GeForce RTX 4090"), ("QwQ-32B", "Q4_K_M", 16384, "q8_0"), ["not at 32K with f16 KV"]),
    (gpu(48, "NVIDIA RTX A6000"), ("QwQ-32B", "Q8_0", 32768, "f16"), ["fits this GPU at 32K context, f16 KV"]),
    (gpu(80, "NVIDIA A100-SXM4-80GB"), ("QwQ-32B", "Q8_0", 32768, "f16"), ["fits this GPU"]),
    # RAM only: free memory as a desktop with that much RAM has it, 8 cores
    (ram(6), ("DeepSeek-R1-Distill-Qwen-7B", "Q4_K_M", 16384, "q8_0"), ["6.0 GiB free"]),
    (ram(12), ("Qwen3-8B", "Q4_K_M", 32768, "f16"), ["recommending Qwen3-8B Q4_K_M, 5.0 GB"]),
    (ram(20), ("Qwen3-8B", "Q4_K_M", 32768, "f16"), ["QwQ-32B Q4_K_M needs 21.7 GiB even at 16K"]),
    (ram(56), ("Qwen3-8B", "Q4_K_M", 32768, "f16"), ["fits in RAM at 32K context, f16 KV but would run at ~1.6"]),
    # this development machine: 2 cores, ~23 GiB free — QwQ fits at 16K with q8_0 KV but would crawl
    (ram(23, cores=2), ("Qwen3-1.7B", "Q8_0", 32768, "f16"), ["fits in RAM at 16K context, q8_0 KV", "~0.4 tokens/s"]),
]


@pytest.mark.parametrize("machine,expected,words", TABLE)
def test_recommendation_table(machine, expected, words):
    rec = recommend(catalog.MODELS, machine)
    o = rec.option
    assert (o.model.name, o.quant.name, o.ctx, o.kv) == expected, rec.reason
    assert rec.fits and o.estimate.total <= machine.available
    assert all(w in rec.reason for w in words), rec.reason
    assert "\n" not in rec.reason
    if not machine.gpus:
        assert o.speed >= MIN_CPU_SPEED


def test_qwq_comes_first_whenever_it_fits_a_gpu():
    for gb in (24, 32, 40, 48, 80):
        assert recommend(catalog.MODELS, gpu(gb, "x")).option.model is catalog.QWQ


def test_smaller_models_are_tried_largest_first():
    m = gpu(8, "NVIDIA GeForce RTX 4060")
    rec = recommend(catalog.MODELS, m).option
    bigger = [x for x in catalog.MODELS if rec.model.params < x.params < catalog.QWQ.params]
    assert bigger and all(not o.estimate.fits for o in choices(bigger, m))


def test_nothing_fits_is_said_plainly():
    rec = recommend(catalog.MODELS, ram(0.5, cores=2))
    assert not rec.fits and rec.reason.startswith("nothing fits: Qwen3-0.6B Q8_0 needs")
    small_card = Machine((fit.Gpu("tiny", GiB, GiB // 2),), ram_free=8 * GiB, cores=4)
    rec = recommend(catalog.MODELS, small_card)
    assert not rec.fits and "tokens/s with the rest on the CPU" in rec.reason


def test_a_setting_asked_for_is_kept_or_shortened_never_grown():
    assert settings(32768, "f16") == [(32768, "f16"), (32768, "q8_0"), (16384, "f16"), (16384, "q8_0")]
    assert settings(8192, "q4_0") == [(8192, "q4_0")]
    rec = recommend(catalog.MODELS, gpu(48, "x"), ctx=8192, kv="q4_0").option
    assert (rec.ctx, rec.kv) == (8192, "q4_0")


def test_every_choice_is_listed_with_its_fit_and_speed():
    m = ram(23, cores=2)
    listed = choices(catalog.MODELS, m)
    assert len(listed) == sum(len(x.quants) for x in catalog.MODELS)
    q4 = next(o for o in listed if o.label == "QwQ-32B Q4_K_M")
    assert q4.describe("CPU") == "fits at 16K context, q8_0 KV · ~0.4 tokens/s"
    q8 = next(o for o in listed if o.label == "QwQ-32B Q8_0")
    assert q8.describe("CPU").startswith("too big for RAM at 32K context, f16 KV")


def test_catalogue_data_is_consistent():
    names = [m.name for m in catalog.MODELS]
    assert names[0] == "QwQ-32B" and len(set(names)) == len(names)
    for m in catalog.MODELS:
        sizes = [q.size for q in m.quants]
        assert sizes == sorted(sizes) and all(q.filename.lower().endswith(".gguf") for q in m.quants)
        assert m.thinking in (catalog.PREFILL, catalog.SWITCH)
        assert m.shape.head_dim == 128 and m.shape.context_length >= 32768
        # weights per billion parameters at Q4_K_M are ~0.6 GB (Q8_0-only uploads ~1.06 GB)
        assert 0.5 < m.quants[0].size / 1e9 / m.params < 1.1
