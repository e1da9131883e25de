"""Decision thresholds of multi-label classifiers, tuned on a validation split.

A sigmoid output of 0.5 is a sensible default only when the model's probabilities are calibrated
and positives are as costly to miss as negatives are to add. Neither holds for a model stopped
early on a few hundred documents, so the thresholds that maximise F1 on the validation split are
the usual remedy: one global threshold, or one per label (falling back to the global one where the
validation split cannot tell, i.e. a label without a positive document there).

Both functions scan a fixed grid of candidate thresholds. Where several candidates reach the best
score (a flat optimum), the middle one of that set is returned, so a tuned threshold does not sit
on the edge of the range it was chosen from.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_CANDIDATES", "tune_global_threshold", "tune_label_thresholds", "apply_thresholds"]

DEFAULT_CANDIDATES = np.round(np.arange(0.01, 1.0, 0.01), 2)
"""0.01, 0.02, ..., 0.99."""


def _check(targets, scores) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(targets)
    probabilities = np.asarray(scores, dtype=np.float64)
    if true.ndim != 2 or true.shape != probabilities.shape:
        raise ValueError(
            f"targets and scores must be 2-D arrays of one shape [n_documents, n_labels]; got "
            f"{true.shape} and {probabilities.shape}."
        )
    if true.shape[0] == 0:
        raise ValueError("No documents to tune thresholds on (0 rows).")
    if not np.isin(true, (0, 1)).all():
        raise ValueError("targets must be 0/1 indicators.")
    return true.astype(bool), probabilities


def _f1_by_candidate(true: np.ndarray, probabilities: np.ndarray, candidates: np.ndarray, axis) -> np.ndarray:
    """F1 for every candidate threshold: `(candidates,)` pooled (axis=None) or `(candidates, labels)`."""
    scores = []
    for threshold in candidates:
        predicted = probabilities >= threshold
        tp = (predicted & true).sum(axis=axis)
        fp = (predicted & ~true).sum(axis=axis)
        fn = (~predicted & true).sum(axis=axis)
        denominator = 2 * tp + fp + fn
        scores.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    return np.asarray(scores, dtype=np.float64)


def _middle_of_best(values: np.ndarray, candidates: np.ndarray) -> float:
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])


def tune_global_threshold(targets, scores, candidates=None) -> tuple[float, float]:
    """The single threshold that maximises micro-F1 (pooled over every document/label cell).

    Args:
        targets: `[n_documents, n_labels]` gold 0/1 indicators.
        scores: `[n_documents, n_labels]` probabilities.
        candidates: thresholds to try (default [`DEFAULT_CANDIDATES`]).

    Returns:
        `(threshold, micro_f1 at that threshold)`.
    """
    true, probabilities = _check(targets, scores)
    grid = DEFAULT_CANDIDATES if candidates is None else np.asarray(candidates, dtype=np.float64)
    f1 = _f1_by_candidate(true, probabilities, grid, axis=None)
    threshold = _middle_of_best(f1, grid)
    return threshold, float(f1.max())


def tune_label_thresholds(targets, scores, candidates=None, fallback: float | None = None) -> np.ndarray:
    """One threshold per label, each maximising that label's F1 on the given (validation) split.

    A label with no positive document in `targets` cannot be tuned (every threshold scores 0): it
    gets `fallback`, which defaults to the tuned global threshold.

    Returns:
        `(n_labels,)` thresholds.
    """
    true, probabilities = _check(targets, scores)
    grid = DEFAULT_CANDIDATES if candidates is None else np.asarray(candidates, dtype=np.float64)
    if fallback is None:
        fallback, _ = tune_global_threshold(true, probabilities, grid)
    f1 = _f1_by_candidate(true, probabilities, grid, axis=0)  # (candidates, labels)
    thresholds = np.full(true.shape[1], float(fallback))
    for label in np.flatnonzero(true.any(axis=0)):
        thresholds[label] = _middle_of_best(f1[:, label], grid)
    return thresholds


def apply_thresholds(scores, thresholds) -> np.ndarray:
    """0/1 predictions: `scores >= thresholds` (a float, or one value per label)."""
    probabilities = np.asarray(scores, dtype=np.float64)
    return (probabilities >= np.asarray(thresholds, dtype=np.float64)).astype(np.int8)
