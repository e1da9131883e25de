"""Word/piece alignment, sliding windows and span decoding (labelwise.ner.alignment + encode_windows)."""

import pytest

from helpers import tiny_tokenizer
from labelwise.ner.alignment import (
    IGNORE_INDEX,
    first_piece_values,
    merge_windows,
    plan_windows,
    tags_to_spans,
)
from labelwise.ner.tagger import encode_windows, truncation_report


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_tokenizer(tmp_path_factory.mktemp("tok"))


# "doses" -> dose ##s, "reactioned" -> reaction ##ed: multi-piece words.
WORDS = ["the", "patient", "had", "doses", "of", "the", "drug", "and", "a", "severe", "reactioned", "rash", "."]
LABELS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 0]


def test_multi_piece_words_are_really_split(tokenizer):
    assert tokenizer.tokenize("doses reactioned") == ["dose", "##s", "reaction", "##ed"]


def test_round_trip_words_pieces_words(tokenizer):
    (row,) = encode_windows([WORDS], tokenizer, max_length=64, labels_list=[LABELS])
    word_ids = [None if w < 0 else w for w in row["word_ids"]]
    # Only first pieces carry a label; continuation pieces and [CLS]/[SEP] are ignored.
    assert row["labels"][0] == IGNORE_INDEX and row["labels"][-1] == IGNORE_INDEX
    assert sum(label != IGNORE_INDEX for label in row["labels"]) == len(WORDS)
    assert len(row["input_ids"]) == len(WORDS) + 2 + 2  # two extra ##pieces, two special tokens
    recovered = first_piece_values(word_ids, row["labels"])
    assert [recovered[i] for i in range(len(WORDS))] == LABELS
    assert row["truncated_pieces"] == 0


def test_plan_windows_hand_case():
    assert plan_windows([1] * 10, max_pieces=4, stride=2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert plan_windows([1] * 3, max_pieces=4, stride=2) == [(0, 3)]
    # A word with more pieces than a window gets a window of its own; the walk always advances.
    assert plan_windows([1, 9, 1], max_pieces=4, stride=3) == [(0, 1), (1, 2), (2, 3)]
    assert plan_windows([], max_pieces=4, stride=2) == [(0, 0)]
    with pytest.raises(ValueError, match="stride"):
        plan_windows([1], max_pieces=4, stride=4)


def test_merge_prefers_the_window_with_most_context():
    windows = [(0, 4), (2, 6)]
    values = [{i: f"w0:{i}" for i in range(4)}, {i: f"w1:{i}" for i in range(4)}]
    merged = merge_windows(windows, values, 6, default=None)
    # Word 2 is at the edge of window 0's right side (margin 1) and window 1's left edge (margin 0).
    # Word 3 is at window 0's last position (margin 0) and window 1's second (margin 1).
    assert merged == ["w0:0", "w0:1", "w0:2", "w1:1", "w1:2", "w1:3"]


def test_long_sentence_windows_merge_back_to_one_prediction_per_word(tokenizer):
    words = (WORDS * 3)[:35]
    labels = (LABELS * 3)[:35]
    rows = encode_windows([words, ["rash"]], tokenizer, max_length=10, stride=3, labels_list=[labels, [1]])
    long_rows = [row for row in rows if row["example_index"] == 0]
    assert len(long_rows) > 3
    assert all(len(row["input_ids"]) <= 10 for row in rows)
    # Consecutive windows overlap and together cover every word.
    spans = [(row["word_start"], row["word_end"]) for row in long_rows]
    assert spans[0][0] == 0 and spans[-1][1] == len(words)
    assert all(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    # Use each window's own labels as "predictions": merging must give back the sentence labels.
    per_window = [
        first_piece_values([None if w < 0 else w for w in row["word_ids"]], row["labels"]) for row in long_rows
    ]
    assert merge_windows(spans, per_window, len(words), default=None) == labels
    report = truncation_report(rows)
    assert report == {"sentences": 2, "windows": len(rows), "sentences_split": 1, "truncated_windows": 0, "truncated_pieces": 0}


def test_word_longer_than_a_window_is_truncated_and_counted(tokenizer):
    # max_length 4 leaves 2 pieces; "reactioned" has 2 pieces, "dosesed" (dose ##s ##ed) has 3.
    rows = encode_windows([["rash", "dosesed", "rash"]], tokenizer, max_length=4, stride=1, labels_list=[[1, 1, 0]])
    assert [(row["word_start"], row["word_end"]) for row in rows] == [(0, 1), (1, 2), (2, 3)]
    assert [row["truncated_pieces"] for row in rows] == [0, 1, 0]
    assert rows[1]["labels"] == [IGNORE_INDEX, 1, IGNORE_INDEX, IGNORE_INDEX]  # first piece keeps the label
    assert truncation_report(rows)["truncated_pieces"] == 1


def test_tags_to_spans_offsets_and_scores():
    text = "Severe rash and acute liver failure ."
    offsets = [(0, 6), (7, 11), (12, 15), (16, 21), (22, 27), (28, 35), (36, 37)]
    tags = ["B-ADR", "I-ADR", "O", "B-ADR", "I-ADR", "I-ADR", "O"]
    spans = tags_to_spans(tags, offsets, text, scores=[0.9, 0.7, 0.99, 0.6, 0.6, 0.9, 0.99])
    assert [(s["word"], s["start"], s["end"], s["entity_group"]) for s in spans] == [
        ("Severe rash", 0, 11, "ADR"),
        ("acute liver failure", 16, 35, "ADR"),
    ]
    assert spans[0]["score"] == pytest.approx(0.8) and spans[1]["score"] == pytest.approx(0.7)
    # A stray I- opens a span; B- right after a span closes it and opens another.
    spans = tags_to_spans(["O", "I-ADR", "B-ADR", "B-Drug", "I-ADR", "O", "O"], offsets, text)
    assert [(s["word"], s["entity_group"]) for s in spans] == [("rash", "ADR"), ("and", "ADR"), ("acute", "Drug"), ("liver", "ADR")]


def test_tokenize_and_align_dataset_columns_and_empty_sentences(tokenizer):
    from datasets import ClassLabel, Dataset, Features, List, Value

    from labelwise.ner.tagger import tokenize_and_align

    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=["O", "B-ADR", "I-ADR"]))})
    data = Dataset.from_dict({"tokens": [[], WORDS, []], "ner_tags": [[], LABELS, []]}, features=features)
    windows = tokenize_and_align(data, tokenizer, max_length=10, stride=3)
    assert set(windows["example_index"]) == {1}  # empty sentences make no window
    assert {"input_ids", "attention_mask", "labels", "word_start", "word_end"} <= set(windows.column_names)
    assert len(tokenize_and_align(data.select([0, 2]), tokenizer, max_length=10, stride=3)) == 0
