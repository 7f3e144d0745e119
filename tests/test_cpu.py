"""llama.cpp build flags from the CPU, and the check that stops a build made for another CPU."""

import pytest

from qwqchat import cpu
from qwqchat.engines.llama import LlamaEngine
from qwqchat.errors import QwqError

# /proc/cpuinfo flags of the two machine types CI runs on (trimmed to what matters)
BASE = "fpu sse sse2 pni ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2"
AMD_EPYC = BASE + " avx512f avx512dq avx512cd avx512bw avx512vl avx512ifma avx512vbmi avx512_vnni avx512_bf16"
INTEL_AMX = AMD_EPYC + " avx_vnni amx_bf16 amx_tile amx_int8"
CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {}\nbugs\t\t: sysret_ss_attrs\n"

# llama_print_system_info() of builds seen in practice
NATIVE_AMD = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | "
    "AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
OLD_CI_BUILD = NATIVE_AMD.replace("AVX2 = 1 |", "AVX_VNNI = 1 | AVX2 = 1 |")  # the flags .ci/run used to hard-code
NATIVE_INTEL = OLD_CI_BUILD.replace("REPACK = 1 |", "AMX_INT8 = 1 | REPACK = 1 |")


def flags(text: str):
    return cpu.cpu_flags(CPUINFO.format(text))


def test_flags_are_read_from_cpuinfo():
    assert {"avx512_vnni", "pni"} <= flags(AMD_EPYC) and "avx_vnni" not in flags(AMD_EPYC)
    assert cpu.cpu_flags("processor : 0\nFeatures : fp asimd\n") is None  # an Arm machine: nothing to check


def test_without_amx_the_native_build():
    assert cpu.cmake_args(flags(AMD_EPYC)) == ""
    assert cpu.cmake_args(flags(AMD_EPYC), cuda=True) == "-DGGML_CUDA=on"
    assert cpu.cmake_args(None) == ""


def test_with_amx_only_what_the_cpu_has_and_never_amx():
    args = cpu.cmake_args(flags(INTEL_AMX)).split()
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AVX_VNNI=ON" in args and "-DGGML_AVX512_BF16=ON" in args
    assert all(f"-D{o}=OFF" in args for o in cpu.AMX_OPTIONS)
    no_bf16 = cpu.cmake_args(flags(INTEL_AMX.replace(" avx512_bf16", ""))).split()
    assert "-DGGML_AVX512_BF16=OFF" in no_bf16 and "-DGGML_AVX512_VNNI=ON" in no_bf16
    cuda = cpu.cmake_args(flags(INTEL_AMX), cuda=True).split()
    assert cuda[0] == "-DGGML_CUDA=on" and "-DGGML_NATIVE=OFF" in cuda
    assert "-DCMAKE_CUDA_ARCHITECTURES=native" in cuda  # not llama.cpp's eight-generation list
    assert "-DCMAKE_CUDA_ARCHITECTURES=native" not in cpu.cmake_args(flags(INTEL_AMX)).split()


def test_each_builds_flags_run_on_the_cpu_they_were_chosen_for():
    """A build made with the printed CMAKE_ARGS reports only what the CPU has."""
    for machine in (AMD_EPYC, INTEL_AMX):
        on = {o for o in cpu.cmake_args(flags(machine)).split() if o.endswith("=ON")}
        built = " | ".join(f"{name} = 1" for name, _, opt in cpu.FEATURES if f"-D{opt}=ON" in on)
        assert cpu.mismatch(built, flags(machine)) is None


def test_a_build_for_another_cpu_is_one_line_naming_the_cause_and_the_rebuild():
    assert cpu.mismatch(NATIVE_AMD, flags(AMD_EPYC)) is None
    assert cpu.mismatch(NATIVE_AMD, flags(INTEL_AMX)) is None
    sigill = cpu.mismatch(OLD_CI_BUILD, flags(AMD_EPYC))
    assert "AVX_VNNI" in sigill and "SIGILL" in sigill and cpu.REBUILD in sigill and "\n" not in sigill
    amx = cpu.mismatch(NATIVE_INTEL, flags(INTEL_AMX))
    assert "AMX" in amx and "20824" in amx and cpu.REBUILD in amx
    assert "AMX_INT8" in cpu.mismatch(NATIVE_INTEL, flags(AMD_EPYC))  # an Intel wheel copied to the AMD machine
    assert cpu.mismatch(OLD_CI_BUILD, None) is None


def test_the_engine_refuses_a_foreign_build_before_any_token(smol_model, monkeypatch):
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: OLD_CI_BUILD.encode())
    monkeypatch.setattr(cpu, "read_cpu_flags", lambda path="/proc/cpuinfo": flags(AMD_EPYC))
    engine = LlamaEngine(smol_model, ctx=512, threads=1)
    with pytest.raises(QwqError, match="AVX_VNNI, which this CPU lacks"):
        engine.load()
    assert engine.llm is None


def test_the_build_here_matches_this_cpu():
    import llama_cpp

    assert cpu.mismatch(llama_cpp.llama_print_system_info().decode(), cpu.read_cpu_flags()) is None


def test_the_script_prints_args_for_a_given_cpuinfo(tmp_path, capsys):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(INTEL_AMX))
    assert cpu.main([str(path), "--cuda"]) == 0
    assert capsys.readouterr().out.startswith("-DGGML_CUDA=on -DGGML_NATIVE=OFF")
