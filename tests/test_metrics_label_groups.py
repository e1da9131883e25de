"""Label-frequency groups and R-Precision@k, against hand computations."""

import math

import numpy as np
import pytest

from labelwise.metrics import frequency_groups, label_group_scores, r_precision_at_k


def test_frequency_groups_split_at_fifty_and_zero():
    groups = frequency_groups([0, 1, 49, 50, 300, 0])
    assert groups["frequent"].tolist() == [3, 4]
    assert groups["few"].tolist() == [1, 2]
    assert groups["zero"].tolist() == [0, 5]


def test_frequency_groups_rejects_negative_counts():
    with pytest.raises(ValueError, match=r"train_counts\[1\]"):
        frequency_groups([3, -1])


def test_r_precision_at_k_divides_by_min_k_and_gold():
    # Document 0: gold {0, 1}; ranking 0, 2, 1, 3 -> 2 hits in the top 3, min(3, 2) = 2 -> 1.0.
    # Document 1: gold {0, 1, 2, 3}; ranking 3, 2, 1, 0 -> 3 hits in the top 3, min(3, 4) = 3 -> 1.0.
    # Document 2: gold {3}; ranking 0, 1, 2, 3 -> 0 hits -> 0.0.
    true = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1]])
    scores = np.array([[0.9, 0.5, 0.6, 0.1], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    assert r_precision_at_k(true, scores, 3) == pytest.approx(2 / 3)
    # k = 1: hits 1, 1, 0 over min(1, R) = 1.
    assert r_precision_at_k(true, scores, 1) == pytest.approx(2 / 3)


def test_group_scores_use_only_the_group_columns_and_documents():
    true = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0]])
    scores = np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.3, 0.7, 0.0], [0.6, 0.6, 0.6, 0.6]])
    result = label_group_scores(true, scores, {"seen": [0, 1], "zero": [2, 3], "empty": []}, k=1)
    # seen: doc 0 top-1 of (0.9, 0.8) is column 0 (gold) -> 1; doc 1 top-1 of (0.1, 0.3) is column 1 (gold) -> 1.
    assert result["seen_rp_at_1"] == pytest.approx(1.0)
    assert result["seen_documents"] == 2 and result["seen_labels"] == 2
    # zero: only doc 0 has a gold label (column 3); its top-1 among (0.1, 0.2) is column 3 -> 1.
    assert result["zero_rp_at_1"] == pytest.approx(1.0)
    assert result["zero_documents"] == 1
    # micro-F1 at 0.5 on the zero columns: predicted doc1 col2 (wrong), doc2 cols 2 and 3 (wrong), gold doc0 col3 missed.
    assert result["zero_micro_f1"] == 0.0
    assert math.isnan(result["empty_rp_at_1"]) and result["empty_labels"] == 0


def test_group_scores_name_a_column_out_of_range():
    with pytest.raises(ValueError, match="'zero' names column 7"):
        label_group_scores(np.zeros((1, 3)), np.zeros((1, 3)), {"zero": [7]})
