"""Multi-label and multi-class classification scores (LAME, issue 6; thresholded layer-wise, issue 5).

Convention for undefined ratios (scikit-learn's `zero_division`, fixed at 0 here): a label that is
never predicted has precision 0, a label that never occurs in the gold standard has recall 0, and
F1 is 0 when precision + recall is 0. Macro F1 averages over all L labels, including labels
absent from both gold and predictions (those count as 0), so a model is not rewarded for labels
the evaluation set does not exercise; pass only the columns you want averaged to change that.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

__all__ = ["multilabel_scores", "multiclass_scores"]


def _as_binary_matrix(array, name: str) -> np.ndarray:
    matrix = np.asarray(array)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n_documents, n_labels]; got shape {matrix.shape}.")
    if matrix.size and not np.isin(matrix, (0, 1)).all():
        row, column = np.argwhere(~np.isin(matrix, (0, 1)))[0]
        raise ValueError(
            f"{name}[{row}, {column}] = {matrix[row, column].item()!r}; expected 0/1 indicators "
            "(threshold probabilities before calling multilabel_scores)."
        )
    return matrix.astype(np.int8)


def multilabel_scores(y_true, y_pred) -> dict[str, float]:
    """Scores for multi-label predictions.

    Args:
        y_true: `[n_documents, n_labels]` gold indicators (0/1).
        y_pred: `[n_documents, n_labels]` predicted indicators (0/1).

    Returns:
        `micro_precision`, `micro_recall`, `micro_f1` (pooled over every document/label cell),
        `macro_f1` (mean of per-label F1 over all labels) and `subset_accuracy` (share of documents
        whose predicted label set equals the gold set exactly).
    """
    true = _as_binary_matrix(y_true, "y_true")
    pred = _as_binary_matrix(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has shape {true.shape} but y_pred has shape {pred.shape}.")
    if true.shape[0] == 0:
        raise ValueError("No documents to score (y_true has 0 rows).")
    micro_p, micro_r, micro_f, _ = precision_recall_fscore_support(
        true, pred, average="micro", zero_division=0
    )
    return {
        "micro_precision": float(micro_p),
        "micro_recall": float(micro_r),
        "micro_f1": float(micro_f),
        "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
        "subset_accuracy": float((true == pred).all(axis=1).mean()),
    }


def multiclass_scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy and macro F1 for single-label predictions.

    Args:
        y_true: `[n_documents]` gold class ids.
        y_pred: `[n_documents]` predicted class ids.

    Returns:
        `accuracy` and `macro_f1`; the macro average runs over every class that occurs in gold or
        predictions (scikit-learn's default label set).
    """
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if true.ndim != 1 or pred.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D arrays of class ids; got shapes {true.shape} and {pred.shape}."
        )
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.shape[0]} entries but y_pred has {pred.shape[0]}.")
    if true.shape[0] == 0:
        raise ValueError("No documents to score (y_true is empty).")
    return {
        "accuracy": float(accuracy_score(true, pred)),
        "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
    }
