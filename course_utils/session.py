"""Session set-up for the first code cell of every lesson.

``setup()`` seeds every random generator, fixes the CPU thread count, makes the
offline profile refuse to touch the network, quiets library logging, and prints
the library versions and the device. In Colab without a GPU it says what to click.

Example::

    >>> device = setup(profile="offline", seed=0)     # doctest: +SKIP
    torch 2.13.0 | transformers 5.23.0 | datasets 5.2.0 | profile offline | device cpu, 2 threads
"""

from __future__ import annotations

import os
import random
import warnings

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
    from .resources import usable_cores

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
