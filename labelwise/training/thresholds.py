"""Decision thresholds tuned on the validation split after training (`train.py --tune_thresholds`).

A multi-label model stopped early on a few hundred documents is rarely calibrated so that 0.5 is
its best cut-off. After training, from the validation predictions `train.py` made for its metrics, this module picks the threshold
(one for all labels, or one per label) that maximises micro-F1 there
(`labelwise.metrics.thresholds`), stores it in the model's config (`decision_threshold`,
`label_thresholds`: the pipelines, the handler and the card read them) and reports the validation
and test metrics at it, beside the metrics at `--threshold` (0.5 by default).
"""

from __future__ import annotations

import numpy as np
import torch

from labelwise.kinds.base import PreparedTask, logits_of
from labelwise.metrics.thresholds import tune_global_threshold, tune_label_thresholds

MODES = ("none", "global", "per_label")


def _probabilities_and_gold(prediction) -> tuple[np.ndarray, np.ndarray]:
    logits = torch.from_numpy(np.asarray(logits_of(prediction.predictions), dtype=np.float32))
    return torch.sigmoid(logits).numpy(), np.asarray(prediction.label_ids)


def tune_thresholds(predictions: dict, task: PreparedTask, mode: str) -> dict:
    """Tune on validation, store in `task.model.config`, and score validation and test at the result.

    Args:
        predictions: `Trainer.predict` outputs by split (`"validation"`, and `"test"` when scored),
            the ones `train.py` already made for its metrics at `--threshold`.

    Returns `{}` when there is nothing to tune (mode "none", a single-label or NER task, or no
    validation split); otherwise `{"decision_threshold": t, "label_thresholds": [...] or None,
    "metrics": {"validation_tuned": {...}, "test_tuned": {...}}}`.
    """
    if mode not in MODES:
        raise ValueError(f"--tune_thresholds must be one of {', '.join(MODES)}, got {mode!r}.")
    if mode == "none" or task.scores_at is None or "validation" not in predictions:
        return {}
    probabilities, gold = _probabilities_and_gold(predictions["validation"])
    global_threshold, _ = tune_global_threshold(gold.astype(int), probabilities)
    per_label = None
    if mode == "per_label":
        per_label = tune_label_thresholds(gold.astype(int), probabilities, fallback=global_threshold).round(2).tolist()
    config = task.model.config
    config.decision_threshold = global_threshold
    config.label_thresholds = per_label
    chosen = per_label if per_label is not None else global_threshold
    metrics = {"validation_tuned": task.scores_at(gold, probabilities, chosen)}
    if "test" in predictions:
        test_probabilities, test_gold = _probabilities_and_gold(predictions["test"])
        metrics["test_tuned"] = task.scores_at(test_gold, test_probabilities, chosen)
    return {"decision_threshold": global_threshold, "label_thresholds": per_label, "metrics": metrics}
