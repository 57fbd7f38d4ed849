"""Token tagging: first-letter labels, alignment schemes, the tagger, baselines (texts: corpora)."""

from __future__ import annotations

import string

import pytest
import torch
from transformers import DataCollatorForTokenClassification

from course_utils.corpora import hamlet_lines
from course_utils.tagging import (
    ID2LABEL,
    NUM_LABELS,
    TaggingError,
    TokenTagger,
    align_labels,
    encode_lines,
    first_letter_id,
    flat_labels,
    majority_baseline,
    per_label_accuracy,
    piece_kinds,
    predict_words,
)
from course_utils.training import IGNORE_INDEX

LONG_WORD_LINE = "The amridodgifier harpooneer sighted a whale."


@pytest.fixture(scope="module")
def hamlet(hamlet_txt):
    return hamlet_lines(hamlet_txt)


# ---------------------------------------------------------------- labels
def test_label_set_has_all_26_letters_and_zero():
    assert NUM_LABELS == 27 and ID2LABEL[0] == "0"
    assert [ID2LABEL[i] for i in range(1, 27)] == list(string.ascii_lowercase)


@pytest.mark.parametrize("word, label", [("whale", "w"), ("Xebec", "x"), ("yonder", "y"),
                                         ("Zounds", "z"), ("Ahab", "a"), ("Élan", "e"),
                                         ("'tis", "0"), ("42", "0"), (",", "0"), ("", "0")])
def test_first_letter_label(word, label):
    assert ID2LABEL[first_letter_id(word)] == label


def test_every_letter_is_reachable_through_the_tokenizer(tokenizer):
    line = " ".join(f"{letter}{'ortunate' if letter in 'aeiou' else 'ubble'}"
                    for letter in string.ascii_lowercase)
    features, _ = encode_lines(tokenizer, [line], scheme="first")
    assert set(features[0]["labels"]) - {0, IGNORE_INDEX} == set(range(1, 27))


@pytest.mark.parametrize("scheme", ["every", "first"])
def test_labels_match_tokens_and_specials_are_ignored(tokenizer, hamlet, scheme):
    lines, _ = hamlet
    features, report = encode_lines(tokenizer, lines[:300], scheme=scheme)
    assert report.examples == len(features) == 300 and report.empty_dropped == 0
    for feature in features:
        ids, labels = feature["input_ids"], feature["labels"]
        assert len(labels) == len(ids) == len(feature["attention_mask"])
        special = tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        assert all(y == IGNORE_INDEX for y, s in zip(labels, special) if s)
        if scheme == "every":
            assert all(y != IGNORE_INDEX for y, s in zip(labels, special) if not s)
        assert all(y in range(NUM_LABELS) or y == IGNORE_INDEX for y in labels)


def test_every_scheme_labels_each_subword_with_its_words_letter(tokenizer):
    (feature,), _ = encode_lines(tokenizer, [LONG_WORD_LINE], scheme="every")
    tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    assert IGNORE_INDEX not in feature["labels"][1:-1]
    pieces = [(t, ID2LABEL.get(y, "-100")) for t, y in zip(tokens, feature["labels"])]
    split = [label for token, label in pieces if token.startswith("##")]
    assert len(split) >= 3 and set(split) <= {"a", "h"}     # amridodgifier, harpooneer
    assert feature["labels"][0] == feature["labels"][-1] == IGNORE_INDEX     # [CLS], [SEP]
    assert ("whale", "w") in pieces and (".", "0") in pieces


def test_first_scheme_puts_minus_100_exactly_on_later_subwords_and_specials(tokenizer):
    encoding = tokenizer(LONG_WORD_LINE)
    (feature,), _ = encode_lines(tokenizer, [LONG_WORD_LINE], scheme="first")
    previous = None
    for word, label in zip(encoding.word_ids(), feature["labels"]):
        later_subword = word is not None and word == previous
        assert (label == IGNORE_INDEX) == (later_subword or word is None)
        previous = word


def test_align_labels_refuses_unknown_scheme_and_mismatched_words():
    with pytest.raises(TaggingError, match="'every' or 'first'"):
        align_labels([None, 0, None], [3], scheme="all")
    with pytest.raises(TaggingError, match="same encoding"):
        align_labels([None, 0, 1, None], [3], scheme="every")
    assert align_labels([None, 0, 0, 1, None], [3, 5], "first") == [-100, 3, -100, 5, -100]


def test_empty_lines_are_dropped_and_counted(tokenizer):
    features, report = encode_lines(tokenizer, ["", "   ", None, "To be"], scheme="every")
    assert len(features) == 1 and report.empty_dropped == 3 and report.lines == 4
    assert encode_lines(tokenizer, [], scheme="every")[1].examples == 0


@pytest.mark.parametrize("scheme", ["every", "first"])
def test_long_lines_are_split_into_windows_without_losing_tokens(tokenizer, scheme):
    line = " ".join(["amridodgifier whale"] * 60)           # 60 * 7 = 420 word pieces
    whole, _ = encode_lines(tokenizer, [line], scheme=scheme, max_length=1000)
    windows, report = encode_lines(tokenizer, [line], scheme=scheme, max_length=64)
    assert report.long_split == 1 and len(windows) == 7
    assert all(len(w["input_ids"]) <= 64 for w in windows)
    body = [t for w in windows for t in w["input_ids"][1:-1]]
    assert body == whole[0]["input_ids"][1:-1]
    assert [y for w in windows for y in w["labels"][1:-1]] == whole[0]["labels"][1:-1]
    assert all(w["input_ids"][0] == tokenizer.cls_token_id and w["labels"][0] == IGNORE_INDEX
               for w in windows)


def test_a_line_over_512_tokens_does_not_crash(tokenizer):
    features, report = encode_lines(tokenizer, ["whale " * 1200], scheme="every")
    assert report.long_split == 1 and all(len(f["input_ids"]) <= 512 for f in features)


def test_slow_tokenizer_is_refused_with_a_fix():
    class Slow:
        is_fast = False

    with pytest.raises(TaggingError, match="fast tokenizer"):
        encode_lines(Slow(), ["a line"])


# ---------------------------------------------------------------- model, batching, evaluation
@pytest.fixture(scope="module")
def tagger(minilm_dir):
    torch.manual_seed(0)
    return TokenTagger.from_pretrained(str(minilm_dir), freeze_encoder=True)


def test_tagger_gives_one_row_of_27_logits_per_token_and_ignores_padding(tagger, tokenizer):
    features, _ = encode_lines(tokenizer, ["Who's there?",
                                           "Nay, answer me: stand, and unfold yourself."])
    batch = DataCollatorForTokenClassification(tokenizer)(features)
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()
    tagger.eval()
    with torch.no_grad():
        output = tagger(**batch)
        single = tagger(input_ids=torch.tensor([features[0]["input_ids"]]))
    assert output.logits.shape == (2, batch["input_ids"].shape[1], NUM_LABELS)
    keep = batch["labels"] != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(output.logits[keep], batch["labels"][keep])
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    n = len(features[0]["input_ids"])        # padding changes nothing for the shorter line
    assert torch.allclose(output.logits[0, :n], single.logits[0], atol=1e-4)


def test_freezing_trains_only_the_head_and_keeps_encoder_dropout_off(tagger):
    tagger.freeze_encoder(True).train()
    trainable = {n for n, p in tagger.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    assert not tagger.encoder.training and tagger.head.training
    tagger.freeze_encoder(False)
    assert all(p.requires_grad for p in tagger.parameters()) and tagger.encoder.training
    tagger.freeze_encoder(True).eval()


def test_majority_baseline_and_per_label_accuracy():
    train = torch.tensor([0, 0, 0, 20, IGNORE_INDEX, 3])
    valid = torch.tensor([0, 20, 3, 0, IGNORE_INDEX])
    assert majority_baseline(train, valid) == (0, 0.5)
    table = per_label_accuracy([0, 20, 20, 1, 7], [0, 20, 3, 0, IGNORE_INDEX])
    assert table.loc["0", "tokens"] == 2 and table.loc["0", "accuracy"] == 0.5
    assert table.loc["t", "accuracy"] == 1.0 and table.loc["c", "accuracy"] == 0.0
    assert len(table) == 27 and table.loc["q", "tokens"] == 0
    with pytest.raises(TaggingError):
        majority_baseline(torch.tensor([IGNORE_INDEX]), valid)


def test_flat_labels_drops_ignored_positions(tokenizer):
    features, _ = encode_lines(tokenizer, [LONG_WORD_LINE], scheme="first")
    labels = flat_labels(features)
    assert IGNORE_INDEX not in labels.tolist()
    assert len(labels) == sum(y != IGNORE_INDEX for y in features[0]["labels"])


def test_predict_words_returns_one_letter_per_word(tagger, tokenizer):
    words = predict_words(tagger, tokenizer, "To be, or not to be: amridodgifier")
    assert [w for w, _ in words] == ["To", "be", ",", "or", "not", "to", "be", ":", "amridodgifier"]
    assert all(label in ID2LABEL.values() for _, label in words)
    assert predict_words(tagger, tokenizer, "   ") == []


def test_piece_kinds_name_every_token(tokenizer):
    kinds = piece_kinds(tokenizer, [LONG_WORD_LINE, "He."])
    (every,), _ = encode_lines(tokenizer, [LONG_WORD_LINE], scheme="every")
    tokens = tokenizer.convert_ids_to_tokens(every["input_ids"])
    assert len(kinds) == len(tokens) + 4
    assert [k for k, t in zip(kinds, tokens) if t.startswith("##")] == ["later piece"] * sum(
        t.startswith("##") for t in tokens)
    assert kinds[-4:] == ["special token", "first piece", "first piece", "special token"]
