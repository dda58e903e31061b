"""The ``precision`` option: CPU feature detection and what each request resolves to."""

from __future__ import annotations

from pathlib import Path

import pytest

from msearch.backends.export_cache import onnx_cache_root
from msearch.backends.onnx_int8 import quantization_isa
from msearch.errors import InvalidInputError
from msearch.precision import (
    PRECISIONS,
    CpuFeatures,
    detect_cpu,
    merge_dtype,
    read_cpu_flags,
    resolve_precision,
)

# Flag sets as /proc/cpuinfo prints them on real machines (abridged).
ZEN3_AVX2 = "fpu sse sse2 avx fma avx2 bmi2 sha_ni vaes"
SAPPHIRE_RAPIDS = "avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_fp16"
COOPER_LAKE = "avx2 avx512f avx512_vnni avx512_bf16"
ICE_LAKE = "avx2 avx512f avx512_vnni avx512vl"
AMX_TILE_ONLY = "avx2 amx_tile amx_int8"


def features(flags: str, machine: str = "x86_64") -> CpuFeatures:
    return CpuFeatures.from_flags(flags.split(), machine=machine)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (ZEN3_AVX2, "float32"),
        (ICE_LAKE, "float32"),
        (AMX_TILE_ONLY, "float32"),
        ("", "float32"),
        (SAPPHIRE_RAPIDS, "bfloat16"),
        (COOPER_LAKE, "bfloat16"),
    ],
)
def test_auto_picks_bf16_only_where_the_cpu_runs_it_natively(flags: str, expected: str) -> None:
    plan = resolve_precision("auto", "cpu", cpu=features(flags))
    assert plan.precision == expected
    assert plan.dtype == expected
    assert plan.requested == "auto"
    assert not plan.onnx_int8
    assert "auto" in plan.reason


def test_auto_on_an_arm_cpu_stays_float32() -> None:
    plan = resolve_precision("auto", "cpu", cpu=features("fp asimd bf16 sve", machine="aarch64"))
    assert plan.precision == "float32"


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bfloat16"), (False, "float16")])
def test_auto_on_cuda_follows_the_gpus_bf16_support(bf16: bool, expected: str) -> None:
    plan = resolve_precision("auto", "cuda:0", cuda_bf16=bf16, cpu=features(ZEN3_AVX2))
    assert plan.precision == expected
    assert plan.device_type == "cuda"


def test_auto_on_other_devices_stays_float32() -> None:
    assert resolve_precision("auto", "mps").precision == "float32"


@pytest.mark.parametrize("precision", ["float32", "bfloat16", "float16"])
def test_explicit_torch_precisions_are_honoured_everywhere(precision: str) -> None:
    for device in ("cpu", "cuda", None):
        plan = resolve_precision(precision, device, cpu=features(ZEN3_AVX2), cuda_bf16=False)
        assert plan.precision == precision
        assert plan.dtype == precision
    assert resolve_precision(precision, "cpu", cpu=features(ZEN3_AVX2)).exact is (
        precision == "float32"
    )


def test_emulated_bf16_is_honoured_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    plan = resolve_precision("bfloat16", "cpu", cpu=features(ZEN3_AVX2))
    assert plan.precision == "bfloat16"
    assert "emulated" in caplog.text
    caplog.clear()
    resolve_precision("bfloat16", "cpu", cpu=features(SAPPHIRE_RAPIDS))
    assert caplog.text == ""


def test_int8_onnx_is_a_cpu_path() -> None:
    plan = resolve_precision("int8-onnx", "cpu", cpu=features(ZEN3_AVX2))
    assert plan.onnx_int8
    assert plan.dtype == "float32"
    with pytest.raises(InvalidInputError, match="CPU path"):
        resolve_precision("int8-onnx", "cuda:0")


@pytest.mark.parametrize("bad", ["fp32", "bf16", "int8", "", "AUTO"])
def test_unknown_precisions_are_refused_with_the_choices(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="float32, bfloat16, float16, auto, int8-onnx"):
        resolve_precision(bad)


def test_merge_dtype_keeps_the_older_option_and_refuses_contradictions() -> None:
    assert merge_dtype(None, "float32") == "float32"
    assert merge_dtype(None, "bfloat16") == "bfloat16"
    assert merge_dtype("auto", "float32") == "auto"
    assert merge_dtype("bfloat16", "bfloat16") == "bfloat16"
    with pytest.raises(InvalidInputError, match="disagree"):
        merge_dtype("float16", "bfloat16")
    with pytest.raises(InvalidInputError, match="dtype must be one of"):
        merge_dtype(None, "auto")
    with pytest.raises(InvalidInputError):
        merge_dtype("int4", "float32")


def test_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 AMX_BF16 amx_tile\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    flags = read_cpu_flags(cpuinfo)
    assert flags == frozenset({"fpu", "avx2", "AMX_BF16", "amx_tile"})
    assert CpuFeatures.from_flags(flags).amx_bf16
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert read_cpu_flags(arm) == frozenset({"fp", "asimd", "bf16"})
    assert read_cpu_flags(tmp_path / "missing") is None


def test_this_machine_is_detected_consistently() -> None:
    cpu = detect_cpu()
    flags = read_cpu_flags() or frozenset()
    assert cpu.native_bf16 == bool({"avx512_bf16"} & flags or {"amx_bf16", "amx_tile"} <= flags)
    expected = "bfloat16" if cpu.native_bf16 else "float32"
    assert resolve_precision("auto", "cpu").precision == expected


def test_every_documented_precision_resolves_on_cpu() -> None:
    for precision in PRECISIONS:
        assert resolve_precision(precision, "cpu", cpu=features(SAPPHIRE_RAPIDS)).precision in (
            "float32",
            "bfloat16",
            "float16",
            "int8-onnx",
        )


def test_quantization_preset_follows_the_cpu() -> None:
    assert quantization_isa(features(ZEN3_AVX2)) == "avx2"
    assert quantization_isa(features(ICE_LAKE)) == "avx512_vnni"
    assert quantization_isa(features("fp asimd", machine="aarch64")) == "arm64"


def test_onnx_cache_folder_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSEARCH_ONNX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_cache_root() == tmp_path / "xdg" / "msearch" / "onnx"
    monkeypatch.setenv("MSEARCH_ONNX_CACHE", str(tmp_path / "env"))
    assert onnx_cache_root() == tmp_path / "env"
    assert onnx_cache_root(tmp_path / "given") == tmp_path / "given"


def test_backends_validate_precision_before_loading() -> None:
    from msearch.embeddings import text_embedder
    from msearch.rerank import reranker

    with pytest.raises(InvalidInputError, match="precision must be one of"):
        text_embedder("sentence-transformers/all-MiniLM-L6-v2", precision="int4")
    with pytest.raises(InvalidInputError, match="disagree"):
        reranker("./some-cross-encoder", dtype="float16", precision="bfloat16")
    embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2", precision="auto")
    assert embedder.precision == "auto"  # type: ignore[attr-defined]
