"""Session set-up for the first code cell of every lesson, and what this machine can do.

``setup()`` seeds every random generator, fixes the CPU thread count, makes the
offline profile refuse to touch the network, quiets library logging, and prints
the library versions and the device. In Colab without a GPU it says what to click.

Knowing the machine: ``cpu_features()`` reads the CPU's instruction sets (AVX2, AVX-512,
VNNI, AVX512-BF16, AMX) from ``/proc/cpuinfo``, ``matmul_ceilings()`` measures what its fp32
and bf16 matrix products reach, ``bf16_pays()`` says whether bf16 can be faster than fp32
here, and ``machine_report()`` says all of it in one line for lessons and benchmarks.

Example::

    >>> device = setup(profile="offline", seed=0)     # doctest: +SKIP
    torch 2.13.0 | transformers 5.23.0 | datasets 5.2.0 | profile offline | device cpu, 2 threads
    >>> print(machine_report())                       # doctest: +SKIP
    AMD EPYC, 2 threads: AVX2 yes, AVX512 no, VNNI no, AVX512-BF16 no, AMX no; fp32 ceiling 95 \
GFLOP/s, bf16 21 GFLOP/s (bf16 slower: no AVX512-BF16 or AMX-BF16)
"""

from __future__ import annotations

import os
import platform
import random
import time
import warnings
from pathlib import Path
from typing import Any

from .colab import drive_hint, in_colab

THREADS_ENV = "COURSE_THREADS"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
COMMON_ENV = {
    "TOKENIZERS_PARALLELISM": "false",   # no fork warnings, deterministic order
    "KERAS_BACKEND": "torch",            # keras without TensorFlow
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
COLAB_GPU_HINT = ("No GPU found. In Colab: Runtime > Change runtime type > Hardware accelerator: "
                  "T4 GPU > Save, then run the notebook again from the top.")


def default_threads() -> int:
    """Return ``$COURSE_THREADS`` or the number of cores this process may use."""
    if os.environ.get(THREADS_ENV):
        return max(1, int(os.environ[THREADS_ENV]))
    from .measure import usable_cores

    return usable_cores()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and GPU) with one number."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def set_threads(threads: int | None = None) -> int:
    """Use ``threads`` CPU threads in PyTorch and the BLAS libraries; return the count."""
    import torch

    threads = threads or default_threads()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    return threads


def pick_device(preference: str = "auto"):
    """Return a torch device: ``cpu``, or for ``auto`` the best of cuda > mps > cpu."""
    import torch

    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def quiet_libraries() -> None:
    """Silence progress bars and advisory warnings that would clutter lesson outputs."""
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pin_memory.*")


def setup(profile: str = "offline", seed: int = 0, threads: int | None = None,
          quiet: bool = True, verbose: bool = True):
    """Prepare a lesson's session and return the torch device to use."""
    from .profiles import get_profile

    chosen = get_profile(profile)
    for key, value in COMMON_ENV.items():
        os.environ.setdefault(key, value)
    if chosen.offline:
        os.environ.update(OFFLINE_ENV)
    import datasets
    import torch
    import transformers

    n_threads = set_threads(threads)
    seed_everything(seed)
    if quiet:
        quiet_libraries()
    device = pick_device(chosen.device)
    if verbose:
        print(f"torch {torch.__version__} | transformers {transformers.__version__} | "
              f"datasets {datasets.__version__} | profile {chosen.name} | "
              f"device {device.type}, {n_threads} CPU threads | seed {seed}")
        if device.type == "cpu" and chosen.device == "auto" and in_colab():
            print(COLAB_GPU_HINT)
        if in_colab():
            print(drive_hint())
    return device


CPUINFO = Path("/proc/cpuinfo")
# feature name -> the flag Linux lists in /proc/cpuinfo
CPU_FLAGS = {"avx2": "avx2", "avx512f": "avx512f", "avx512_vnni": "avx512_vnni",
             "avx_vnni": "avx_vnni", "avx512_bf16": "avx512_bf16", "amx_bf16": "amx_bf16",
             "amx_int8": "amx_int8"}


def cpu_features(cpuinfo: str | None = None) -> dict[str, Any]:
    """Return the CPU's ``model`` and, per instruction set of ``CPU_FLAGS``, whether it has it.

    ``cpuinfo`` is the text of ``/proc/cpuinfo`` (read from ``CPUINFO`` when omitted). Where
    there is none (macOS, Windows), torch's ``get_cpu_capability()`` tells AVX2 and AVX-512
    apart and the other sets are reported False: unknown, so not relied on.

    >>> cpu_features("model name : Xeon\\nflags : avx2 avx512f amx_bf16")["amx_bf16"]
    True
    """
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return _features_from_torch()
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())   # the first processor speaks for all
    flags = set(fields.get("flags", "").split())
    model = fields.get("model name") or fields.get("Model") or platform.processor()
    return {"model": model or platform.machine(), "source": "cpuinfo",
            **{name: flag in flags for name, flag in CPU_FLAGS.items()}}


def _features_from_torch() -> dict[str, Any]:
    import torch

    capability = torch.backends.cpu.get_cpu_capability()    # "AVX512", "AVX2", "DEFAULT", ...
    features = dict.fromkeys(CPU_FLAGS, False)
    features["avx2"] = capability in ("AVX2", "AVX512")
    features["avx512f"] = capability == "AVX512"
    return {"model": platform.processor() or platform.machine(),
            "source": f"torch capability {capability}", **features}


def bf16_pays(features: dict[str, Any]) -> tuple[bool, str]:
    """Return whether bf16 matrix products can beat fp32 on this CPU, and why.

    Only AVX512-BF16 or AMX-BF16 compute in bf16; without them PyTorch converts to fp32 and
    back, so bf16 autocast on the CPU is slower than fp32 (PyTorch's autocast documentation).
    """
    if features.get("amx_bf16"):
        return True, "AMX-BF16 tiles multiply bf16 matrices"
    if features.get("avx512_bf16"):
        return True, "AVX512-BF16 instructions compute bf16 dot products"
    return False, "no AVX512-BF16 or AMX-BF16"


def matmul_ceilings(seconds: float = 1.0, size: int = 1024) -> dict[str, float]:
    """Return the GFLOP/s of square fp32 and bf16 matrix products here, in about ``seconds``.

    Each dtype gets half the time. Its products grow from 64 x 64 towards ``size`` x ``size``
    (untimed warm-ups) while the next size's product should take under half of that time
    (bf16 without bf16 units can be 50 times slower than fp32); timed products of the last
    size fill the rest, the median product's rate being the ceiling. ``fp32_size`` and
    ``bf16_size`` say which sizes ran. Threads as torch has them (``setup`` sets them).

    >>> matmul_ceilings(seconds=0.2)["fp32_gflops"] > 0          # doctest: +SKIP
    True
    """
    import torch

    ceilings: dict[str, float] = {"threads": torch.get_num_threads()}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        ceilings[f"{name}_gflops"], ceilings[f"{name}_size"] = _matmul_gflops(size, dtype,
                                                                              seconds / 2)
    return ceilings


def _matmul_gflops(largest: int, dtype, seconds: float) -> tuple[float, int]:
    """Return the median GFLOP/s of square products in ``dtype``, and the size that ran."""
    import statistics

    import torch

    deadline = time.perf_counter() + seconds
    generator = torch.Generator().manual_seed(0)
    size = min(64, largest)
    torch.mm(torch.ones(size, size, dtype=dtype), torch.ones(size, size, dtype=dtype))  # threads up
    while True:
        a = torch.randn(size, size, generator=generator).to(dtype)
        b = torch.randn(size, size, generator=generator).to(dtype)
        start = time.perf_counter()
        product = torch.mm(a, b)        # warm-up: kernels chosen, memory touched
        # doubling the size multiplies a product's time by 8
        if size * 2 > largest or 8 * (time.perf_counter() - start) > seconds / 2:
            break
        size *= 2
    rates: list[float] = []
    while len(rates) < 2 or time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b, out=product)
        rates.append(2 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return round(statistics.median(rates), 1), size


def machine_report(features: dict[str, Any] | None = None,
                   ceilings: dict[str, float] | None = None) -> str:
    """Return one line on the CPU: its instruction sets, its fp32 and bf16 ceilings, bf16's case.

    Measures what is not given (``cpu_features()``, ``matmul_ceilings()``: about a second).
    """
    features = features or cpu_features()
    ceilings = ceilings or matmul_ceilings()
    yes = {True: "yes", False: "no"}
    sets = {"AVX2": features["avx2"], "AVX512": features["avx512f"],
            "VNNI": features["avx512_vnni"] or features["avx_vnni"],
            "AVX512-BF16": features["avx512_bf16"],
            "AMX": features["amx_bf16"] or features["amx_int8"]}
    fp32, bf16 = ceilings["fp32_gflops"], ceilings["bf16_gflops"]
    _, why = bf16_pays(features)
    return (f"{features['model']}, {ceilings['threads']} threads: "
            + ", ".join(f"{name} {yes[bool(has)]}" for name, has in sets.items())
            + f"; fp32 ceiling {fp32:.0f} GFLOP/s, bf16 {bf16:.0f} GFLOP/s "
            f"(bf16 {'faster' if bf16 > fp32 else 'slower'}: {why})")
