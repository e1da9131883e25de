"""`train.py --label_bias_init label_prior`: every kind's untrained head starts at the training label prior."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from datasets import Dataset
from helpers import quick_train_argv, tiny_bert_checkpoint

from labelwise.data_scripts import load_corpus, load_label_space
from labelwise.kinds import get_kind
from labelwise.kinds.base import PreparedTask
from labelwise.modeling.configuration_lame import LARGE_LABEL_SET
from labelwise.training.arguments import parse_arguments
from labelwise.training.cli import run
from labelwise.training.tasks import (
    initialize_biases_from_prior,
    label_prior_log_odds,
    prepare_task,
    resolve_label_bias_init,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def test_log_odds_are_the_smoothed_training_frequencies():
    labels = Dataset.from_dict({"labels": [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]})
    # counts 3, 1, 0 of 3 rows -> (count + 0.5) / 4
    expected = [math.log(p / (1 - p)) for p in (3.5 / 4, 1.5 / 4, 0.5 / 4)]
    assert label_prior_log_odds(labels, batch_size=2).tolist() == pytest.approx(expected, abs=1e-6)


def _prepared(checkpoint, tmp_path, *extra: str):
    args, training_args = parse_arguments(quick_train_argv(checkpoint, tmp_path, "--label_bias_init", "label_prior", *extra))
    corpus_options = args.corpus_config()
    space = load_label_space(args.corpus, **corpus_options)
    corpus = load_corpus(args.corpus, **corpus_options)
    return prepare_task(args, space, corpus, str(checkpoint), seed=training_args.seed)


def _zero_label_weights(model) -> None:
    """Zero every weight that multiplies document features in the output layers, so the logits are the biases."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("weight") and name.split(".")[0] in ("classifier", "classifiers", "first_stage"):
                parameter.zero_()
            if name.endswith("similarity_scale"):
                parameter.zero_()


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("vanilla", ()),
        ("lame", ()),
        ("lame", ("--first_stage", "bilinear")),
        ("frozen_lame", ()),
        ("layerwise", ("--corpus", "demo_hierarchical", "--layer_assignment", '{"1": [1], "2": [2], "3": [1, 2]}')),
        ("layerwise", ("--corpus", "demo_hierarchical", "--guidance", "flat")),
        ("vanilla", ("--corpus", "demo_hierarchical")),
    ],
)
def test_untrained_model_predicts_the_training_prior(checkpoint, tmp_path, kind, extra):
    task = _prepared(checkpoint, tmp_path, "--model", kind, *extra)
    train = task.datasets["train"]
    gold = np.asarray(train["labels"])
    frequency = (gold.sum(0) + 0.5) / (len(gold) + 1)
    model = task.model.eval()
    _zero_label_weights(model)
    batch = task.collator([{k: row[k] for k in ("input_ids", "attention_mask")} for row in train.select(range(3))])
    with torch.no_grad():
        logits = model(**batch).logits
    expected = np.broadcast_to(frequency, (3, len(frequency)))
    assert torch.sigmoid(logits).numpy() == pytest.approx(expected, abs=1e-5)
    first_stage = getattr(model, "first_stage", None)
    if first_stage is not None:  # its scores pick the shortlist and the hard negatives, not the logits above
        assert torch.sigmoid(first_stage.bias.detach()).numpy() == pytest.approx(frequency, abs=1e-5)
    # The prior differs between labels here, so a bias set in the wrong label order would fail.
    assert len(set(np.round(frequency, 6))) > 1


def test_label_agnostic_head_starts_its_shared_intercept_at_the_mean_log_odds(checkpoint, tmp_path):
    task = _prepared(checkpoint, tmp_path, "--model", "lame", "--label_scoring", "label_agnostic")
    log_odds = label_prior_log_odds(task.datasets["train"])
    intercept = task.model.classifier.label_bias.bias
    assert intercept.item() == pytest.approx(log_odds.mean().item(), abs=1e-5)
    assert task.model.classifier.label_bias.weight.abs().sum() > 0  # the description part is untouched


def test_default_leaves_the_biases_of_a_small_label_set_at_zero(checkpoint, tmp_path):
    args, training_args = parse_arguments(quick_train_argv(checkpoint, tmp_path, "--model", "vanilla"))
    assert args.label_bias_init == "auto"
    task = prepare_task(args, load_label_space("demo"), load_corpus("demo"), str(checkpoint), seed=training_args.seed)
    assert task.label_bias_init == "zero"
    assert torch.count_nonzero(task.model.classifier.bias) == 0


def _stub(task: str, labels: int) -> PreparedTask:
    return PreparedTask(model=None, tokenizer=None, datasets={}, collator=None, compute_metrics=None,
                        metric_for_best_model="micro_f1", greater_is_better=True, task=task,
                        label_names=[f"label {i}" for i in range(labels)])


def test_auto_chooses_the_prior_above_the_large_label_set_size():
    assert resolve_label_bias_init("auto", _stub("multi_label", LARGE_LABEL_SET + 1)) == "label_prior"
    assert resolve_label_bias_init("auto", _stub("hierarchical", LARGE_LABEL_SET + 1)) == "label_prior"
    assert resolve_label_bias_init("auto", _stub("multi_label", LARGE_LABEL_SET)) == "zero"
    assert resolve_label_bias_init("auto", _stub("multi_class", 1000)) == "zero"
    assert resolve_label_bias_init("auto", _stub("ner", 1000)) == "zero"
    assert resolve_label_bias_init("zero", _stub("multi_label", 1000)) == "zero"


def test_prior_init_refuses_tasks_without_label_biases(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="multi-label and hierarchical corpora; this one is ner"):
        _prepared(checkpoint, tmp_path, "--model", "token_classification", "--corpus", "demo_ner")
    with pytest.raises(ValueError, match="this one is multi_class"):
        initialize_biases_from_prior(_stub("multi_class", 2), get_kind("vanilla"))


def test_unknown_value_in_a_config_file_is_named(checkpoint, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model": "vanilla", "label_bias_init": "frequency", "output_dir": str(tmp_path)}))
    with pytest.raises(ValueError, match=r"--label_bias_init must be one of \['auto', 'zero', 'label_prior'\], got 'frequency'"):
        parse_arguments(["--config", str(config)])


def test_train_py_records_the_option_in_the_summary(checkpoint, tmp_path):
    summary = run(quick_train_argv(checkpoint, tmp_path, "--model", "vanilla", "--label_bias_init", "label_prior"))
    assert summary["hyperparameters"]["label_bias_init"] == "label_prior"
