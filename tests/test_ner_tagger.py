"""Transformer tagger on a tiny random BERT: it trains, saves a standard checkpoint, and predicts
spans whose character offsets index the raw text (no accuracy claims)."""

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, List, Value
from transformers import BertForTokenClassification, DataCollatorForTokenClassification, pipeline

from helpers import tiny_bert_checkpoint
from labelwise.ner.tagger import (
    build_token_classification_model,
    label_names_from_tags,
    predict_spans,
    predict_tags,
    split_sentences_and_words,
    tokenize_and_align,
)
from labelwise.training.tagger import train_tagger

LABELS = ["O", "B-ADR", "I-ADR"]
SENTENCES = [
    (["the", "patient", "had", "rash", "after", "the", "drug", "."], [0, 0, 0, 1, 0, 0, 0, 0]),
    (["severe", "nausea", "was", "induced", "by", "the", "drug", "."], [1, 2, 0, 0, 0, 0, 0, 0]),
    (["fever", "and", "pain", "were", "adverse", "reaction", "cases", "."], [1, 0, 1, 0, 0, 0, 0, 0]),
]


def _dataset(rows):
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=LABELS))})
    return Dataset.from_dict({"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]}, features=features)


def test_label_names_and_standard_model(tmp_path):
    assert label_names_from_tags([["O", "B-ADR", "I-ADR"], ["B-Drug"]]) == ["O", "B-ADR", "I-ADR", "B-Drug", "I-Drug"]
    model = build_token_classification_model(tiny_bert_checkpoint(tmp_path / "bert"), LABELS)
    assert type(model) is BertForTokenClassification
    assert model.config.id2label == {0: "O", 1: "B-ADR", 2: "I-ADR"} and model.config.label2id["I-ADR"] == 2


@pytest.mark.slow
def test_train_predict_spans_on_long_text(tmp_path):
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    train = _dataset(SENTENCES * 8)
    model, tokenizer = train_tagger(
        train, _dataset(SENTENCES), checkpoint, str(tmp_path / "out"),
        max_length=8, stride=2, num_train_epochs=3, per_device_train_batch_size=8,
        learning_rate=5e-3, logging_steps=1, disable_tqdm=True, use_cpu=True,
    )
    # Windows of 8 pieces split every sentence; the trained model has a lower loss than a fresh head.
    windows = tokenize_and_align(train, tokenizer, max_length=8, stride=2)
    assert len(windows) > len(train)
    collate = DataCollatorForTokenClassification(tokenizer)
    batch = collate([{k: windows[i][k] for k in ("input_ids", "attention_mask", "labels")} for i in range(8)])
    fresh = build_token_classification_model(checkpoint, LABELS)
    with torch.no_grad():
        assert model(**batch).loss < fresh(**batch).loss

    # Raw text far longer than one window: every word is tagged, spans map back to the text.
    text = "The patient had severe rash and fever after the drug; nausea and pain were induced. " * 4
    (spans,) = predict_spans(model, tokenizer, [text], max_length=8, stride=2)
    sentences = split_sentences_and_words(text)
    assert len(sentences) == 4 and sentences[0][0][-1] == "." and sentences[1][1][0][0] == 84
    offsets = [offset for _, sentence_offsets in sentences for offset in sentence_offsets]
    starts, ends = {s for s, _ in offsets}, {e for _, e in offsets}
    assert spans  # the trained tiny model finds some ADR (which ones is not claimed)
    for span in spans:
        assert text[span["start"] : span["end"]] == span["word"]
        assert span["start"] in starts and span["end"] in ends
        assert span["entity_group"] == "ADR" and 0.0 < span["score"] <= 1.0
    per_sentence = predict_tags(model, tokenizer, [w for w, _ in sentences], max_length=8, stride=2)
    assert [len(t) for t in per_sentence] == [len(w) for w, _ in sentences]
    # The span list is the IOB2 decoding of those word tags, sentence by sentence.
    n_spans = sum(
        tag == "B-ADR" or (tag == "I-ADR" and (i == 0 or tags[i - 1] == "O"))
        for tags in per_sentence for i, tag in enumerate(tags)
    )
    assert len(spans) == n_spans
    assert predict_spans(model, tokenizer, ["", "   "]) == [[], []]
    # A word with no piece at all (a control character the normaliser removes) is tagged O.
    assert tokenizer.tokenize("\x00") == []
    (tags,) = predict_tags(model, tokenizer, [["rash", "\x00", "fever"]])
    assert len(tags) == 3 and tags[1] == "O"

    # The saved checkpoint is a standard one: transformers' own pipeline runs it without custom code.
    tagger = pipeline("token-classification", model=str(tmp_path / "out"), aggregation_strategy="simple")
    output = tagger("the patient had rash")
    assert isinstance(output, list)
    assert all(item["entity_group"] == "ADR" for item in output)


def test_transformer_tagger_truncation_exists_before_fit():
    from labelwise.training.tagger import TransformerTagger

    tagger = TransformerTagger(backbone="default")
    assert tagger.truncation == {}  # set in __init__, filled per split by fit / predict


def test_crossval_tagger_trains_every_parameter_at_one_learning_rate():
    # The published ADE cross-validation used one learning rate for encoder and classifier (BioBERT's
    # NER script); routing the tagger through train.py's path must not give the classifier 1e-3.
    from labelwise.training.tagger import TransformerTagger

    assert TransformerTagger(backbone="default").training_args["head_learning_rate"] is None
    assert TransformerTagger(backbone="default", head_learning_rate=1e-3).training_args["head_learning_rate"] == 1e-3
