"""Scores of word-level explanations: plausibility against a gold rationale, ERASER faithfulness.

Plain functions over NumPy arrays; `labelwise.explain` runs models and feeds them.

Plausibility (one document, one label): `scores[i]` is the explanation's weight of word `i`,
`gold[i]` whether a human marked word `i` as evidence for the label.
- `auprc`: average precision of the words ranked by score (1 for a perfect ranking; about the
  share of gold words for a random one).
- `precision_recall_at`: precision and recall of the top `fraction` of words.

Faithfulness (DeYoung et al., 2020, ERASER): `predict` maps keep-masks over the words to the
label's probability for the text made of the kept words.
- comprehensiveness at k: p(full text) - p(text without its top-k% words); higher is more faithful.
- sufficiency at k: p(full text) - p(only its top-k% words); lower is more faithful.
- the area over k (ERASER's AOPC): the mean of a curve over the k values.

Ties in the scores are broken by word position (earlier first), so every function is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20)
"""ERASER's k values as fractions of a document's words (1, 5, 10 and 20%)."""


def top_count(num_words: int, fraction: float) -> int:
    """How many words the top `fraction` holds: rounded up, at least one (a 1% cut of a short text is one word)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if num_words <= 0:
        raise ValueError("a document needs at least one word")
    return max(1, min(num_words, math.ceil(fraction * num_words - 1e-9)))


def ranking(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Word indices from the highest score down; equal scores keep document order."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.argsort(-scores, kind="stable")


def top_mask(scores: Sequence[float] | np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the top `fraction` of words by score."""
    order = ranking(scores)
    mask = np.zeros(len(order), dtype=bool)
    mask[order[: top_count(len(order), fraction)]] = True
    return mask


def _check_pair(scores, gold) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    gold = np.asarray(gold, dtype=bool)
    if scores.shape != gold.shape or scores.ndim != 1:
        raise ValueError(f"scores and gold must be 1-d and of one length, got {scores.shape} and {gold.shape}")
    if not gold.any():
        raise ValueError("the gold rationale marks no word; plausibility is undefined")
    return scores, gold


def auprc(scores: Sequence[float] | np.ndarray, gold: Sequence[bool] | np.ndarray) -> float:
    """Average precision of the words ranked by `scores` against the `gold` words.

    The mean, over the gold words, of the precision of the ranking cut just below each of them.
    """
    scores, gold = _check_pair(scores, gold)
    hits = gold[ranking(scores)]
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def precision_recall_at(
    scores: Sequence[float] | np.ndarray, gold: Sequence[bool] | np.ndarray, fraction: float
) -> tuple[float, float]:
    """Precision and recall of the top `fraction` of words against the `gold` words."""
    scores, gold = _check_pair(scores, gold)
    chosen = top_mask(scores, fraction)
    found = int((chosen & gold).sum())
    return found / int(chosen.sum()), found / int(gold.sum())


def plausibility(
    scores: Sequence[float] | np.ndarray, gold: Sequence[bool] | np.ndarray, fractions: Iterable[float] = FRACTIONS
) -> dict[str, float]:
    """`auprc`, and `precision@k` / `recall@k` for each k (keys use percent, e.g. `precision@10`)."""
    out = {"auprc": auprc(scores, gold)}
    for fraction in fractions:
        precision, recall = precision_recall_at(scores, gold, fraction)
        out[f"precision@{percent(fraction)}"] = precision
        out[f"recall@{percent(fraction)}"] = recall
    return out


def percent(fraction: float) -> str:
    """`0.05` -> `"5"`: the key suffix of a k value."""
    return f"{fraction * 100:g}"


def faithfulness(
    predict: Callable[[np.ndarray], np.ndarray],
    scores: Sequence[float] | np.ndarray,
    fractions: Iterable[float] = FRACTIONS,
) -> dict[str, float]:
    """ERASER comprehensiveness and sufficiency of one explanation of one label.

    Args:
        predict: `(n_masks, num_words)` boolean keep-masks -> `(n_masks,)` probabilities of the
            label for the text made of the kept words. Called once, with the full text first.
        scores: the explanation's weight of each word.
        fractions: the k values.

    Returns:
        `full` (the probability of the whole text), `comprehensiveness@k`, `sufficiency@k` for each
        k, and their areas over k, `comprehensiveness_area` and `sufficiency_area`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    fractions = list(fractions)
    tops = [top_mask(scores, fraction) for fraction in fractions]
    masks = np.stack([np.ones(len(scores), dtype=bool)] + [~top for top in tops] + tops)
    probabilities = np.asarray(predict(masks), dtype=np.float64)
    if probabilities.shape != (len(masks),):
        raise ValueError(f"predict returned shape {probabilities.shape} for {len(masks)} masks")
    full = probabilities[0]
    without = probabilities[1 : 1 + len(fractions)]
    only = probabilities[1 + len(fractions) :]
    out = {"full": float(full)}
    for fraction, removed, kept in zip(fractions, without, only):
        out[f"comprehensiveness@{percent(fraction)}"] = float(full - removed)
        out[f"sufficiency@{percent(fraction)}"] = float(full - kept)
    out["comprehensiveness_area"] = float(np.mean(full - without))
    out["sufficiency_area"] = float(np.mean(full - only))
    return out


def bootstrap_interval(
    values: Sequence[float] | np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (NaN for an empty sequence)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def summarise(
    records: Sequence[Mapping[str, object]], resamples: int = 1000, seed: int = 0
) -> dict[str, dict[str, dict[str, float]]]:
    """Per-label and micro-averaged means with bootstrap 95% intervals.

    Args:
        records: one per (document, label) pair: a `"label"` name and numeric metric values.

    Returns:
        `{"micro": {metric: {"mean", "low", "high", "n"}}, "per_label": {label: {metric: {...}}}}`;
        micro pools every (document, label) pair, so frequent labels weigh more.
    """
    def stats(rows: Sequence[Mapping[str, object]]) -> dict[str, dict[str, float]]:
        names = [key for key in rows[0] if key != "label" and isinstance(rows[0][key], (int, float))]
        out = {}
        for name in names:
            values = np.array([float(row[name]) for row in rows])
            low, high = bootstrap_interval(values, resamples, seed)
            out[name] = {"mean": float(values.mean()), "low": low, "high": high, "n": len(values)}
        return out

    if not records:
        return {"micro": {}, "per_label": {}}
    labels = sorted({str(row["label"]) for row in records})
    return {
        "micro": stats(records),
        "per_label": {label: stats([row for row in records if row["label"] == label]) for label in labels},
    }
