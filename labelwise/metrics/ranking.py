"""Ranking metrics for large multi-label and hierarchical label sets (layer-wise paper, appendix C).

R-Precision (Manning et al., 2009) is Precision@R where R is the number of gold labels of the
document: the share of gold labels among the R highest-scored labels.

Conventions, shared by every function here:

- Documents without any gold label (in the columns scored) are left out of the mean, as in the
  paper's per-level evaluation: R = 0 makes R-Precision undefined, and a document that has no
  label at, say, level 5 says nothing about the level-5 classifier. P@k and nDCG@k use the same
  document set so the figures of one evaluation are comparable.
- When no document has a gold label the metric is `nan` (not 0): nothing was measured.
- Ties in scores are broken by label index (the lower column wins), so results are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .classification import _as_binary_matrix, multilabel_scores

__all__ = ["r_precision", "precision_at_k", "ndcg_at_k", "hierarchical_scores"]


def _prepare(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs; return gold matrix, label ranking `[n, L]` (best first) and the kept rows."""
    true = _as_binary_matrix(y_true, "y_true")
    score_matrix = np.asarray(scores, dtype=np.float64)
    if score_matrix.shape != true.shape:
        raise ValueError(f"y_true has shape {true.shape} but scores has shape {score_matrix.shape}.")
    if np.isnan(score_matrix).any():
        row, column = np.argwhere(np.isnan(score_matrix))[0]
        raise ValueError(f"scores[{row}, {column}] is NaN.")
    kept = true.sum(axis=1) > 0
    # Stable sort on the negated scores: descending order, ties keep the lower label index first.
    ranking = np.argsort(-score_matrix[kept], axis=1, kind="stable")
    return true[kept], ranking, kept


def _gains(true: np.ndarray, ranking: np.ndarray) -> np.ndarray:
    """`[n, L]` 0/1 relevance of the label at each rank position."""
    return np.take_along_axis(true, ranking, axis=1)


def r_precision(y_true, scores) -> float:
    """Mean R-Precision over documents with at least one gold label.

    Args:
        y_true: `[n_documents, n_labels]` gold indicators (0/1).
        scores: `[n_documents, n_labels]` label scores (probabilities or logits; only the order matters).

    Returns:
        The mean over documents of |top-R ∩ gold| / R, R = the document's number of gold labels;
        `nan` if no document has a gold label.
    """
    true, ranking, _ = _prepare(y_true, scores)
    if true.shape[0] == 0:
        return math.nan
    gains = _gains(true, ranking)
    n_gold = true.sum(axis=1)
    positions = np.arange(true.shape[1])[None, :]
    hits = (gains * (positions < n_gold[:, None])).sum(axis=1)
    return float((hits / n_gold).mean())


def precision_at_k(y_true, scores, k: int) -> float:
    """Mean Precision@k (|top-k ∩ gold| / k) over documents with at least one gold label.

    The denominator is always k, even when a document has fewer than k gold labels (standard
    P@k; this is what R-Precision corrects). `nan` if no document has a gold label.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}.")
    true, ranking, _ = _prepare(y_true, scores)
    if true.shape[0] == 0:
        return math.nan
    hits = _gains(true, ranking)[:, :k].sum(axis=1)
    return float((hits / k).mean())


def ndcg_at_k(y_true, scores, k: int) -> float:
    """Mean binary nDCG@k over documents with at least one gold label.

    DCG@k = sum over ranks i = 1..k of rel_i / log2(i + 1); the ideal DCG puts the document's
    min(k, R) gold labels first. `nan` if no document has a gold label.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}.")
    true, ranking, _ = _prepare(y_true, scores)
    if true.shape[0] == 0:
        return math.nan
    cutoff = min(k, true.shape[1])
    discounts = 1.0 / np.log2(np.arange(2, cutoff + 2))
    dcg = (_gains(true, ranking)[:, :cutoff] * discounts).sum(axis=1)
    ideal_counts = np.minimum(true.sum(axis=1), cutoff)
    ideal = np.cumsum(discounts)[ideal_counts - 1]
    return float((dcg / ideal).mean())


def hierarchical_scores(
    y_true,
    scores,
    label_levels: Sequence[int],
    threshold: float | np.ndarray = 0.5,
    k_values: Iterable[int] = (1, 5, 10),
) -> dict[str, float]:
    """Per-level and overall scores for hierarchical multi-label classification (paper Table 1).

    Args:
        y_true: `[n_documents, n_labels]` gold indicators (0/1), ancestors included if the
            evaluation augments labels with their ancestors.
        scores: `[n_documents, n_labels]` probabilities (the thresholded metrics compare them with
            `threshold`, so pass sigmoid outputs, not logits).
        label_levels: the hierarchy level of each column (length n_labels), e.g. 1..6.
        threshold: a label is predicted when its score is `>= threshold` (for the F1 metrics); one
            probability, or a `[n_labels]` array of per-label thresholds.
        k_values: the k of P@k and nDCG@k.

    Returns:
        `rp_level_<n>` for each level n (only that level's columns, only documents with a gold
        label at that level), `rp_micro` (all levels as one flat label set), `rp_macro` (mean of
        the defined per-level values), `p_at_<k>`, `ndcg_at_<k>` (flat), and `micro_f1`,
        `macro_f1` (flat, at `threshold`; see `multilabel_scores` for their conventions).
    """
    score_matrix = np.asarray(scores, dtype=np.float64)
    levels = np.asarray(label_levels)
    if levels.ndim != 1 or score_matrix.ndim != 2 or levels.shape[0] != score_matrix.shape[1]:
        raise ValueError(
            f"label_levels has {levels.shape[0] if levels.ndim == 1 else levels.shape} entries but scores "
            f"has shape {score_matrix.shape}; expected one level per label column."
        )
    results: dict[str, float] = {}
    per_level = []
    for level in sorted(set(levels.tolist())):
        columns = levels == level
        value = r_precision(np.asarray(y_true)[:, columns], score_matrix[:, columns])
        results[f"rp_level_{level}"] = value
        if not math.isnan(value):
            per_level.append(value)
    results["rp_micro"] = r_precision(y_true, score_matrix)
    results["rp_macro"] = float(np.mean(per_level)) if per_level else math.nan
    for k in k_values:
        results[f"p_at_{k}"] = precision_at_k(y_true, score_matrix, k)
        results[f"ndcg_at_{k}"] = ndcg_at_k(y_true, score_matrix, k)
    thresholded = multilabel_scores(y_true, (score_matrix >= threshold).astype(np.int8))
    results["micro_f1"] = thresholded["micro_f1"]
    results["macro_f1"] = thresholded["macro_f1"]
    return results
