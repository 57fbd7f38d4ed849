"""Checks for lesson 03 (your own data): padding recipes, label ids, a dynamic-padding loader.

Each check inspects the learner's objects, recomputes what they should hold, and says what
differs. Example::

    >>> assess("03.2", {"encode_new_labels": my_function})                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import (
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from .core import Feedback, exercise


def _loader_problem(loader: Any, name: str) -> Feedback | None:
    """Return feedback when ``loader`` is not a DataLoader, else None."""
    if isinstance(loader, DataLoader):
        return None
    if isinstance(loader, Dataset):
        return Feedback.wrong(f"`{name}` is a {type(loader).__name__} (the data itself); wrap it "
                              "in a DataLoader, which cuts it into batches.")
    if isinstance(loader, Sampler):
        return Feedback.wrong(f"`{name}` is a {type(loader).__name__}, which only chooses the "
                              "order; pass it to DataLoader(..., sampler=...).")
    return Feedback.wrong(f"`{name}` is a {type(loader).__name__}, not a "
                          "torch.utils.data.DataLoader.")


def _order_problem(loader: DataLoader, name: str) -> Feedback | None:
    """Return feedback when ``loader`` does not read its dataset once, in order."""
    if loader.batch_size is None:
        return Feedback.wrong(f"`{name}` uses a custom batch_sampler; give DataLoader a "
                              "sampler and a batch_size instead.")
    if isinstance(loader.sampler, RandomSampler):
        return Feedback.wrong(f"`{name}` uses a RandomSampler: it shuffles the validation "
                              "examples, so predictions no longer line up with the rows of the "
                              "validation split and every run reads them in another order.")
    if not isinstance(loader.sampler, SequentialSampler):
        return Feedback.wrong(f"`{name}` uses a {type(loader.sampler).__name__}; evaluation "
                              "needs every example once, in order: a SequentialSampler.")
    if loader.drop_last:
        skipped = len(loader.dataset) % loader.batch_size
        return Feedback.wrong(f"`{name}` has drop_last=True: it skips the last {skipped} "
                              "example(s) of the last, smaller batch. Evaluate on all of them.")
    return None


RECIPES = ("fixed", "per_batch", "sorted")


def recipe_padding(lengths: list[int], max_length: int, batch_size: int) -> dict[str, tuple]:
    """Return {recipe: (padding share, positions)} for three ways to pad texts of ``lengths``."""
    def per_batch(order: list[int]) -> int:
        return sum(len(order[i:i + batch_size]) * max(order[i:i + batch_size])
                   for i in range(0, len(order), batch_size))

    real = sum(lengths)
    positions = {"fixed": len(lengths) * max_length, "per_batch": per_batch(list(lengths)),
                 "sorted": per_batch(sorted(lengths))}
    return {name: (1 - real / n, n) for name, n in positions.items()}


@exercise("03.1", lesson="03", names=["tokenizer", "recipe_texts", "max_length", "batch_size",
                                      "padding_shares", "least_wasteful", "positions_saved"],
          hint="Count each text's tokens once (truncated at max_length, as section 6 tokenizes). "
               "A recipe's padding share is 1 - real tokens / positions computed, and a batch "
               "padded to its longest text computes batch size x that length positions; "
               "padding_waste in section 8 measures the same on a loader.")
def padding_recipe_that_wastes_least(tokenizer, recipe_texts, max_length, batch_size,
                                     padding_shares, least_wasteful, positions_saved):
    """Measure three padding recipes on the same texts and judge which wastes least."""
    if not (isinstance(recipe_texts, list) and recipe_texts
            and all(isinstance(t, str) for t in recipe_texts)):
        return Feedback.wrong("`recipe_texts` should still be the list of texts given in the "
                              "exercise cell; re-run that cell.")
    if not isinstance(padding_shares, Mapping):
        return Feedback.wrong(f"`padding_shares` should be a dict with the keys "
                              f"{list(RECIPES)}, not a {type(padding_shares).__name__}.")
    if sorted(padding_shares) != sorted(RECIPES):
        return Feedback.wrong(f"`padding_shares` has the keys {sorted(padding_shares)}; it needs "
                              f"exactly {list(RECIPES)}.")
    lengths = [len(ids) for ids in tokenizer(recipe_texts, truncation=True,
                                             max_length=max_length)["input_ids"]]
    expected = recipe_padding(lengths, max_length, batch_size)
    untruncated = [len(ids) for ids in tokenizer(recipe_texts)["input_ids"]]
    for name in RECIPES:
        try:
            value = float(padding_shares[name])
        except (TypeError, ValueError):
            return Feedback.wrong(f"padding_shares[{name!r}] should be a number, not "
                                  f"{padding_shares[name]!r}.")
        share = expected[name][0]
        if abs(value - share) <= 1e-6:
            continue
        if abs(value - 100 * share) <= 1e-4:
            return Feedback.wrong(f"padding_shares[{name!r}] is a percentage; give a fraction in "
                                  "[0, 1].")
        if abs(value - (1 - share)) <= 1e-6:
            return Feedback.wrong(f"padding_shares[{name!r}] is the share of real tokens; give "
                                  "the share of padding positions.")
        if untruncated != lengths and abs(
                value - recipe_padding(untruncated, max_length, batch_size)[name][0]) <= 1e-6:
            return Feedback.wrong(f"padding_shares[{name!r}] counts the texts' full lengths; "
                                  f"the model reads at most max_length = {max_length} tokens.")
        if name == "per_batch" and abs(value - expected["sorted"][0]) <= 1e-6:
            return Feedback.wrong("padding_shares['per_batch'] equals the sorted recipe: keep "
                                  "recipe_texts in their given order for this one.")
        return Feedback.wrong(f"padding_shares[{name!r}] = {value:.4f} is not the share of "
                              f"padding positions of that recipe on recipe_texts (batches of "
                              f"{batch_size}, max_length {max_length}).")
    best = min(RECIPES, key=lambda name: expected[name][1])
    if least_wasteful != best:
        return Feedback.wrong(f"least_wasteful is {least_wasteful!r}, but your own shares say "
                              "otherwise: which recipe computes the fewest positions?")
    try:
        saved = float(positions_saved)
    except (TypeError, ValueError):
        return Feedback.wrong(f"`positions_saved` should be a number of positions, not "
                              f"{type(positions_saved).__name__}.")
    gain = expected["fixed"][1] - expected[best][1]
    if saved != gain:
        if abs(saved - (expected["fixed"][0] - expected[best][0])) <= 1e-6:
            return Feedback.wrong("positions_saved is a difference of shares; give the number of "
                                  "positions the model no longer computes.")
        return Feedback.wrong(f"positions_saved = {saved:g} is not the number of positions "
                              f"{best!r} saves compared with 'fixed'.")
    return Feedback.right(f"Padding to max_length wastes {expected['fixed'][0]:.0%}, per batch "
                          f"{expected['per_batch'][0]:.0%}, per batch after sorting "
                          f"{expected['sorted'][0]:.0%}: sorting saves {gain:,} of "
                          f"{expected['fixed'][1]:,} positions. Sort only for evaluation or "
                          "group loosely (LengthGroupedSampler): training still wants random "
                          "batches.")


def borrowed_helper(function: Any, helpers: tuple[str, ...]) -> str | None:
    """Return the name of a course helper in ``helpers`` that ``function`` is or calls, else None.

    In the notebook it reads the function's code (the names it uses, nested functions included)
    and what those names are; in the grader's judge a submitted function is opaque bytes, and
    the helper's name appears in them when the function is, or refers to, that helper.
    """
    if getattr(function, "__name__", None) in helpers:
        return function.__name__
    blob = getattr(getattr(function, "answer", None), "blob", None)
    if isinstance(blob, bytes):
        return next((name for name in helpers if name.encode() in blob), None)
    code, scope = getattr(function, "__code__", None), dict(getattr(function, "__globals__", {}))
    if code is not None:  # names the function took from an enclosing function
        scope.update(zip(code.co_freevars, (c.cell_contents for c in function.__closure__ or ())))
    codes = [code] if code is not None else []
    while codes:
        current = codes.pop()
        for name in current.co_names + current.co_freevars:
            target = scope.get(name)
            if name in helpers or getattr(target, "__name__", None) in helpers and \
                    str(getattr(target, "__module__", "")).startswith("course_utils"):
                return name if name in helpers else target.__name__
        codes += [c for c in current.co_consts if hasattr(c, "co_names")]
    return None


NEW_LABEL_SETS = [[2, -1, 0, 1, 1, 2, -1, 0, 2, 1], [10, 9, -3, 9, 10], ["neg", "pos", "neg"],
                  [3, 1], ["b", "a", "c", "a"]]


def _reference_encoding(labels: list) -> tuple[list[int], dict[int, str]]:
    distinct = sorted(set(labels))
    return [distinct.index(label) for label in labels], {i: str(v) for i, v in enumerate(distinct)}


@exercise("03.2", lesson="03", names=["encode_new_labels"],
          hint="Section 3 explains why ids must run from 0 to K-1 and how they are ordered; keep "
               "the mapping both ways, since you need the reverse one to number the labels.")
def tweet_labels_become_contiguous_ids(encode_new_labels):
    """Encode any label set as ids 0..K-1 and keep the mapping, without encode_labels."""
    if not callable(encode_new_labels):
        return Feedback.not_a_function("encode_new_labels", encode_new_labels,
                                       "a list of labels")
    helper = borrowed_helper(encode_new_labels, ("encode_labels",))
    if helper:
        return Feedback.wrong(f"encode_new_labels uses the course's `{helper}`: this exercise asks "
                              "you to do its work yourself.")
    for labels in NEW_LABEL_SETS:
        expected_ids, expected_map = _reference_encoding(labels)
        result = encode_new_labels(list(labels))
        if not (isinstance(result, (list, tuple)) and len(result) == 2):
            return Feedback.wrong(f"encode_new_labels({labels}) should return two things: the ids "
                                  "and the id2label dict.")
        raw_ids, id2label = result
        try:
            ids = [int(i) for i in (raw_ids.tolist() if hasattr(raw_ids, "tolist") else raw_ids)]
        except (TypeError, ValueError):
            return Feedback.wrong(f"For {labels}, the ids should be a list of integers.")
        k = len(expected_map)
        if len(ids) != len(labels):
            return Feedback.wrong(f"For {labels} you gave {len(ids)} ids; give one per label.")
        if min(ids) < 0 or max(ids) >= k:
            return Feedback.wrong(f"For {labels} the ids run from {min(ids)} to {max(ids)}: with "
                                  f"{k} classes, CrossEntropyLoss reads an id as one of the "
                                  f"positions 0..{k - 1} of the logits.")
        if not isinstance(id2label, dict) or sorted(id2label, key=str) != sorted(range(k),
                                                                                   key=str):
            return Feedback.wrong(f"For {labels}, id2label should be a dict with the int keys "
                                  f"0..{k - 1}.")
        if any(not isinstance(key, int) for key in id2label):
            return Feedback.wrong("id2label has keys that are not ints; use int keys, as the "
                                  "model config does.")
        for position, (label, i) in enumerate(zip(labels, ids)):
            if str(id2label[i]) != str(label):
                return Feedback.wrong(f"For {labels}, label {label!r} (position {position}) got id "
                                      f"{i}, but id2label[{i}] is {id2label[i]!r}: the ids and the "
                                      "mapping disagree.")
        if {i: str(v) for i, v in id2label.items()} != expected_map:
            return Feedback.wrong(f"For {labels} the ids are consistent but not in sorted order "
                                  "of the labels (numbers numerically): id 0 should be the "
                                  "smallest label.")
    return Feedback.right(f"Your encoding holds on {len(NEW_LABEL_SETS)} label sets, numbers and "
                          "strings: ids 0..K-1 in sorted order, and a mapping to read predictions "
                          "back as the original labels.")


@exercise("03.3", lesson="03", names=["valid_dynamic_loader", "valid_dataset", "batch_size"],
          hint="Section 6 already has a function that tokenizes a split without padding and a "
               "collator that pads per batch; combine them as for the training loader, but with "
               "a sampler that keeps the order.")
def dynamic_validation_loader_matches_fixed(valid_dynamic_loader, valid_dataset, batch_size):
    """Build the validation loader the current way and get the same model inputs."""
    from ..batching import evaluation_loader, same_model_inputs

    problem = _loader_problem(valid_dynamic_loader, "valid_dynamic_loader")
    if problem:
        return problem
    problem = _order_problem(valid_dynamic_loader, "valid_dynamic_loader")
    if problem:
        return problem
    if valid_dynamic_loader.batch_size != batch_size:
        return Feedback.wrong(f"valid_dynamic_loader makes batches of "
                              f"{valid_dynamic_loader.batch_size}; use batch_size ({batch_size}).")
    if len(valid_dynamic_loader.dataset) != len(valid_dataset):
        return Feedback.wrong(f"valid_dynamic_loader reads {len(valid_dynamic_loader.dataset)} "
                              f"examples; the validation split has {len(valid_dataset)}: did you "
                              "tokenize another split?")
    try:
        first = next(iter(valid_dynamic_loader))
    except RuntimeError as err:  # default_collate cannot stack texts of different lengths
        return Feedback.wrong(f"Building a batch failed ({err}): texts of different lengths need "
                              "padding at batch time: pass collate_fn=DataCollatorWithPadding("
                              "tokenizer).")
    if not isinstance(first, Mapping) or "attention_mask" not in first:
        return Feedback.wrong("A batch should be a dict with input_ids, attention_mask and "
                              "labels: pass collate_fn=DataCollatorWithPadding(tokenizer).")
    if "labels" not in first:
        return Feedback.wrong("The batches have no labels: keep the label ids in a column "
                              "called labels (rename label_id).")
    lengths = first["attention_mask"].sum(dim=1)
    if first["input_ids"].shape[1] != int(lengths.max()):
        return Feedback.wrong(f"The first batch is {first['input_ids'].shape[1]} tokens wide but "
                              f"its longest text has {int(lengths.max())}: pad per batch "
                              "(padding=False in the tokenizer, the collator pads).")
    try:
        compared = same_model_inputs(evaluation_loader(valid_dataset, batch_size),
                                     valid_dynamic_loader)
    except AssertionError as err:
        return Feedback.wrong(f"The model would see other inputs than from valid_loader: {err} "
                              "Same split, same order, same max_length?")
    return Feedback.right(f"All {compared} validation texts give the model the same tokens and "
                          "masks as the fixed-length loader, with less padding.")


padding_recipe_that_wastes_least.kind = "judgement"  # counted in README's Homework section
