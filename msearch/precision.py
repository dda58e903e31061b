"""Which numeric precision a model runs in: the ``precision`` option and CPU feature detection.

``precision`` is one option shared by the torch backends:

- ``"float32"`` (default): exact, the reference vectors and scores.
- ``"bfloat16"`` / ``"float16"``: weights and activations in 16 bits. On GPUs both are fast; on a
  CPU only bf16 with native support (Intel AMX, or AVX512-BF16) is faster than float32, and
  elsewhere it is usually slower, since the CPU emulates it.
- ``"auto"``: bf16 where the hardware runs it natively (AMX / AVX512-BF16 CPUs, GPUs with bf16),
  fp16 on older GPUs, float32 everywhere else. It never picks a precision that was not detected.
- ``"int8-onnx"``: an explicit CPU choice: the model exported to ONNX once, quantized to int8
  (dynamic, per-channel) and cached on disk (see ``msearch.backends.onnx_int8``). Lossier than
  bf16; meant for CPUs without native bf16.

Nothing here imports torch unless a CUDA device has to be asked about bf16.

>>> from msearch.precision import CpuFeatures, resolve_precision
>>> resolve_precision("auto", "cpu", cpu=CpuFeatures.from_flags({"avx2", "fma"})).precision
'float32'
>>> resolve_precision("auto", "cpu", cpu=CpuFeatures.from_flags({"amx_bf16", "amx_tile"})).dtype
'bfloat16'
"""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from msearch.errors import InvalidInputError

logger = logging.getLogger(__name__)

#: What a caller may ask for.
PRECISIONS = ("float32", "bfloat16", "float16", "auto", "int8-onnx")

#: Precisions that are a torch dtype (what ``dtype`` options accept).
TORCH_DTYPES = ("float32", "bfloat16", "float16")

_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU capabilities that decide whether 16-bit or int8 inference pays off."""

    amx_bf16: bool = False
    avx512_bf16: bool = False
    fp16_native: bool = False
    avx512_vnni: bool = False
    arm64: bool = False

    @classmethod
    def from_flags(cls, flags: Iterable[str], *, machine: str = "x86_64") -> CpuFeatures:
        """Features from /proc/cpuinfo's ``flags`` (x86) or ``Features`` (Arm) words."""
        words = {flag.lower() for flag in flags}
        return cls(
            amx_bf16="amx_bf16" in words and "amx_tile" in words,
            avx512_bf16="avx512_bf16" in words,
            fp16_native=bool({"amx_fp16", "avx512_fp16"} & words),
            avx512_vnni="avx512_vnni" in words,
            arm64=machine.lower() in ("aarch64", "arm64"),
        )

    @property
    def native_bf16(self) -> bool:
        """True where bf16 matrix products run in hardware (AMX tiles or AVX512-BF16)."""
        return self.amx_bf16 or self.avx512_bf16

    def describe(self) -> str:
        found = [
            name
            for name, present in (
                ("AMX-BF16", self.amx_bf16),
                ("AVX512-BF16", self.avx512_bf16),
                ("FP16", self.fp16_native),
                ("AVX512-VNNI", self.avx512_vnni),
            )
            if present
        ]
        return ", ".join(found) or "no native bf16/fp16"


def read_cpu_flags(cpuinfo: Path = _CPUINFO) -> frozenset[str] | None:
    """The first processor's feature words from /proc/cpuinfo; None where there is no such file."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


@functools.cache
def detect_cpu() -> CpuFeatures:
    """This machine's CPU features, read once.

    Linux reports them in /proc/cpuinfo. Elsewhere nothing is assumed, so ``auto`` stays on
    float32: torch's dispatch level (``torch.backends.cpu.get_cpu_capability()``) says
    "AVX512" on CPUs both with and without bf16, so it cannot decide this.
    """
    flags = read_cpu_flags()
    machine = platform.machine()
    if flags is not None:
        return CpuFeatures.from_flags(flags, machine=machine)
    return CpuFeatures(arm64=machine.lower() in ("aarch64", "arm64"))


@dataclass(frozen=True)
class PrecisionPlan:
    """What a backend should do for one ``precision`` request on one device.

    ``precision`` is the resolved choice (never ``"auto"``); ``dtype`` is the torch dtype to cast
    the model to (``"float32"`` for ``int8-onnx``, whose weights live in the ONNX file);
    ``reason`` says why, for logs and benchmark reports.
    """

    requested: str
    precision: str
    device_type: str
    reason: str

    @property
    def dtype(self) -> str:
        return self.precision if self.precision in TORCH_DTYPES else "float32"

    @property
    def onnx_int8(self) -> bool:
        return self.precision == "int8-onnx"

    @property
    def exact(self) -> bool:
        return self.precision == "float32"


def check_precision(precision: str) -> str:
    """``precision`` if it is a known name; an InvalidInputError listing the names otherwise."""
    if precision not in PRECISIONS:
        raise InvalidInputError(
            f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}"
        )
    return precision


def merge_dtype(precision: str | None, dtype: str) -> str:
    """One request from the newer ``precision`` option and the older ``dtype`` option.

    ``dtype`` (a torch dtype name) is kept for callers that already pass it; asking for two
    different things through both is refused rather than silently picking one.
    """
    if dtype not in TORCH_DTYPES:
        raise InvalidInputError(f"dtype must be one of {', '.join(TORCH_DTYPES)}; got {dtype!r}")
    if precision is None:
        return dtype
    check_precision(precision)
    if dtype != "float32" and dtype != precision:
        raise InvalidInputError(
            f"dtype={dtype!r} and precision={precision!r} disagree; pass only precision"
        )
    return precision


def resolve_precision(
    precision: str,
    device: str | None = "cpu",
    *,
    cpu: CpuFeatures | None = None,
    cuda_bf16: bool | None = None,
) -> PrecisionPlan:
    """Turn a ``precision`` request into a plan for ``device`` (``"cpu"``, ``"cuda:0"``, ...).

    ``cpu`` and ``cuda_bf16`` default to what this machine reports; tests pass them to check
    the decision for other hardware.
    """
    check_precision(precision)
    device_type = (device or "cpu").split(":", 1)[0].lower()
    on_cpu = device_type == "cpu"
    if precision == "int8-onnx":
        if not on_cpu:
            raise InvalidInputError(
                f"precision='int8-onnx' is a CPU path (ONNX Runtime, dynamic int8); the model "
                f"is on {device!r}: use 'bfloat16' or 'float16' there"
            )
        return PrecisionPlan(precision, "int8-onnx", device_type, "asked for int8-onnx")
    if precision != "auto":
        if on_cpu:
            _warn_if_emulated(precision, cpu or detect_cpu())
        return PrecisionPlan(precision, precision, device_type, f"asked for {precision}")
    if on_cpu:
        features = cpu or detect_cpu()
        if features.native_bf16:
            return PrecisionPlan(
                precision, "bfloat16", device_type, f"auto: CPU has {features.describe()}"
            )
        return PrecisionPlan(
            precision,
            "float32",
            device_type,
            "auto: CPU has no AMX or AVX512-BF16, where bf16 is usually slower than float32",
        )
    if device_type == "cuda":
        bf16 = _cuda_bf16(device) if cuda_bf16 is None else cuda_bf16
        chosen = "bfloat16" if bf16 else "float16"
        return PrecisionPlan(precision, chosen, device_type, f"auto: {device_type} runs {chosen}")
    return PrecisionPlan(
        precision, "float32", device_type, f"auto: no fast path known for {device_type}"
    )


def _warn_if_emulated(precision: str, features: CpuFeatures) -> None:
    if precision == "bfloat16" and not features.native_bf16:
        logger.warning(
            "precision='bfloat16' on a CPU without AMX or AVX512-BF16: bf16 is emulated there "
            "and usually slower than float32 (precision='auto' would pick float32)"
        )
    elif precision == "float16" and not features.fp16_native:
        logger.warning(
            "precision='float16' on a CPU without native fp16: usually much slower than float32"
        )


def _cuda_bf16(device: str | None) -> bool:
    import torch

    index = torch.device(device or "cuda").index
    major, _minor = torch.cuda.get_device_capability(index)
    return bool(major >= 8)
