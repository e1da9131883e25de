"""Plain metric functions against hand-computed values."""

import math
import random
import warnings

import numpy as np
import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from labelwise.metrics import (
    entity_scores,
    entity_spans,
    hierarchical_scores,
    multiclass_scores,
    multilabel_scores,
    ndcg_at_k,
    precision_at_k,
    r_precision,
)

# ---------------------------------------------------------------------------------------- entities


def test_entity_spans_strict_iob2():
    tags = ["B-ADR", "I-ADR", "O", "I-Drug", "B-Drug", "I-ADR", "B-ADR"]
    # The stray I-Drug starts nothing; I-ADR after B-Drug does not extend the Drug span.
    assert entity_spans(tags) == [("ADR", 0, 2), ("Drug", 4, 5), ("ADR", 6, 7)]


def test_entity_scores_hand_computed_with_boundary_error():
    gold = [
        ["B-ADR", "I-ADR", "O", "B-Drug"],  # ADR(0,2), Drug(3,4)
        ["O", "B-ADR", "I-ADR", "I-ADR"],  # ADR(1,4)
    ]
    pred = [
        ["B-ADR", "I-ADR", "O", "B-ADR"],  # ADR(0,2) correct; ADR(3,4) wrong type
        ["O", "B-ADR", "I-ADR", "O"],  # ADR(1,3): right start, wrong end -> 1 FP and 1 FN
    ]
    scores = entity_scores(gold, pred)
    # 3 predicted, 3 gold, 1 exact match.
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(1 / 3)
    assert scores["support"] == 3
    # ADR: 3 predicted, 2 gold, 1 hit. Drug: 0 predicted, 1 gold.
    adr = scores["per_type"]["ADR"]
    assert (adr["precision"], adr["recall"], adr["support"]) == (pytest.approx(1 / 3), 0.5, 2)
    assert adr["f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert scores["per_type"]["Drug"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_entity_scores_empty_prediction_is_zero_like_seqeval():
    gold = [["B-ADR", "O"], ["O", "O"]]
    pred = [["O", "O"], ["O", "O"]]
    scores = entity_scores(gold, pred)
    assert (scores["precision"], scores["recall"], scores["f1"], scores["support"]) == (0.0, 0.0, 0.0, 1)
    nothing = entity_scores([["O"]], [["O"]])
    assert (nothing["precision"], nothing["recall"], nothing["f1"], nothing["support"]) == (0.0, 0.0, 0.0, 0)
    assert nothing["per_type"] == {}


def test_entity_scores_perfect():
    tags = [["B-ADR", "I-ADR", "O", "B-Drug"]]
    scores = entity_scores(tags, tags)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 1.0, 1.0)


def test_entity_scores_agree_with_seqeval_strict_on_random_sequences():
    rng = random.Random(0)
    alphabet = ["O", "O", "B-ADR", "I-ADR", "B-Drug", "I-Drug"]
    gold = [[rng.choice(alphabet) for _ in range(rng.randint(1, 12))] for _ in range(60)]
    pred = [[tag if rng.random() < 0.7 else rng.choice(alphabet) for tag in sentence] for sentence in gold]
    ours = entity_scores(gold, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    assert ours["precision"] == pytest.approx(report["micro avg"]["precision"])
    assert ours["recall"] == pytest.approx(report["micro avg"]["recall"])
    assert ours["f1"] == pytest.approx(report["micro avg"]["f1-score"])
    for entity_type in ("ADR", "Drug"):
        assert ours["per_type"][entity_type]["f1"] == pytest.approx(report[entity_type]["f1-score"])
        assert ours["per_type"][entity_type]["support"] == report[entity_type]["support"]


def test_entity_scores_errors_name_the_sentence_and_tag():
    with pytest.raises(ValueError, match="Sentence 1: gold has 2 tags but pred has 1"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match=r"pred\[0\]\[1\] = 'ADR'"):
        entity_scores([["O", "O"]], [["O", "ADR"]])
    with pytest.raises(ValueError, match="2 sentences but pred has 1"):
        entity_scores([["O"], ["O"]], [["O"]])


# ---------------------------------------------------------------------------------- classification


def test_multilabel_scores_hand_computed():
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    y_pred = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1]])
    scores = multilabel_scores(y_true, y_pred)
    # Cells: TP = 3 (0,0),(1,1),(2,0); FP = 1 (2,2); FN = 2 (0,2),(2,1).
    assert scores["micro_precision"] == pytest.approx(3 / 4)
    assert scores["micro_recall"] == pytest.approx(3 / 5)
    assert scores["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    # Label 0: P=1 R=1 F=1. Label 1: TP1 FN1 -> F=2/3. Label 2: TP0 -> F=0.
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert scores["subset_accuracy"] == pytest.approx(1 / 3)


def test_multilabel_scores_rejects_probabilities_and_shape_mismatch():
    with pytest.raises(ValueError, match=r"y_pred\[0, 1\] = 0.7"):
        multilabel_scores([[1, 0]], [[1, 0.7]])
    with pytest.raises(ValueError, match="shape"):
        multilabel_scores([[1, 0]], [[1, 0, 0]])


def test_multiclass_scores_hand_computed():
    y_true = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0]
    scores = multiclass_scores(y_true, y_pred)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    # class 0: P=1/2 R=1/2 F=1/2; class 1: P=2/3 R=1 F=4/5; class 2: F=0.
    assert scores["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


# ----------------------------------------------------------------------------------------- ranking

Y_TRUE = np.array(
    [
        [1, 0, 1, 0, 0],  # R = 2
        [0, 1, 0, 0, 0],  # R = 1
        [0, 0, 0, 0, 0],  # R = 0: left out of every mean
        [1, 1, 1, 0, 0],  # R = 3
    ]
)
SCORES = np.array(
    [
        [0.9, 0.8, 0.1, 0.3, 0.2],  # ranking 0,1,3,4,2
        [0.5, 0.4, 0.3, 0.2, 0.1],  # ranking 0,1,2,3,4
        [0.9, 0.9, 0.9, 0.9, 0.9],
        [0.2, 0.9, 0.1, 0.8, 0.7],  # ranking 1,3,4,0,2
    ]
)


def test_r_precision_hand_computed_excludes_documents_without_gold():
    # doc0: top-2 = {0,1} -> 1/2; doc1: top-1 = {0} -> 0; doc3: top-3 = {1,3,4} -> 1/3.
    assert r_precision(Y_TRUE, SCORES) == pytest.approx((1 / 2 + 0 + 1 / 3) / 3)


def test_r_precision_ties_broken_by_label_index_and_nan_without_gold():
    assert r_precision([[0, 1, 0]], [[0.5, 0.5, 0.5]]) == 0.0  # label 0 wins the tie
    assert r_precision([[1, 0, 0]], [[0.5, 0.5, 0.5]]) == 1.0
    assert math.isnan(r_precision([[0, 0, 0]], [[0.1, 0.2, 0.3]]))


def test_precision_at_k_hand_computed():
    # k=1: doc0 {0} hit, doc1 {0} miss, doc3 {1} hit.
    assert precision_at_k(Y_TRUE, SCORES, 1) == pytest.approx(2 / 3)
    # k=3: doc0 {0,1,3} 1 hit; doc1 {0,1,2} 1 hit; doc3 {1,3,4} 1 hit -> each 1/3.
    assert precision_at_k(Y_TRUE, SCORES, 3) == pytest.approx(1 / 3)


def test_ndcg_at_k_hand_computed():
    d = lambda rank: 1 / math.log2(rank + 1)  # noqa: E731  rank is 1-based
    # k=2. doc0: rels (1,0), ideal (1,1). doc1: rels (0,1), ideal (1). doc3: rels (1,0), ideal (1,1).
    doc0 = d(1) / (d(1) + d(2))
    doc1 = d(2) / d(1)
    doc3 = d(1) / (d(1) + d(2))
    assert ndcg_at_k(Y_TRUE, SCORES, 2) == pytest.approx((doc0 + doc1 + doc3) / 3)
    # k larger than the label count is cut at the label count, and a perfect ranking scores 1.
    assert ndcg_at_k([[1, 1, 0]], [[0.9, 0.8, 0.1]], 10) == pytest.approx(1.0)


def test_hierarchical_scores_per_level_with_documents_lacking_a_level():
    # Labels 0,1 are level 1; labels 2,3,4 are level 2.
    levels = [1, 1, 2, 2, 2]
    scores = hierarchical_scores(Y_TRUE, SCORES, levels, threshold=0.5, k_values=(1, 2))
    # Level 1 (cols 0,1): doc0 gold{0} top1 {0} -> 1; doc1 gold{1} top1 {0} -> 0;
    # doc2 none (left out); doc3 gold{0,1} top2 {1,0} -> 1.  Mean 2/3.
    assert scores["rp_level_1"] == pytest.approx(2 / 3)
    # Level 2 (cols 2,3,4): doc0 gold{2} top1 {3} -> 0; doc1 none; doc2 none; doc3 gold{2} top1 {3} -> 0.
    assert scores["rp_level_2"] == pytest.approx(0.0)
    assert scores["rp_micro"] == pytest.approx(r_precision(Y_TRUE, SCORES))
    assert scores["rp_macro"] == pytest.approx((2 / 3 + 0.0) / 2)
    assert scores["p_at_1"] == pytest.approx(2 / 3)
    assert "ndcg_at_2" in scores
    # Thresholded at 0.5 (>=): predictions
    #   doc0 {0,1}, doc1 {0}, doc2 {0..4}, doc3 {1,3,4}; gold cells: 6.
    #   TP = doc0 {0} + doc3 {1} = 2; FP = 1 + 1 + 5 + 2 = 9; FN = doc0 {2}, doc1 {1}, doc3 {0,2} = 4.
    assert scores["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 9 + 4))


def test_hierarchical_scores_level_without_any_gold_is_nan_and_skipped_in_macro():
    y_true = np.array([[1, 0, 0], [0, 1, 0]])
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.9]])
    result = hierarchical_scores(y_true, scores, [1, 1, 2], k_values=())
    assert result["rp_level_1"] == 1.0
    assert math.isnan(result["rp_level_2"])
    assert result["rp_macro"] == 1.0


def test_hierarchical_scores_rejects_wrong_level_count():
    with pytest.raises(ValueError, match="one level per label column"):
        hierarchical_scores(Y_TRUE, SCORES, [1, 2])
