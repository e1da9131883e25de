"""Plausibility and faithfulness metrics of explanations on hand-computed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from labelwise.metrics.rationales import (
    auprc,
    bootstrap_interval,
    faithfulness,
    plausibility,
    precision_recall_at,
    summarise,
    top_count,
)

GOLD = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)  # 2 of 10 words are the rationale
WEIGHTS = np.array([0.5, 0.3, 0, 0, 0, 0, 0, 0, 0, 0])  # a toy model: p = sum of the kept words' weights


def toy_predict(masks: np.ndarray) -> np.ndarray:
    return (masks * WEIGHTS).sum(axis=1)


def test_top_count_rounds_up_to_at_least_one_word():
    assert [top_count(10, f) for f in (0.01, 0.05, 0.10, 0.20)] == [1, 1, 1, 2]
    assert top_count(200, 0.05) == 10
    with pytest.raises(ValueError):
        top_count(10, 0)


def test_perfect_rationale():
    scores = GOLD.astype(float)
    assert auprc(scores, GOLD) == 1.0
    assert precision_recall_at(scores, GOLD, 0.10) == (1.0, 0.5)
    assert precision_recall_at(scores, GOLD, 0.20) == (1.0, 1.0)
    result = faithfulness(toy_predict, WEIGHTS)
    assert result["full"] == pytest.approx(0.8)
    # k = 1, 5, 10% remove the one best word (0.5); 20% removes both (0.8).
    assert [result[f"comprehensiveness@{k}"] for k in ("1", "5", "10", "20")] == pytest.approx([0.5, 0.5, 0.5, 0.8])
    assert [result[f"sufficiency@{k}"] for k in ("1", "5", "10", "20")] == pytest.approx([0.3, 0.3, 0.3, 0.0])
    assert result["comprehensiveness_area"] == pytest.approx(0.575)
    assert result["sufficiency_area"] == pytest.approx(0.225)


def test_adversarial_rationale():
    scores = 1.0 - GOLD  # every non-rationale word ranked above the rationale
    # The gold words come 9th and 10th: AP = (1/9 + 2/10) / 2.
    assert auprc(scores, GOLD) == pytest.approx((1 / 9 + 2 / 10) / 2)
    assert precision_recall_at(scores, GOLD, 0.20) == (0.0, 0.0)
    result = faithfulness(toy_predict, scores)
    assert result["comprehensiveness_area"] == pytest.approx(0.0)
    assert result["sufficiency_area"] == pytest.approx(0.8)


def test_random_rationale_matches_its_expectation():
    # The exact expected AP of a random ranking, by enumerating the 45 positions of the 2 gold words.
    expected_ap = np.mean([(1 / a + 2 / b) / 2 for a, b in itertools.combinations(range(1, 11), 2)])
    rng = np.random.default_rng(0)
    draws = [rng.random(10) for _ in range(4000)]
    assert np.mean([auprc(s, GOLD) for s in draws]) == pytest.approx(expected_ap, abs=0.01)
    # Precision of a random top-20% is the gold share, 0.2, in expectation.
    assert np.mean([precision_recall_at(s, GOLD, 0.20)[0] for s in draws]) == pytest.approx(0.2, abs=0.01)
    # Removing 2 random words of 10 removes each word with probability 0.2: 0.2 * 0.8 of the mass.
    assert np.mean([faithfulness(toy_predict, s)["comprehensiveness@20"] for s in draws]) == pytest.approx(0.16, abs=0.01)


def test_ties_keep_document_order_and_bad_input_is_named():
    assert precision_recall_at(np.zeros(10), GOLD, 0.20) == (1.0, 1.0)  # all tied: the first two words
    with pytest.raises(ValueError, match="marks no word"):
        auprc(np.ones(3), np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="one length"):
        auprc(np.ones(3), np.ones(4, dtype=bool))
    assert set(plausibility(GOLD.astype(float), GOLD)) == {
        "auprc", *(f"{m}@{k}" for m in ("precision", "recall") for k in ("1", "5", "10", "20"))
    }


def test_bootstrap_interval_and_summary():
    assert bootstrap_interval([0.4] * 20) == pytest.approx((0.4, 0.4))
    low, high = bootstrap_interval(np.arange(100) / 100)
    assert low < 0.495 < high and high - low < 0.2
    records = [{"label": "a", "auprc": 1.0}, {"label": "a", "auprc": 0.5}, {"label": "b", "auprc": 0.0}]
    summary = summarise(records)
    assert summary["micro"]["auprc"]["mean"] == pytest.approx(0.5)
    assert summary["micro"]["auprc"]["n"] == 3
    assert summary["per_label"]["a"]["auprc"]["mean"] == pytest.approx(0.75)
    assert summary["per_label"]["b"]["auprc"] == {"mean": 0.0, "low": 0.0, "high": 0.0, "n": 1}
