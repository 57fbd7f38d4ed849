"""The objects a check needs that the judge builds itself, never takes from a submission.

Some checks compute the expected answer with an object of the lesson (``01.1`` decodes with
``tokenizer``). A submission could hand in a fake one that agrees with any answer, so those
names are not captured from it: the judge rebuilds them from the course's cached assets, as the
grading profile (``offline``) loads them. Everything else a check reads comes from the
submission as plain data (``plaindata.py``); an object that is not plain data (a model, a data
loader) cannot be graded, and the feedback says so.

Example::

    >>> sorted(trusted_names("02"))
    ['collator', 'tokenizer']
"""

from __future__ import annotations

from typing import Any

TRUSTED = {"tokenizer": ("01", "02", "03", "06"), "collator": ("02",)}
# Lesson 02's collator: its ``mlm_probability`` parameter as the lesson declares it (grading
# never overrides it).
LESSON_02_MLM_PROBABILITY = 0.15


def trusted_names(lesson: str) -> set[str]:
    """Return the names the judge supplies itself for exercises of ``lesson``."""
    return {name for name, lessons in TRUSTED.items() if lesson in lessons}


def build(name: str, lesson: str, built: dict[tuple[str, str], Any]) -> Any:
    """Return the trusted object ``name`` for ``lesson`` (cached in ``built``)."""
    key = (lesson, name)
    if key in built:
        return built[key]
    from ...profiles import get_profile, resolve_model

    profile = get_profile("offline")
    if name == "tokenizer":
        from transformers import AutoTokenizer

        model = profile.mlm_model if lesson == "02" else profile.encoder
        built[key] = AutoTokenizer.from_pretrained(resolve_model(model))
    elif name == "collator":
        from transformers import DataCollatorForLanguageModeling

        built[key] = DataCollatorForLanguageModeling(
            build("tokenizer", lesson, built), mlm_probability=LESSON_02_MLM_PROBABILITY)
    else:
        raise KeyError(f"no trusted object {name!r}")
    return built[key]
