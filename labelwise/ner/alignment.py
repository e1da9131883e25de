"""Word <-> word-piece alignment, sliding windows, and word tags -> character spans.

Conventions used throughout `labelwise.ner`:

- A sentence is a list of words (`tokens`) with one IOB2 tag per word; word `i` covers the
  characters `offsets[i] = [start, end)` of the sentence text.
- Only the FIRST piece of a word carries its label; the remaining pieces and the special tokens
  get -100, which `torch.nn.CrossEntropyLoss` ignores. A word's prediction is read from its first
  piece, so words -> pieces -> words is lossless.
- A sentence whose pieces do not fit into `max_length` (special tokens included) is cut into
  overlapping windows of whole words. After prediction every word takes its label from the one
  window in which it sits farthest from an edge (most context on both sides), so each word gets
  exactly one prediction. The only truncation left is a single word longer than a whole window:
  its extra pieces are dropped (its first piece, and so its label, is kept) and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

IGNORE_INDEX = -100
"""Label of pieces that are not scored (special tokens, non-first pieces of a word)."""

DEFAULT_MAX_LENGTH = 150
"""Pieces per window including special tokens: the BioBERT ADR paper's maximum sequence length."""

DEFAULT_STRIDE = 32
"""Pieces of overlap (context) shared by consecutive windows of one sentence."""

T = TypeVar("T")

__all__ = [
    "IGNORE_INDEX",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_STRIDE",
    "plan_windows",
    "align_labels",
    "first_piece_values",
    "merge_windows",
    "tags_to_spans",
]


def plan_windows(piece_counts: Sequence[int], max_pieces: int, stride: int = DEFAULT_STRIDE) -> list[tuple[int, int]]:
    """Cut a sentence into overlapping word ranges whose pieces fit into `max_pieces`.

    Args:
        piece_counts: number of word pieces of each word (special tokens excluded).
        max_pieces: pieces available per window, i.e. `max_length - tokenizer.num_special_tokens_to_add()`.
        stride: pieces of overlap wanted between consecutive windows (whole words, so the real
            overlap is at most `stride` pieces and at least one word fewer).

    Returns:
        `[(word_start, word_end), ...]` covering every word, in order; `[(0, 0)]` for an empty
        sentence. A word with more than `max_pieces` pieces gets a window of its own.
    """
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be >= 1, got {max_pieces} (is max_length smaller than the special tokens?).")
    if not 0 <= stride < max_pieces:
        raise ValueError(f"stride must be in [0, max_pieces={max_pieces}), got {stride}.")
    n_words = len(piece_counts)
    if n_words == 0:
        return [(0, 0)]
    windows: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n_words and used + min(piece_counts[end], max_pieces) <= max_pieces:
            used += min(piece_counts[end], max_pieces)
            end += 1
        if end == start:  # cannot happen (one clipped word always fits), kept as a guard against loops
            end = start + 1
        windows.append((start, end))
        if end >= n_words:
            return windows
        # Step back from `end` while the overlap stays within `stride` pieces, but always advance.
        next_start, overlap = end, 0
        while next_start - 1 > start and overlap + piece_counts[next_start - 1] <= stride:
            next_start -= 1
            overlap += piece_counts[next_start]
        start = next_start


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int], word_start: int = 0) -> list[int]:
    """Piece labels for one encoded window: the word's label on its first piece, -100 elsewhere.

    Args:
        word_ids: the window encoding's `word_ids()` (None for special tokens), indices into the
            window's words.
        word_labels: label ids of the whole sentence.
        word_start: index of the window's first word in the sentence.

    Returns:
        One label per piece, `len(word_ids)` long.
    """
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None or word_id == previous:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(int(word_labels[word_start + word_id]))
        previous = word_id
    return labels


def first_piece_values(word_ids: Sequence[int | None], piece_values: Sequence[T]) -> dict[int, T]:
    """Map each word of a window to the value (prediction, score, ...) at its first piece.

    Returns `{word index in the window: value}`; words whose pieces were all truncated are absent.
    """
    values: dict[int, T] = {}
    for word_id, value in zip(word_ids, piece_values):
        if word_id is not None and word_id not in values:
            values[word_id] = value
    return values


def merge_windows(windows: Sequence[tuple[int, int]], window_values: Sequence[dict[int, T]], n_words: int, default: T) -> list[T]:
    """Give each word of a sentence the value from the window where it has the most context.

    Args:
        windows: the sentence's `(word_start, word_end)` ranges, from `plan_windows`.
        window_values: per window, `{word index within the window: value}` (`first_piece_values`).
        n_words: number of words in the sentence.
        default: value for a word that no window predicted (cannot happen with `plan_windows`).

    Returns:
        `n_words` values. Ties go to the earlier window.
    """
    merged: list[T] = [default] * n_words
    best_margin = [-1] * n_words
    for (start, end), values in zip(windows, window_values):
        for local, value in values.items():
            word = start + local
            margin = min(word - start, end - 1 - word)
            if margin > best_margin[word]:
                merged[word], best_margin[word] = value, margin
    return merged


def tags_to_spans(
    tags: Sequence[str],
    offsets: Sequence[Sequence[int]],
    text: str,
    scores: Sequence[float] | None = None,
) -> list[dict]:
    """Turn per-word IOB2 tags into character spans.

    A span opens at `B-X`, or at an `I-X` that does not continue an `X` span (a model may emit
    one; dropping it would hide a detection from the user), and continues over `I-X`.

    Args:
        tags: one tag per word.
        offsets: `[start, end)` of each word in `text`.
        text: the text the offsets index.
        scores: optional per-word probability of its tag; a span's score is the mean over its
            words (as the `simple` aggregation of the transformers pipeline averages pieces).

    Returns:
        `[{"entity_group", "start", "end", "word", "score"}]`, `word == text[start:end]`.
    """
    if len(tags) != len(offsets):
        raise ValueError(f"{len(tags)} tags but {len(offsets)} word offsets.")
    spans: list[dict] = []
    current: dict | None = None
    for index, tag in enumerate(tags):
        kind, _, label = tag.partition("-")
        continues = current is not None and kind == "I" and label == current["entity_group"]
        if current is not None and not continues:
            spans.append(current)
            current = None
        if kind in ("B", "I") and not continues:
            current = {"entity_group": label, "start": int(offsets[index][0]), "end": int(offsets[index][1]), "_scores": []}
        if current is not None:
            current["end"] = int(offsets[index][1])
            current["_scores"].append(1.0 if scores is None else float(scores[index]))
    if current is not None:
        spans.append(current)
    for span in spans:
        span_scores = span.pop("_scores")
        span["word"] = text[span["start"] : span["end"]]
        span["score"] = sum(span_scores) / len(span_scores)
    return spans
