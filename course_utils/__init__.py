"""Helpers for the notebook course on transfer learning with Transformers.

The lessons import what they need from the submodules; the most used names are here:

    >>> import course_utils
    >>> device = course_utils.setup(profile="offline", seed=0)     # doctest: +SKIP
    >>> course_utils.record("test_accuracy", 0.83)                 # doctest: +SKIP
"""

import warnings

# tqdm warns at import when ipywidgets is absent; its text progress bars are what we want.
warnings.filterwarnings("ignore", message="IProgress not found")

from .artifacts import artifacts_dir  # noqa: E402
from .assets import asset_path  # noqa: E402
from .profiles import get_profile, resolve_model  # noqa: E402
from .record import read_metrics, record  # noqa: E402
from .session import seed_everything, setup  # noqa: E402

__all__ = ["artifacts_dir", "asset_path", "get_profile", "read_metrics", "record",
           "resolve_model", "seed_everything", "setup"]
__version__ = "0.1.0"
