"""What a train.py run tells its user: the cost estimate before the long part, collapse warnings, the
test predictions file, --help, and the card's record of subsets and budgets (tiny models, demo corpora)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from transformers.trainer_utils import PredictionOutput
from helpers import quick_train_argv, tiny_bert_checkpoint
from test_data_classification import write_medical

from labelwise.training.arguments import parse_arguments, shipped_configs
from labelwise.training.cli import run
from labelwise.training.estimate import duration, validation_passes
from labelwise.training.predictions import CollapseWatch, collapse_reason, query_collapse_reason, ranking_collapse_reason


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def check_predictions_file(folder: Path, summary: dict) -> list[dict]:
    """The predictions file beside the metrics: one row per test document, gold and predicted as label names."""
    assert summary["predictions_file"] == "test_predictions.jsonl"
    rows = [json.loads(line) for line in (Path(folder) / "test_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == summary["measured_on"]["rows"]["test"]
    names = set(json.loads((Path(folder) / "config.json").read_text())["id2label"].values())
    for row in rows:
        assert set(row) >= {"id", "gold", "predicted", "scores"}
        if "tokens" in row:  # NER: one tag and one probability per token
            assert len(row["gold"]) == len(row["predicted"]) == len(row["scores"]) == len(row["tokens"])
            assert set(row["predicted"]) <= names
        else:
            assert set(row["gold"]) <= names and set(row["predicted"]) <= names
            assert set(row["predicted"]) <= set(row["scores"]) and all(0 <= p <= 1 for p in row["scores"].values())
    assert len({row["id"] for row in rows}) == len(rows)
    return rows


# --------------------------------------------------------------------------- the estimate
def test_estimate_is_printed_and_written_before_a_trial_ends(checkpoint, tmp_path, capsys):
    # --max_steps without --max_train_samples: only the rows 3 steps read (3 x 4) are tokenized.
    argv = [
        "--model_name_or_path", str(checkpoint), "--output_dir", str(tmp_path), "--max_steps", "3",
        "--per_device_train_batch_size", "4", "--max_eval_samples", "8", "--per_device_eval_batch_size", "4",
        "--label_attention_heads", "4", "--max_length", "32", "--disable_tqdm", "true",
        "--estimate_steps", "1", "--estimate_eval_batches", "2",
    ]
    from transformers import TrainerCallback

    class FirstStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                print("first step done")

    summary = run(argv, extra_callbacks=(FirstStep(),))
    out = capsys.readouterr().out
    assert "Cost estimate" in out and "per epoch" in out and "one validation pass: 8 rows" in out
    plan = ("Run plan (before the first step): 12 training rows, 3 steps per epoch, 3 steps in all (1 epoch); "
            "evaluation: validation 8 rows x 1 pass(es), test 8 rows x 1 pass")
    assert plan in out and out.index(plan) < out.index("first step done") < out.index("Cost estimate")
    assert out.index("Cost estimate") < out.index("labelwise: trained")
    estimate = json.loads((tmp_path / "cost_estimate.json").read_text())
    assert estimate["total_steps"] == 3 and estimate["steps_timed"] == 1 and estimate["train_rows"] == 12
    assert estimate["steps_per_epoch"] == 3 and estimate["eval_rows"] == {"validation": 8, "test": 8}
    assert estimate["seconds_per_step"] > 0 and estimate["cpu_seconds_per_step"] > 0
    assert estimate["first_step_cpu_seconds"] > 0 and set(estimate["eval_cpu_seconds_per_pass"]) == {"validation", "test"}
    assert estimate["peak_memory_bytes"] > 50 * 2**20
    expected_train = estimate["first_step_seconds"] + 2 * estimate["seconds_per_step"]
    assert estimate["train_seconds"] == pytest.approx(expected_train)
    passes = estimate["eval_seconds_per_pass"]
    assert estimate["validation_passes"] == 1  # the final model's validation metrics are that pass's
    assert estimate["total_seconds"] == pytest.approx(expected_train + passes["validation"] + passes["test"])
    assert estimate["warning"] is None and "then test at the end" in out
    # The trial tokenized 12 of the demo's 300 training notes, and the card says what was measured.
    assert summary["measured_on"]["rows"] == {"train": 12, "validation": 8, "test": 8}
    assert summary["measured_on"]["limits"] == {"max_eval_samples": 8, "max_steps": 3}
    card = (tmp_path / "model" / "README.md").read_text()
    assert "`--max_eval_samples 8`, `--max_steps 3`" in card and "train 12, validation 8, test 8" in card


def test_estimate_arithmetic():
    class Args:
        eval_strategy, eval_steps = "epoch", None

    assert validation_passes(Args, total_steps=25, steps_per_epoch=10) == 3
    Args.eval_strategy, Args.eval_steps = "steps", 10
    assert validation_passes(Args, total_steps=25, steps_per_epoch=10) == 2
    Args.eval_strategy = "no"
    assert validation_passes(Args, total_steps=25, steps_per_epoch=10) == 0
    assert duration(4.2) == "4.2 s" and duration(600) == "10 min" and duration(32 * 3600) == "32 h 0 min"
    assert duration(5 * 86400) == "5.0 days"


def test_estimate_warns_when_whole_splits_cost_more_than_training(tmp_path, caplog):
    """A trial without --max_eval_samples is told what its evaluations cost before they start (timings faked)."""
    from types import SimpleNamespace

    from labelwise.training.estimate import CostEstimateCallback

    args = SimpleNamespace(eval_strategy="epoch", eval_steps=None, gradient_accumulation_steps=1, output_dir=str(tmp_path))
    state = SimpleNamespace(max_steps=5, is_world_process_zero=True)
    splits = {"validation": list(range(6000)), "test": list(range(6000))}
    for whole, warned in ((True, True), (False, False)):
        callback = CostEstimateCallback(3, 2, splits, whole_splits=whole)
        callback._first_step, callback._first_step_cpu, callback._timed = 30.0, 30.0, [20.0]
        callback._probe_evaluation = lambda args: ({"validation": 4000.0, "test": 4000.0}, {})
        with caplog.at_level(logging.WARNING, logger="labelwise.training.estimate"):
            callback._finish(args, state, None)
        estimate = callback.estimate
        assert estimate.total_seconds == pytest.approx(30 + 4 * 20 + 4000 + 4000)  # validation in training, test at the end
        assert (estimate.warning is not None) == warned
    warning = json.loads((tmp_path / "cost_estimate.json").read_text())
    assert warning["warning"] is None  # the last run had a subset
    assert "evaluation takes ~2 h 13 min of this run, training ~2 min" in caplog.text
    assert "validation 6,000 rows and test 6,000 rows" in caplog.text and "--max_eval_samples N" in caplog.text


def test_final_validation_metrics_reuse_the_trainers_evaluation(checkpoint, tmp_path, capsys, caplog, monkeypatch):
    """After training, validation is not predicted again: the final (best) model's metrics and the threshold
    tuning use the evaluation the Trainer made of it. Only the test split is predicted."""
    from labelwise.training.trainer import LabelwiseTrainer

    loops, predicted = [], []
    evaluation_loop, predict = LabelwiseTrainer.evaluation_loop, LabelwiseTrainer.predict
    monkeypatch.setattr(LabelwiseTrainer, "evaluation_loop",
                        lambda self, *a, **k: loops.append(k.get("metric_key_prefix")) or evaluation_loop(self, *a, **k))
    monkeypatch.setattr(LabelwiseTrainer, "predict",
                        lambda self, data, *a, **k: predicted.append(k.get("metric_key_prefix")) or predict(self, data, *a, **k))
    # A --max_steps trial without --max_eval_samples: 4 steps, 2 epochs of 16 rows; whole 60-row splits, said first.
    argv = [*quick_train_argv(checkpoint, tmp_path, "--estimate_steps", "0", "--max_steps", "4",
                              "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "32")]
    argv.remove("--max_eval_samples"), argv.remove("8")
    with caplog.at_level(logging.WARNING, logger="labelwise.training.tasks"):
        summary = run(argv)
    assert "the evaluations read the whole splits (validation 60 rows, test 60 rows), more rows than the 32" in caplog.text
    assert loops == ["eval", "eval", "test"] and predicted == ["test"]
    state = json.loads(sorted(tmp_path.glob("checkpoint-*"))[-1].joinpath("trainer_state.json").read_text())
    best = next(entry for entry in state["log_history"] if entry.get("step") == state["best_global_step"] and "eval_loss" in entry)
    validation = summary["metrics"]["validation"]
    assert validation["loss"] == pytest.approx(best["eval_loss"]) and validation["micro_f1"] == pytest.approx(best["eval_micro_f1"])
    assert summary["measured_on"]["rows"]["validation"] == 60
    assert summary["decision_thresholds"]["decision_threshold"] is not None and "validation_tuned" in summary["metrics"]


def test_estimate_steps_zero_turns_it_off(checkpoint, tmp_path, capsys, monkeypatch):
    from labelwise.training.trainer import LabelwiseTrainer

    predicted, predict = [], LabelwiseTrainer.predict
    monkeypatch.setattr(LabelwiseTrainer, "predict",
                        lambda self, data, *a, **k: predicted.append(k.get("metric_key_prefix")) or predict(self, data, *a, **k))
    summary = run(quick_train_argv(checkpoint, tmp_path, "--estimate_steps", "0", "--eval_strategy", "no",
                                   "--load_best_model_at_end", "false"))
    out = capsys.readouterr().out
    assert "Cost estimate" not in out and "Run plan" not in out
    assert not (tmp_path / "cost_estimate.json").exists()
    # No evaluation during training: the final validation pass is made (and tunes the threshold).
    assert predicted == ["eval", "test"] and "validation_tuned" in summary["metrics"]


# --------------------------------------------------------------------------- the card
def test_a_run_whose_card_cannot_be_written_fails_and_keeps_the_model(checkpoint, tmp_path, capsys, monkeypatch):
    from labelwise.publishing import model_card
    from labelwise.training.cli import main

    def broken_card(folder, **_):
        raise TypeError("the template could not be rendered")

    monkeypatch.setattr(model_card, "write_model_card", broken_card)
    argv = quick_train_argv(checkpoint, tmp_path, "--max_steps", "1", "--estimate_steps", "0", max_eval_samples=4)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code != 0
    captured = capsys.readouterr()
    assert "labelwise: trained" in captured.out  # the results are printed before the run fails
    folder = tmp_path / "model"
    assert "Traceback" not in captured.err
    assert f"saved in {folder}" in captured.err and "README.md could not be written" in captured.err
    assert "TypeError: the template could not be rendered" in captured.err
    assert (folder / "model.safetensors").is_file() and (folder / "training_summary.json").is_file()
    assert not (folder / "README.md").exists()


# --------------------------------------------------------------------------- collapse
def test_collapse_reasons_for_each_task():
    names = ["a", "b", "c"]
    gold = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert "100.0% of the 3 documents get no label" in collapse_reason("multi_label", np.zeros((3, 3)), gold, names)
    assert "same labels (a, b)" in collapse_reason("hierarchical", np.array([[1, 1, 0]] * 3), gold, names)
    assert collapse_reason("multi_label", gold, gold, names) is None
    # 99 empty documents of 100 is not "more than 99%"; 100 of 100 is.
    predicted = np.zeros((100, 3))
    predicted[0, 0] = 1
    assert collapse_reason("multi_label", predicted, np.ones((100, 3)), names) is None
    assert "predicted as 'b'" in collapse_reason("multi_class", np.array([1, 1, 1]), np.array([0, 1, 2]), names)
    assert collapse_reason("multi_class", np.array([1, 1, 1]), np.array([1, 1, 1]), names) is None  # gold agrees
    assert "tagged 'O'" in collapse_reason("ner", [["O", "O"], ["O"]], [["B-ADR", "O"], ["O"]], ["O", "B-ADR", "I-ADR"])
    assert collapse_reason("ner", [["O", "O"]], [["O", "O"]], ["O", "B-ADR"]) is None
    assert collapse_reason("ner", [["O", "B-ADR"]], [["B-ADR", "O"]], ["O", "B-ADR"]) is None


def test_one_ranking_for_every_document_is_a_collapse_whatever_the_threshold(caplog):
    rng = np.random.default_rng(0)
    names = [f"l{i}" for i in range(12)]
    gold = (rng.random((40, 12)) < 0.2).astype(int)
    # Scores that move with the document, but too little to change the order: one ranking for all.
    collapsed = np.linspace(3, -3, 12)[None, :] + 1e-3 * rng.random((40, 12))
    reason = ranking_collapse_reason(collapsed, gold, names)
    assert reason.startswith("100% of the 40 documents rank the same 5 labels first (l0, l1, l2, l3, l4)")
    swapped = collapsed.copy()
    swapped[::2, [0, 1]] = swapped[::2, [1, 0]]  # near-ties swap from one document to the next: still one set
    assert ranking_collapse_reason(swapped, gold, names) == reason
    assert ranking_collapse_reason(rng.normal(size=(40, 12)), gold, names) is None  # rankings differ
    two_alike = collapsed.copy()
    two_alike[:3] = rng.normal(size=(3, 12))  # 37 of 40 (92.5%) share it: under SAME_RANKING_SHARE
    assert ranking_collapse_reason(two_alike, gold, names) is None
    assert ranking_collapse_reason(collapsed, np.ones((40, 12)), names) is None  # the gold sets agree too
    assert ranking_collapse_reason(collapsed[:, :9], gold[:, :9], names[:9]) is None  # fewer than 10 labels

    # After an evaluation: warned beside the metrics, with the run's advice; a varied ranking is not.
    class Task:
        task, label_names = "multi_label", names

        def compute_metrics(self, prediction):
            return {"micro_f1": 0.0}

    watch = CollapseWatch(Task(), threshold=0.5, advice=lambda steps: "ADVICE")
    with caplog.at_level(logging.WARNING, logger="labelwise.training.predictions"):
        assert watch(PredictionOutput(predictions=collapsed, label_ids=gold, metrics={})) == {"micro_f1": 0.0}
        watch(PredictionOutput(predictions=rng.normal(size=(40, 12)), label_ids=gold, metrics={}))
    ranking = [w for w in watch.warnings if "rank the same" in w]
    assert len(ranking) == 1 and ranking[0].endswith("nearly one vector. ADVICE")


def test_label_queries_nearly_one_vector_are_a_collapse(tmp_path, caplog):
    import torch

    from labelwise.modeling import LameForSequenceClassification

    names = ["cancer", "tumor cell", "growth signal", "cell death", "apoptosis", "immune", "blood vessel",
             "angiogenesis", "invasion", "genome instability", "inflammation", "energy metabolism"]
    model = LameForSequenceClassification.from_pretrained(
        tiny_bert_checkpoint(tmp_path / "bert", initializer_range=0.5), label_descriptions=names,
        problem_type="multi_label_classification", label_attention_heads=4, description_pooling="mean")
    assert query_collapse_reason(model.train()) is None and model.training  # queries apart; mode restored
    assert query_collapse_reason(torch.nn.Linear(2, 2)) is None  # no label queries
    last = model.backbone.encoder.layer[-1].output  # every description's states: one vector
    last.dense.weight.data.zero_()
    last.LayerNorm.weight.data.zero_()
    last.LayerNorm.bias.data.normal_()
    reason = query_collapse_reason(model)
    assert reason.startswith("the 12 label queries have a mean pairwise cosine of 1.00: every label reads")

    class Task:
        task, label_names = "multi_label", names

        def compute_metrics(self, prediction):
            return {}

    class Trainer:
        state = type("State", (), {"global_step": 125})()

    Trainer.model = model
    watch = CollapseWatch(Task(), threshold=0.5, advice=lambda steps: "ADVICE")
    watch.trainer = Trainer()
    rng = np.random.default_rng(0)
    watch(PredictionOutput(predictions=rng.normal(size=(30, 12)), label_ids=rng.random((30, 12)) < 0.3, metrics={}))
    assert watch.warnings == [f"Label queries collapsed (evaluation at step 125): {reason}. ADVICE"]


def test_collapsed_run_warns_after_evaluation_and_records_it(checkpoint, tmp_path, caplog, capsys):
    # No label can pass a 0.99 threshold when nothing is learned: every document predicts nothing.
    argv = quick_train_argv(checkpoint, tmp_path, "--threshold", "0.99", "--tune_thresholds", "none",
                            "--learning_rate", "0", "--head_learning_rate", "0", "--estimate_steps", "0")
    with caplog.at_level(logging.WARNING, logger="labelwise.training.predictions"):
        summary = run(argv)
    warnings = [r.getMessage() for r in caplog.records if "Predictions collapsed" in r.getMessage()]
    assert len(warnings) >= 2  # the epoch's evaluation (also the final validation metrics), then the test pass
    assert "100.0% of the 8 documents get no label at all" in warnings[0] and "(evaluation at step 2)" in warnings[0]
    assert any("(test split at step 2)" in w for w in warnings)
    assert "--head_learning_rate 0" in warnings[0] and "2 optimizer steps on 16 training rows" in warnings[0]
    assert summary["prediction_warnings"] and len(set(summary["prediction_warnings"])) == len(summary["prediction_warnings"])
    assert "WARNING: Predictions collapsed" in capsys.readouterr().out
    assert "Predictions collapsed" in (tmp_path / "model" / "README.md").read_text()
    rows = check_predictions_file(tmp_path / "model", summary)
    assert all(row["predicted"] == [] for row in rows)


def test_every_label_for_every_document_is_a_collapse_too(checkpoint, tmp_path):
    argv = quick_train_argv(checkpoint, tmp_path, "--threshold", "0.0", "--tune_thresholds", "none", "--estimate_steps", "0")
    summary = run(argv)
    rows = check_predictions_file(tmp_path / "model", summary)
    assert len({tuple(row["gold"]) for row in rows}) > 1 and all(len(row["predicted"]) == 5 for row in rows)
    assert any("all 8 documents get the same labels" in w for w in summary["prediction_warnings"])


# --------------------------------------------------------------------------- predictions file
def test_multi_class_predictions_file(checkpoint, tmp_path):
    data = write_medical(tmp_path / "ma", with_train=True)
    argv = quick_train_argv(checkpoint, tmp_path / "out", "--model", "vanilla", "--corpus", "medical_abstracts",
                            "--data_dir", str(data), "--estimate_steps", "0")
    summary = run(argv)
    rows = check_predictions_file(tmp_path / "out" / "model", summary)
    for row in rows:
        assert len(row["gold"]) == len(row["predicted"]) == 1
        assert sum(row["scores"].values()) == pytest.approx(1.0, abs=1e-3)  # softmax over the 5 classes
        assert row["predicted"][0] == max(row["scores"], key=row["scores"].get)
    assert all(row["id"].startswith("medical_tc_") for row in rows)


def test_multi_label_predictions_use_the_saved_decision_threshold(checkpoint, tmp_path):
    summary = run(quick_train_argv(checkpoint, tmp_path, "--estimate_steps", "0"))
    folder = tmp_path / "model"
    rows = check_predictions_file(folder, summary)
    threshold = json.loads((folder / "config.json").read_text())["decision_threshold"]
    for row in rows:
        assert sorted(row["predicted"]) == sorted(name for name, p in row["scores"].items() if p >= threshold - 1e-5)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)  # test-split order
    from labelwise.publishing.push import check_folder

    plan = check_folder(folder, write_card=False)  # NER rows quote the corpus: the file stays local
    assert "test_predictions.jsonl" in plan.skipped and "test_predictions.jsonl" not in plan.files


# --------------------------------------------------------------------------- help and configs
def test_help_lists_config_shipped_configs_and_traceback(capsys):
    with pytest.raises(SystemExit):
        parse_arguments(["--help"])
    out = capsys.readouterr().out
    assert "--config NAME_OR_FILE" in out and "--traceback" in out and "--estimate_steps" in out
    for name in shipped_configs():
        assert name in out
    assert "lame_eurlex57k" in shipped_configs() and "ner_paper" in shipped_configs()


def test_shipped_config_comments_state_what_was_measured():
    from labelwise.training.arguments import CONFIG_DIR

    for path in sorted(CONFIG_DIR.glob("*.json")):
        comment = json.loads(path.read_text(encoding="utf-8"))["_comment"]
        assert "Measured" in comment, f"{path.name}: the comment does not say what was measured with it"


def test_config_keys_help_only_options_are_not_accepted_in_a_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"config": "lame_paper"}')
    with pytest.raises(ValueError, match="Unknown option.*config"):
        parse_arguments(["--config", str(bad)])
