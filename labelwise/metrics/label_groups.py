"""Scores per label-frequency group: frequent, few-shot and zero-shot labels (issues 12 and 13).

Large label sets are long-tailed, and an average over all labels hides how a model does on the
tail. Following the EURLEX57K benchmark (Chalkidis et al., 2019), labels are grouped by how many
training documents carry them: *frequent* (at least 50), *few* (1 to 49) and *zero* (none). A
group's scores use only that group's label columns and only the documents with at least one gold
label in the group, so "zero-shot R-Precision@5" asks: among the labels never seen in training,
does the model rank the right ones first?

R-Precision@k divides the hits among the k best-ranked labels by min(k, R), R the document's
number of gold labels in the group, so a document with two gold labels can reach 1.0 at k = 5
(P@k cannot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .classification import multilabel_scores
from .ranking import _gains, _prepare, ndcg_at_k

__all__ = ["FREQUENT_MIN", "frequency_groups", "r_precision_at_k", "label_group_scores"]

#: A label with at least this many training documents is *frequent* (EURLEX57K's convention).
FREQUENT_MIN = 50


def frequency_groups(train_counts: Sequence[int], frequent_min: int = FREQUENT_MIN) -> dict[str, np.ndarray]:
    """Column indices of the frequent, few and zero groups.

    Args:
        train_counts: `[n_labels]` number of training documents carrying each label.
        frequent_min: the smallest count that makes a label frequent.

    Returns:
        `{"frequent": idx, "few": idx, "zero": idx}`, each a sorted int array (possibly empty).
    """
    counts = np.asarray(train_counts)
    if counts.ndim != 1:
        raise ValueError(f"train_counts must be 1-D (one count per label); got shape {counts.shape}.")
    if (counts < 0).any():
        raise ValueError(f"train_counts[{int(np.argmax(counts < 0))}] is negative.")
    if frequent_min < 1:
        raise ValueError(f"frequent_min must be >= 1; got {frequent_min}.")
    return {
        "frequent": np.flatnonzero(counts >= frequent_min),
        "few": np.flatnonzero((counts >= 1) & (counts < frequent_min)),
        "zero": np.flatnonzero(counts == 0),
    }


def r_precision_at_k(y_true, scores, k: int) -> float:
    """Mean R-Precision@k over documents with at least one gold label.

    Args:
        y_true: `[n_documents, n_labels]` gold indicators (0/1).
        scores: `[n_documents, n_labels]` label scores (only the order matters).
        k: the cut-off.

    Returns:
        The mean over documents of |top-k ∩ gold| / min(k, R); `nan` if no document has a gold label.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}.")
    true, ranking, _ = _prepare(y_true, scores)
    if true.shape[0] == 0:
        return math.nan
    hits = _gains(true, ranking)[:, :k].sum(axis=1)
    return float((hits / np.minimum(true.sum(axis=1), k)).mean())


def label_group_scores(
    y_true,
    scores,
    groups: Mapping[str, Sequence[int]],
    k: int = 5,
    threshold: float | None = 0.5,
) -> dict[str, float]:
    """R-Precision@k, nDCG@k (and micro-F1 at `threshold`) for each label group.

    Args:
        y_true: `[n_documents, n_labels]` gold indicators (0/1).
        scores: `[n_documents, n_labels]` probabilities (logits are fine when `threshold` is None).
        groups: group name -> label column indices, e.g. from `frequency_groups`.
        k: the cut-off of R-Precision@k and nDCG@k.
        threshold: predicted when `score >= threshold`, for micro-F1; None skips micro-F1.

    Returns:
        For each group `g`: `g_rp_at_<k>`, `g_ndcg_at_<k>`, `g_micro_f1` (unless threshold is None;
        over the group's columns and every document), `g_labels` (columns in the group) and
        `g_documents` (documents with a gold label in the group). Metrics of a group that no
        document exercises are `nan`.
    """
    true = np.asarray(y_true)
    score_matrix = np.asarray(scores, dtype=np.float64)
    if true.shape != score_matrix.shape or true.ndim != 2:
        raise ValueError(f"y_true has shape {true.shape} but scores has shape {score_matrix.shape}.")
    results: dict[str, float] = {}
    for name, columns in groups.items():
        columns = np.asarray(columns, dtype=np.int64)
        if columns.size and (columns.min() < 0 or columns.max() >= true.shape[1]):
            raise ValueError(f"Group {name!r} names column {int(columns.max())}, but there are {true.shape[1]} labels.")
        group_true, group_scores = true[:, columns], score_matrix[:, columns]
        documents = int((group_true.sum(axis=1) > 0).sum()) if columns.size else 0
        results[f"{name}_labels"] = int(columns.size)
        results[f"{name}_documents"] = documents
        if documents == 0:
            results[f"{name}_rp_at_{k}"] = math.nan
            results[f"{name}_ndcg_at_{k}"] = math.nan
            if threshold is not None:
                results[f"{name}_micro_f1"] = math.nan
            continue
        results[f"{name}_rp_at_{k}"] = r_precision_at_k(group_true, group_scores, k)
        results[f"{name}_ndcg_at_{k}"] = ndcg_at_k(group_true, group_scores, k)
        if threshold is not None:
            predicted = (group_scores >= threshold).astype(np.int8)
            results[f"{name}_micro_f1"] = multilabel_scores(group_true, predicted)["micro_f1"]
    return results
