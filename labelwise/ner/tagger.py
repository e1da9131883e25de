"""Transformer ADR tagger: transformers' standard token-classification model, word-aligned.

The model is `AutoModelForTokenClassification` (for a BERT checkpoint: `BertForTokenClassification`)
with `id2label`/`label2id` set, so a saved checkpoint runs in the Hub widget and in
`pipeline("token-classification")` without custom code. What this module adds is the word
handling around it (see `labelwise.ner.alignment`): first-piece labels, overlapping windows for
sentences longer than `max_length`, one prediction per word, character-offset spans for raw text.

Training is not here: `labelwise.training.tagger` (`train_tagger`, and `TransformerTagger` for
cross-validation) trains through `train.py`'s own path, which reads the model kinds, which read this
module; this module therefore imports neither the kinds nor training (docs/DEVELOPING.md, "Layers").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
from datasets import Dataset
from tqdm.auto import tqdm
from transformers import AutoModelForTokenClassification, PreTrainedModel, PreTrainedTokenizerBase

from labelwise.backbone import resolve_backbone
from .alignment import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_STRIDE,
    IGNORE_INDEX,
    align_labels,
    first_piece_values,
    merge_windows,
    plan_windows,
    tags_to_spans,
)

logger = logging.getLogger(__name__)

__all__ = [
    "build_token_classification_model",
    "label_names_from_tags",
    "encode_windows",
    "tokenize_and_align",
    "truncation_report",
    "window_metrics",
    "predict_word_labels",
    "predict_tags",
    "split_sentences_and_words",
    "predict_spans",
]


def build_token_classification_model(backbone: str, label_names: Sequence[str]) -> PreTrainedModel:
    """Load `backbone` (Hub id, folder or "default") with a fresh token-classification head.

    Returns transformers' standard class for the checkpoint's architecture
    (`BertForTokenClassification` for BERT), with `id2label`/`label2id` from `label_names`.
    """
    label_names = list(label_names)
    if len(set(label_names)) != len(label_names):
        raise ValueError(f"label_names has duplicates: {label_names}")
    return AutoModelForTokenClassification.from_pretrained(
        resolve_backbone(backbone),
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: index for index, name in enumerate(label_names)},
    )


def label_names_from_tags(tags_list: Sequence[Sequence[str]]) -> list[str]:
    """IOB2 label list for the entity types in `tags_list`: "O", then B-/I- of each type, sorted."""
    types = sorted({tag[2:] for tags in tags_list for tag in tags if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]


def encode_windows(
    tokens_list: Sequence[Sequence[str]],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    labels_list: Sequence[Sequence[int]] | None = None,
    example_indices: Sequence[int] | None = None,
) -> list[dict]:
    """Encode sentences (lists of words) as model windows of at most `max_length` pieces.

    Returns one dict per window: `input_ids`, `attention_mask` (and `token_type_ids` when the
    tokenizer makes them), `word_ids` (index of the word within the window per piece, -1 for
    special tokens), `example_index`, `word_start`, `word_end`, `truncated_pieces` (pieces of an
    over-long word that did not fit) and, with `labels_list`, `labels` (first piece labelled,
    -100 elsewhere). Empty sentences produce no window.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("encode_windows needs a fast tokenizer (it uses word_ids()).")
    max_pieces = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if example_indices is None:
        example_indices = range(len(tokens_list))
    if len(example_indices) != len(tokens_list) or (labels_list is not None and len(labels_list) != len(tokens_list)):
        raise ValueError("tokens_list, labels_list and example_indices must have the same length.")
    # Pass 1: pieces per word, without special tokens and without truncation.
    nonempty = [position for position, tokens in enumerate(tokens_list) if len(tokens)]
    if not nonempty:
        return []
    full = tokenizer([list(tokens_list[p]) for p in nonempty], is_split_into_words=True, add_special_tokens=False)
    window_meta, window_words = [], []
    for row_in_batch, position in enumerate(nonempty):
        tokens = list(tokens_list[position])
        if labels_list is not None and len(labels_list[position]) != len(tokens):
            raise ValueError(
                f"example {example_indices[position]}: {len(tokens)} tokens but {len(labels_list[position])} labels."
            )
        counts = [0] * len(tokens)
        for word_id in full.word_ids(row_in_batch):
            if word_id is not None:
                counts[word_id] += 1
        for start, end in plan_windows(counts, max_pieces, stride):
            window_meta.append((position, start, end, sum(counts[start:end])))
            window_words.append(tokens[start:end])
    # Pass 2: encode each window with special tokens; truncation only bites on a word longer than a window.
    encoded = tokenizer(window_words, is_split_into_words=True, truncation=True, max_length=max_length)
    rows = []
    for window, (position, start, end, n_pieces) in enumerate(window_meta):
        word_ids = encoded.word_ids(window)
        row = {key: encoded[key][window] for key in encoded.keys()}
        row.update(
            word_ids=[-1 if word_id is None else word_id for word_id in word_ids],
            example_index=int(example_indices[position]),
            word_start=start,
            word_end=end,
            truncated_pieces=n_pieces - sum(1 for word_id in word_ids if word_id is not None),
        )
        if labels_list is not None:
            row["labels"] = align_labels(word_ids, labels_list[position], start)
        rows.append(row)
    return rows


def tokenize_and_align(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    label_column: str | None = "ner_tags",
) -> Dataset:
    """Turn a word-level NER dataset (`tokens`, `ner_tags` ids) into a dataset of model windows.

    One sentence gives one row, or several overlapping rows when its pieces exceed `max_length`.
    Columns are those of `encode_windows`; `example_index` is the sentence's row in `dataset`.
    With `label_column=None` (or a dataset without that column) no `labels` are made.
    A warning reports any pieces lost to truncation (see `truncation_report`).
    """
    if "tokens" not in dataset.column_names:
        raise ValueError(f"tokenize_and_align needs a 'tokens' column; the dataset has {dataset.column_names}.")
    use_labels = label_column is not None and label_column in dataset.column_names

    def encode(batch: dict, indices: list[int]) -> dict:
        rows = encode_windows(
            batch["tokens"], tokenizer, max_length, stride,
            labels_list=batch[label_column] if use_labels else None, example_indices=indices,
        )
        if rows:
            keys = list(rows[0])
        else:  # a batch of empty sentences must still produce the columns of the other batches
            keys = list(tokenizer.model_input_names) + ["word_ids", "example_index", "word_start", "word_end", "truncated_pieces"]
            keys += ["labels"] if use_labels else []
        return {key: [row[key] for row in rows] for key in keys}

    windows = dataset.map(
        encode, batched=True, with_indices=True, remove_columns=dataset.column_names, desc="Encoding windows"
    )
    report = truncation_report(windows)
    if report["truncated_pieces"]:
        logger.warning(
            "%d pieces in %d windows did not fit into max_length=%d (a single word longer than a window); "
            "those words keep their first piece and label.",
            report["truncated_pieces"], report["truncated_windows"], max_length,
        )
    return windows


def truncation_report(windows: Dataset | Sequence[dict]) -> dict[str, int]:
    """Counts for encoded windows: sentences, windows, sentences split, pieces lost to truncation."""
    if len(windows) == 0:
        rows = []
    elif isinstance(windows, Dataset):
        rows = windows.select_columns(["example_index", "truncated_pieces"])
    else:
        rows = windows
    examples: dict[int, int] = {}
    truncated_pieces = truncated_windows = 0
    for row in rows:
        examples[row["example_index"]] = examples.get(row["example_index"], 0) + 1
        truncated_pieces += row["truncated_pieces"]
        truncated_windows += row["truncated_pieces"] > 0
    return {
        "sentences": len(examples),
        "windows": sum(examples.values()),
        "sentences_split": sum(count > 1 for count in examples.values()),
        "truncated_windows": int(truncated_windows),
        "truncated_pieces": int(truncated_pieces),
    }


def window_metrics(label_names: list[str]):
    """`compute_metrics` for the Trainer: entity P/R/F1 over encoded windows (first pieces)."""
    from labelwise.metrics.entities import entity_scores

    def compute(eval_prediction) -> dict[str, float]:
        # Window-level first-piece scores: a quick training signal. Cross-validation scores merged
        # windows per sentence with `predict_tags` instead.
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        predictions = logits.argmax(-1)
        gold, pred = [], []
        for row_pred, row_gold in zip(predictions, labels):
            keep = row_gold != IGNORE_INDEX
            gold.append([label_names[i] for i in row_gold[keep]])
            pred.append([label_names[i] for i in row_pred[keep]])
        scores = entity_scores(gold, pred)
        return {"precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"]}

    return compute


@torch.no_grad()
def predict_word_labels(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    tokens_list: Sequence[Sequence[str]],
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 32,
    show_progress: bool = False,
) -> tuple[list[list[int]], list[list[float]]]:
    """Predict one label id and its probability for every word of every sentence.

    Windows are sorted by length before batching (less padding); each word takes the prediction of
    its first piece in the window where it has the most context.

    Returns:
        `(label_ids, probabilities)`, each a list per sentence with one entry per word.
    """
    rows = encode_windows(tokens_list, tokenizer, max_length, stride)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    per_window: list[dict[int, tuple[int, float]]] = [{} for _ in rows]
    model_keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if rows and key in rows[0]]
    batches = range(0, len(order), batch_size)
    for begin in tqdm(batches, desc="Tagging", disable=not show_progress, total=math.ceil(len(order) / batch_size)):
        batch_ids = order[begin : begin + batch_size]
        batch = tokenizer.pad([{key: rows[i][key] for key in model_keys} for i in batch_ids], return_tensors="pt")
        logits = model(**{key: value.to(device) for key, value in batch.items()}).logits  # (batch, pieces, labels)
        probabilities, labels = logits.float().softmax(-1).max(-1)  # (batch, pieces) each
        for row_in_batch, i in enumerate(batch_ids):
            word_ids = [None if w < 0 else w for w in rows[i]["word_ids"]]
            n = len(word_ids)
            values = list(zip(labels[row_in_batch, :n].tolist(), probabilities[row_in_batch, :n].tolist()))
            per_window[i] = first_piece_values(word_ids, values)
    model.train(was_training)
    by_example: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_example.setdefault(row["example_index"], []).append(i)
    # A word the tokenizer turns into no piece at all (e.g. a lone control or zero-width
    # character) cannot be predicted; it gets "O" with score 0 and is counted.
    outside = model.config.label2id.get("O", 0)
    label_ids, scores, pieceless = [], [], 0
    for index, tokens in enumerate(tokens_list):
        windows = by_example.get(index, [])
        merged = merge_windows(
            [(rows[i]["word_start"], rows[i]["word_end"]) for i in windows],
            [per_window[i] for i in windows],
            len(tokens),
            default=(None, 0.0),
        )
        pieceless += sum(label is None for label, _ in merged)
        label_ids.append([outside if label is None else label for label, _ in merged])
        scores.append([score for _, score in merged])
    if pieceless:
        logger.warning("%d words produced no word piece and were tagged 'O' with score 0.", pieceless)
    return label_ids, scores


def predict_tags(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    tokens_list: Sequence[Sequence[str]],
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 32,
    show_progress: bool = False,
) -> list[list[str]]:
    """Predicted tag names (`model.config.id2label`) for every word; see `predict_word_labels`."""
    label_ids, _ = predict_word_labels(model, tokenizer, tokens_list, max_length, stride, batch_size, show_progress)
    id2label = model.config.id2label
    return [[id2label[label] for label in labels] for labels in label_ids]


def split_sentences_and_words(text: str) -> list[tuple[list[str], list[tuple[int, int]]]]:
    """Sentences of `text` as `(words, offsets)`, offsets into `text`.

    Uses the corpus builders' own sentence splitter and NLTK word tokenizer
    (`labelwise.data_scripts.ner_utils`), so raw text is cut into the same kind of words the
    tagger was trained on.
    """
    from labelwise.data_scripts.ner_utils import sentence_spans, tokenize

    sentences = []
    for start, end in sentence_spans(text):
        words, offsets = tokenize(text[start:end])
        sentences.append((words, [(start + s, start + e) for s, e in offsets]))
    return sentences


def predict_spans(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 32,
    show_progress: bool = False,
) -> list[list[dict]]:
    """Entity spans with character offsets for raw texts of any length.

    Each text is split into sentences and words as the corpus builders do
    (`split_sentences_and_words`), every word is tagged exactly as in training (first piece;
    overlapping windows for sentences beyond `max_length` pieces), and the IOB2 tags are decoded
    into spans (a stray `I-` opens a span rather than being dropped).

    Returns:
        Per text, `[{"entity_group", "score", "word", "start", "end"}]` (the keys of
        `pipeline("token-classification", aggregation_strategy="simple")`), with
        `text[start:end] == word` and `score` the mean probability of the span's word tags.
    """
    sentences = [(index, words, offsets) for index, text in enumerate(texts) for words, offsets in split_sentences_and_words(text)]
    label_ids, scores = predict_word_labels(
        model, tokenizer, [words for _, words, _ in sentences], max_length, stride, batch_size, show_progress
    )
    id2label = model.config.id2label
    results: list[list[dict]] = [[] for _ in texts]
    for (index, _, offsets), labels, word_scores in zip(sentences, label_ids, scores):
        results[index].extend(tags_to_spans([id2label[label] for label in labels], offsets, texts[index], word_scores))
    return results
