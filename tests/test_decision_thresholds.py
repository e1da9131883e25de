"""Decision thresholds tuned on validation by train.py, stored in config.json, used by the pipelines (issue 17)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import quick_train_argv, run_python_without_labelwise, tiny_bert_checkpoint

from labelwise.metrics.classification import multilabel_scores
from labelwise.metrics.thresholds import apply_thresholds
from labelwise.modeling import LameConfig, LameForSequenceClassification
from labelwise.training.cli import run
from labelwise.training.thresholds import tune_thresholds


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))




@pytest.mark.slow
@pytest.mark.parametrize("mode, kind, corpus", [("per_label", "lame", "demo"), ("global", "layerwise", "demo_hierarchical")])
def test_train_tunes_stores_and_reports_thresholds(checkpoint, tmp_path, capsys, mode, kind, corpus):
    extra = ["--model", kind, "--corpus", corpus, "--tune_thresholds", mode]
    if kind == "layerwise":
        extra += ["--guidance", "flat"]
    summary = run(quick_train_argv(checkpoint, tmp_path, *extra, max_eval_samples=12))
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    chosen = summary["decision_thresholds"]
    assert 0.0 < chosen["decision_threshold"] < 1.0
    assert config["decision_threshold"] == chosen["decision_threshold"]
    if mode == "per_label":
        assert len(config["label_thresholds"]) == len(config["id2label"]) == len(chosen["label_thresholds"])
    else:
        assert config["label_thresholds"] is None
    # Both readings are reported: at --threshold (0.5) and at the tuned threshold(s).
    assert {"validation", "test", "validation_tuned", "test_tuned"} <= set(summary["metrics"])
    assert "test_tuned" in capsys.readouterr().out
    card = (tmp_path / "model" / "README.md").read_text()
    assert "Decision threshold" in card and "tuned threshold" in card


def test_tune_thresholds_scores_test_at_the_tuned_value(checkpoint):
    """The `*_tuned` metrics are the task's own metric function at the threshold tuned on validation."""
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=["alpha", "beta"], problem_type="multi_label_classification",
        label_attention_heads=4,
    )
    validation_probabilities = np.array([[0.30, 0.9], [0.35, 0.8], [0.10, 0.2], [0.20, 0.1]])
    validation_gold = np.array([[1, 1], [1, 1], [0, 0], [0, 0]])
    test_probabilities = np.array([[0.25, 0.6], [0.15, 0.15]])
    test_gold = np.array([[1, 1], [0, 1]])
    logits = {"validation": validation_probabilities, "test": test_probabilities}
    gold = {"validation": validation_gold, "test": test_gold}

    class Predictions:  # what Trainer.predict returns, for two fixed splits
        def __init__(self, split):
            self.predictions = np.log(logits[split] / (1 - logits[split]))
            self.label_ids = gold[split]

    predictions = {split: Predictions(split) for split in ("validation", "test")}

    def scores_at(y, p, at):
        return multilabel_scores(y, apply_thresholds(p, at))

    from labelwise.kinds.base import PreparedTask

    task = PreparedTask(model=model, tokenizer=None, datasets={"validation": "validation", "test": "test"},
                        collator=None, compute_metrics=None, metric_for_best_model="micro_f1", greater_is_better=True,
                        task="multi_label", label_names=["alpha", "beta"], scores_at=scores_at)
    result = tune_thresholds(predictions, task, "global")
    # Every threshold in (0.20, 0.30] separates the validation split perfectly; the middle grid point is 0.26.
    assert result["decision_threshold"] == pytest.approx(0.26)
    assert model.config.decision_threshold == pytest.approx(0.26)
    assert result["metrics"]["validation_tuned"]["micro_f1"] == pytest.approx(1.0)
    expected = multilabel_scores(test_gold, apply_thresholds(test_probabilities, 0.26))
    assert result["metrics"]["test_tuned"] == expected
    assert tune_thresholds(predictions, task, "none") == {}
    with pytest.raises(ValueError, match="--tune_thresholds must be one of"):
        tune_thresholds(predictions, task, "best")


def test_config_rejects_thresholds_outside_zero_one_or_of_the_wrong_count():
    small = dict(hidden_size=32, num_attention_heads=2, num_hidden_layers=1, intermediate_size=37, label_attention_heads=4)
    with pytest.raises(ValueError, match="decision_threshold must be a probability"):
        LameConfig(label_descriptions=["a", "b"], decision_threshold=1.5, **small)
    with pytest.raises(ValueError, match="label_thresholds has 1 values for 2 labels"):
        LameConfig(label_descriptions=["a", "b"], label_thresholds=[0.3], **small)


@pytest.mark.slow
def test_thresholds_survive_saving_and_drive_the_pipeline_without_labelwise(checkpoint, tmp_path):
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions={"first": "alpha", "second": "beta", "third": "gamma"},
        problem_type="multi_label_classification", label_attention_heads=4,
    )
    # 0 predicts a label whatever its probability, 1 never does (a sigmoid stays below 1).
    model.config.label_thresholds = [0.0, 1.0, 0.0]
    from labelwise.kinds import get_kind
    from labelwise.kinds.saving import save_model_folder
    from transformers import AutoTokenizer

    save_model_folder(str(tmp_path / "model"), model, AutoTokenizer.from_pretrained(checkpoint), get_kind("lame").saved.pipeline_task)
    code = (
        "from transformers import pipeline\n"
        f"pipe = pipeline(model={str(tmp_path / 'model')!r}, trust_remote_code=True)\n"
        "result = pipe('alpha beta gamma delta')\n"
        "print(sorted(l['label'] for l in result['labels'] if l['predicted']))\n"
        "result = pipe('alpha beta gamma delta', threshold=1.0)\n"
        "print(sorted(l['label'] for l in result['labels'] if l['predicted']))\n"
        "from transformers import AutoConfig\n"
        f"print(AutoConfig.from_pretrained({str(tmp_path / 'model')!r}, trust_remote_code=True).label_thresholds)\n"
    )
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()[-3:]
    assert lines == ["['first', 'third']", "[]", "[0.0, 1.0, 0.0]"]
