import numpy as np
import pytest

from labelwise.metrics.thresholds import apply_thresholds, tune_global_threshold, tune_label_thresholds


def test_global_threshold_lands_inside_the_known_best_interval():
    # Positives score 0.30 and 0.35, negatives 0.10 and 0.20: every threshold in (0.20, 0.30] is perfect,
    # while 0.5 predicts nothing (F1 0).
    targets = np.array([[1], [1], [0], [0]])
    scores = np.array([[0.30], [0.35], [0.10], [0.20]])
    threshold, f1 = tune_global_threshold(targets, scores)
    assert 0.20 < threshold <= 0.30
    assert threshold == pytest.approx(0.26)  # the middle of the 10 best grid points 0.21 .. 0.30
    assert f1 == pytest.approx(1.0)
    assert apply_thresholds(scores, threshold).ravel().tolist() == [1, 1, 0, 0]
    assert apply_thresholds(scores, 0.5).sum() == 0


def test_global_threshold_trades_precision_against_recall():
    # One label, 3 positives at 0.9, 0.6, 0.3 and negatives at 0.5, 0.2:
    # t in (0.6, 0.9]: tp1 fp0 fn2 -> F1 0.5; (0.5, 0.6]: tp2 fn1 -> 0.8; (0.3, 0.5]: tp2 fp1 fn1 -> 0.667;
    # (0.2, 0.3]: tp3 fp1 -> 0.857; <= 0.2: tp3 fp2 -> 0.75. Best: (0.2, 0.3].
    targets = np.array([[1], [1], [1], [0], [0]])
    scores = np.array([[0.9], [0.6], [0.3], [0.5], [0.2]])
    threshold, f1 = tune_global_threshold(targets, scores)
    assert 0.2 < threshold <= 0.3
    assert f1 == pytest.approx(6 / 7)


def test_label_thresholds_tune_each_label_and_fall_back_without_positives():
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    scores = np.array([[0.30, 0.10, 0.9], [0.35, 0.80, 0.2], [0.20, 0.75, 0.4], [0.10, 0.70, 0.1]])
    thresholds = tune_label_thresholds(targets, scores, fallback=0.42)
    assert 0.20 < thresholds[0] <= 0.30
    assert 0.70 < thresholds[1] <= 0.75
    assert thresholds[2] == 0.42  # no positive in this split: nothing to tune on
    default = tune_label_thresholds(targets, scores)
    global_threshold, _ = tune_global_threshold(targets, scores)
    assert default[2] == global_threshold


def test_threshold_tuning_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        tune_global_threshold(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="0/1"):
        tune_global_threshold(np.full((1, 1), 2), np.zeros((1, 1)))
