"""Checks for lesson 07 (serving fast): a latency percentile, and a recipe chosen by a rule.

Each check recomputes the right answer from the learner's own objects and says what differs.
Example::

    >>> assess("07.1", {"baseline_latency_seconds": [0.01] * 19 + [0.1],
    ...                   "p95_ms": 14.5}).passed                               # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import Feedback, exercise


def _number(value: Any, name: str) -> float | Feedback:
    """Return ``value`` as a float, or feedback saying it is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`{name}` should be a number, not a {type(value).__name__}.")
    if math.isnan(number):
        return Feedback.wrong(f"`{name}` is NaN: is the list of timings empty?")
    return number


@exercise("07.1", lesson="07", names=["p95_ms", "baseline_latency_seconds"],
          hint="A percentile ranks the timings (numpy has a function for percentiles); mind "
               "the units: the timings are in seconds, the answer in milliseconds.")
def latency_percentile(p95_ms, baseline_latency_seconds):
    """The 95th percentile of single-call latencies, in milliseconds."""
    value = _number(p95_ms, "p95_ms")
    if isinstance(value, Feedback):
        return value
    seconds = np.asarray(list(baseline_latency_seconds), dtype=float)
    if seconds.size == 0:
        return Feedback.wrong("`baseline_latency_seconds` is empty: run the timing cells first.")
    ms = seconds * 1000
    accepted = {"linear": float(np.percentile(ms, 95)),
                "nearest rank": float(np.sort(ms)[max(0, math.ceil(0.95 * ms.size) - 1)])}
    if any(math.isclose(value, v, rel_tol=1e-6, abs_tol=1e-9) for v in accepted.values()):
        return Feedback.right(f"{value:.2f} ms: one call in twenty waits longer. The median is "
                              f"{np.median(ms):.2f} ms and the mean {ms.mean():.2f} ms; the "
                              f"slowest call took {ms.max():.2f} ms.")
    for seconds_value in accepted.values():
        if math.isclose(value, seconds_value / 1000, rel_tol=1e-6):
            return Feedback.wrong("That is the percentile in seconds: give it in milliseconds.")
    if math.isclose(value, float(np.median(ms)), rel_tol=1e-6):
        return Feedback.wrong("That is the median (the 50th percentile), not the 95th.")
    if math.isclose(value, float(ms.mean()), rel_tol=1e-6):
        return Feedback.wrong("That is the mean: a percentile ranks the timings instead.")
    if math.isclose(value, float(ms.max()), rel_tol=1e-6):
        return Feedback.wrong("That is the slowest call (the 100th percentile), not the 95th.")
    return Feedback.wrong(f"{value:g} ms is not the 95th percentile of the {ms.size} timings "
                          f"(it lies between {ms.min():.2f} and {ms.max():.2f} ms).")


@exercise("07.2", lesson="07", names=["smallest_recipe", "table", "agreement_floor"],
          hint="Apply the rule first (which rows' lower bound, agreement_low, reaches the floor?), "
               "then compare sizes among the rows that are left.")
def smallest_agreeing_recipe(smallest_recipe, table, agreement_floor):
    """The smallest recipe on disk among those whose agreement's lower bound reaches the floor."""
    try:
        sizes, agreements, lows = table["size_mb"], table["agreement"], table["agreement_low"]
    except (KeyError, TypeError):
        return Feedback.wrong("`table` should be the lesson's table, with the columns size_mb, "
                              "agreement and agreement_low (re-run the cell that builds it).")
    floor = _number(agreement_floor, "agreement_floor")
    if isinstance(floor, Feedback):
        return floor
    if smallest_recipe not in set(table.index):
        return Feedback.wrong(f"{smallest_recipe!r} is not a recipe of the table: give one of "
                              f"{', '.join(map(str, table.index))}.")
    allowed = sizes[lows >= floor]
    if allowed.empty:
        return Feedback.wrong(f"No recipe's lower bound reaches {floor}: lower agreement_floor.")
    winners = set(allowed[allowed == allowed.min()].index)
    if smallest_recipe in winners:
        return Feedback.right(f"{smallest_recipe}: {allowed.min():.1f} MB, agreement "
                              f"{agreements[smallest_recipe]:.2%} (at least "
                              f"{lows[smallest_recipe]:.2%}).")
    if lows[smallest_recipe] < floor <= agreements[smallest_recipe]:
        return Feedback.wrong(f"{smallest_recipe} agrees with fp32 on "
                              f"{agreements[smallest_recipe]:.2%} of the texts checked, but its "
                              f"interval's lower bound is "
                              f"{lows[smallest_recipe]:.2%}, under the floor of {floor:.0%}: like "
                              "the lesson's rule, judge agreement_low, which a lucky sample of "
                              "texts cannot lift.")
    if lows[smallest_recipe] < floor:
        return Feedback.wrong(f"{smallest_recipe} agrees with fp32 on only "
                              f"{agreements[smallest_recipe]:.2%} of the texts, under the floor "
                              f"of {floor:.0%}: the rule comes first, the size second.")
    return Feedback.wrong(f"{smallest_recipe} passes the rule, but a smaller one does too "
                          f"({sizes[smallest_recipe]:.1f} MB against {allowed.min():.1f} MB).")
