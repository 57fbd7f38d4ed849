"""Checks for lesson 03 (your own data): padding recipes, label ids, a dynamic-padding loader.

Each check inspects the learner's objects, recomputes what they should hold, and says what
differs. Example::

    >>> evaluate("03.2", {"tweet_ids": [3, 0, 1, 2, 2, 3, 0, 1, 3, 2],  # doctest: +SKIP
    ...                   "tweet_id2label": {0: "-1", 1: "0", 2: "1", 3: "2"}})
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

# The source lesson's tweet labels: -1 (most negative) to 2 (most positive).
TWEET_LABELS = [2, -1, 0, 1, 1, 2, -1, 0, 2, 1]


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


@exercise("03.2", lesson="03", names=["tweet_ids", "tweet_id2label"],
          hint="Section 3 encodes the review labels the same way: the distinct labels, in "
               "sorted order, numbered from 0. Keep both directions of the mapping; the ids of "
               "the ten labels come from the reverse one.")
def tweet_labels_become_contiguous_ids(tweet_ids, tweet_id2label):
    """Encode the labels -1, 0, 1, 2 as ids 0..K-1 and keep the mapping."""
    try:
        ids = [int(i) for i in (tweet_ids.tolist() if hasattr(tweet_ids, "tolist") else tweet_ids)]
    except (TypeError, ValueError):
        return Feedback.wrong(f"`tweet_ids` should be a list of integers, not "
                              f"{type(tweet_ids).__name__}.")
    if len(ids) != len(TWEET_LABELS):
        return Feedback.wrong(f"`tweet_ids` has {len(ids)} entries; give one id per label "
                              f"({len(TWEET_LABELS)}).")
    k = len(set(TWEET_LABELS))
    if min(ids) < 0:
        return Feedback.wrong(f"`tweet_ids` contains {min(ids)}: CrossEntropyLoss reads a label "
                              f"as a position in the {k} logits, so ids must run from 0 to "
                              f"{k - 1}.")
    if max(ids) >= k:
        return Feedback.wrong(f"`tweet_ids` contains {max(ids)}, but with {k} classes the "
                              f"largest id is {k - 1}: the model's head has no logit {max(ids)}.")
    if not isinstance(tweet_id2label, dict):
        return Feedback.wrong(f"`tweet_id2label` should be a dict from id to label, not "
                              f"{type(tweet_id2label).__name__}.")
    if any(not isinstance(key, int) for key in tweet_id2label):
        return Feedback.wrong("`tweet_id2label` has keys that are not ints (e.g. strings); use "
                              "int keys (0, 1, ...) as the model config does.")
    if sorted(tweet_id2label, key=str) != sorted(range(k), key=str):
        return Feedback.wrong(f"`tweet_id2label` has keys {sorted(tweet_id2label, key=str)}; it "
                              f"needs exactly the ids 0..{k - 1}, as ints.")
    for position, (label, i) in enumerate(zip(TWEET_LABELS, ids)):
        if str(tweet_id2label[i]) != str(label):
            return Feedback.wrong(f"Label {label} (position {position}) got id {i}, but "
                                  f"tweet_id2label[{i}] is {tweet_id2label[i]!r}: the ids and the "
                                  "mapping disagree.")
    return Feedback.right(f"{k} classes, ids 0..{k - 1}, and a mapping to read predictions back "
                          "as the original labels.")


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
