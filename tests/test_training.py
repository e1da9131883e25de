"""train.py internals and end-to-end runs of every model kind on the demo corpora (tiny BERT)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import quick_train_argv, tiny_bert_checkpoint
from test_training_run_report import check_predictions_file
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, TrainingArguments

from labelwise.data_scripts import LabelSpace
from labelwise.modeling import LameForSequenceClassification
from labelwise.training.arguments import LabelwiseArguments, parse_arguments
from labelwise.training.cli import run
from labelwise.experiments.grid import main as grid_main
from labelwise.training.tasks import TaskMismatchError, check_compatibility
from labelwise.training.trainer import LabelwiseTrainer, parameter_group_of, slanted_triangular


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


quick = quick_train_argv


# --------------------------------------------------------------------------- arguments
def test_unknown_model_lists_the_choices():
    with pytest.raises(ValueError) as info:
        LabelwiseArguments(model="lamee")
    for name in ("lame", "vanilla", "frozen_lame", "layerwise", "token_classification"):
        assert name in str(info.value)


def test_config_file_is_read_and_flags_override_it(tmp_path):
    args, training = parse_arguments(["--config", "lame_paper", "--num_train_epochs", "2", "--output_dir", str(tmp_path)])
    assert training.per_device_train_batch_size == 42 and args.head_learning_rate == 0.04
    assert args.constant_classifier_lr and args.slanted_triangular
    assert training.num_train_epochs == 2  # the flag wins over the file
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "lame",\n "epochs": 3}')
    with pytest.raises(ValueError, match="Unknown option.*epochs"):
        parse_arguments(["--config", str(bad)])
    bad.write_text('{"model": "lame",\n "num_train_epochs": }')
    with pytest.raises(ValueError, match="bad.json: line 2"):
        parse_arguments(["--config", str(bad)])


def test_corpus_without_descriptions_or_hierarchy_fails_before_training():
    flat = LabelSpace("multi_label", ["a", "b"], None, None)
    with pytest.raises(TaskMismatchError, match="needs one description per label"):
        check_compatibility(LabelwiseArguments(model="lame", corpus="mine"), flat)
    with pytest.raises(TaskMismatchError, match="needs a label hierarchy"):
        check_compatibility(LabelwiseArguments(model="layerwise", corpus="mine"), LabelSpace("hierarchical", ["a"], None, None))
    with pytest.raises(TaskMismatchError, match="trains on ner corpora"):
        check_compatibility(LabelwiseArguments(model="token_classification", corpus="mine"), flat)


# ------------------------------------------------------------------ optimiser, schedule
def test_slanted_triangular_shape():
    multiplier = slanted_triangular(100, cut_fraction=0.1, ratio=32)
    assert multiplier(0) == pytest.approx(1 / 32)
    assert multiplier(10) == pytest.approx(1.0)
    assert multiplier(5) == pytest.approx((1 + 0.5 * 31) / 32)
    assert multiplier(100) == pytest.approx(1 / 32)
    assert multiplier(55) == pytest.approx((1 + 0.5 * 31) / 32)


def test_parameter_groups_learning_rates_and_constant_classifier(checkpoint, tmp_path):
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=["immune reaction", "blood vessel"], label_attention_heads=4
    )
    assert {parameter_group_of(n) for n, _ in model.named_parameters()} == {"encoder", "head", "classifier"}
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, warmup_steps=0.1, report_to="none", use_cpu=True)
    trainer = LabelwiseTrainer(
        model=model, args=args,
        group_learning_rates={"encoder": 1e-3, "head": 4e-2, "classifier": 1e-2},
        constant_groups=("classifier",), slanted_triangular_schedule=True,
    )
    trainer.create_optimizer_and_scheduler(num_training_steps=20)
    lrs = lambda: {g: trainer.optimizer.param_groups[i]["lr"] for i, g in enumerate(trainer._group_names)}  # noqa: E731
    start = lrs()
    assert start["encoder"] == pytest.approx(1e-3 / 32) and start["head"] == pytest.approx(4e-2 / 32)
    assert start["classifier"] == pytest.approx(1e-2)
    for _ in range(2):
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    peak = lrs()
    assert peak["encoder"] == pytest.approx(1e-3) and peak["head"] == pytest.approx(4e-2)
    assert peak["classifier"] == pytest.approx(1e-2)  # constant throughout
    # every trainable parameter is in exactly one group
    grouped = [p for group in trainer.optimizer.param_groups for p in group["params"]]
    assert len(grouped) == len({id(p) for p in grouped}) == sum(1 for p in model.parameters() if p.requires_grad)


def test_vanilla_pooler_learns_at_the_head_rate(checkpoint):
    """The pooler of BertForSequenceClassification is a task head (untrained in MiniLM), not encoder."""
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=3)
    groups = {name: parameter_group_of(name) for name, _ in model.named_parameters()}
    assert groups["bert.pooler.dense.weight"] == groups["bert.pooler.dense.bias"] == "head"
    assert groups["bert.embeddings.word_embeddings.weight"] == "encoder"
    assert groups["classifier.weight"] == "classifier"
    assert {g for n, g in groups.items() if n.startswith("bert.encoder.")} == {"encoder"}


@pytest.mark.parametrize("kind", ["lame", "vanilla"])
def test_gradient_accumulation_matches_one_large_batch(checkpoint, tmp_path, kind):
    """One step of batch 4 equals one step of 2 x 2 accumulated (SGD shows any gradient scaling)."""
    from datasets import Dataset

    rows = {
        "input_ids": [[2, 10 + i, 20 + i, 30 + i, 3] for i in range(4)],
        "attention_mask": [[1] * 5] * 4,
        "labels": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]],
    }
    data = Dataset.from_dict(rows)

    def trained(batch: int, accumulation: int):
        torch.manual_seed(0)
        if kind == "lame":
            model = LameForSequenceClassification.from_pretrained(
                checkpoint, label_descriptions=["immune reaction", "blood vessel"], label_attention_heads=4,
                problem_type="multi_label_classification",
            )
        else:
            model = AutoModelForSequenceClassification.from_pretrained(
                checkpoint, num_labels=2, problem_type="multi_label_classification"
            )
        args = TrainingArguments(
            output_dir=str(tmp_path / f"{batch}x{accumulation}"), per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation, max_steps=1, optim="sgd", learning_rate=1.0,
            lr_scheduler_type="constant", report_to="none", use_cpu=True, seed=0, save_strategy="no",
            dataloader_drop_last=False,
        )
        trainer = LabelwiseTrainer(model=model, args=args, train_dataset=data)
        trainer.train()
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    one_batch, accumulated = trained(4, 1), trained(2, 2)
    moved = [n for n in one_batch if not torch.equal(one_batch[n], accumulated[n])]
    for name in one_batch:
        torch.testing.assert_close(one_batch[name], accumulated[name], rtol=1e-4, atol=1e-6, msg=name)
    del moved


# ---------------------------------------------------------------------- end to end
def _folder_files(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_lame_end_to_end_writes_a_hub_ready_folder(checkpoint, tmp_path, capsys):
    summary = run(quick(checkpoint, tmp_path))
    folder = tmp_path / "model"
    assert {"config.json", "model.safetensors", "modeling_lame.py", "configuration_lame.py", "pipeline_lame.py",
            "tokenizer.json", "training_summary.json", "README.md"} <= _folder_files(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "lame" and "label-attention-classification" in config["custom_pipelines"]
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_lame.LameForSequenceClassification"
    assert len(config["label_descriptions"]) == len(config["id2label"]) == 5
    on_disk = json.loads((folder / "training_summary.json").read_text())
    assert on_disk["metrics"] == summary["metrics"]
    for split in ("validation", "test"):
        assert 0.0 <= summary["metrics"][split]["micro_f1"] <= 1.0
    out = capsys.readouterr().out
    assert "Hub-ready folder" in out and "micro_f1=" in out
    ranks = json.loads((tmp_path / "ranks" / "rank_0.json").read_text())
    assert ranks["world_size"] == 1 and ranks["global_steps"] == 2


@pytest.mark.parametrize(
    "kind, corpus, metric",
    [("vanilla", "demo", "micro_f1"), ("frozen_lame", "demo", "micro_f1"),
     ("layerwise", "demo_hierarchical", "rp_macro"), ("token_classification", "demo_ner", "f1")],
)
def test_every_model_kind_trains_and_saves(checkpoint, tmp_path, kind, corpus, metric):
    extra = ["--model", kind, "--corpus", corpus]
    if kind == "layerwise":
        extra += ["--guidance", "flat"]
    summary = run(quick(checkpoint, tmp_path, *extra))
    folder = tmp_path / "model"
    assert metric in summary["metrics"]["test"]
    check_predictions_file(folder, summary)  # every kind leaves its test predictions beside the metrics
    if kind == "token_classification":
        model = AutoModelForTokenClassification.from_pretrained(folder)
        assert type(model).__name__ == "BertForTokenClassification"  # standard class: Hub widget works
        assert "auto_map" not in json.loads((folder / "config.json").read_text())
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        expected = {"vanilla": "BertForSequenceClassification", "frozen_lame": "LameForSequenceClassification",
                    "layerwise": "LayerwiseBertForHierarchicalClassification"}[kind]
        assert type(model).__name__ == expected
        assert model.config.num_labels == len(summary["label_descriptions"] or model.config.id2label)
    if kind == "layerwise":
        assert summary["levels"] and max(summary["levels"].values()) == 3
        assert not math.isnan(summary["metrics"]["test"]["rp_level_1"])


@pytest.mark.parametrize("kind, corpus", [("vanilla", "demo"), ("layerwise", "demo_hierarchical")])
def test_multi_label_kinds_report_r_precision_and_can_stop_on_it(checkpoint, tmp_path, kind, corpus):
    # The Trainer refuses a metric_for_best_model its evaluation does not report, so the run itself checks it.
    extra = ["--model", kind, "--corpus", corpus, "--metric_for_best_model", "r_precision", "--greater_is_better", "true",
             "--eval_strategy", "epoch", "--save_strategy", "epoch", "--load_best_model_at_end", "true"]
    if kind == "layerwise":
        extra += ["--guidance", "flat"]
    summary = run(quick(checkpoint, tmp_path, *extra))
    for split in ("validation", "test"):
        value = summary["metrics"][split]["r_precision"]
        assert 0.0 <= value <= 1.0
        if kind == "layerwise":
            assert value == summary["metrics"][split]["rp_micro"]


def test_grid_search_runs_each_setting_once_and_reports_the_best(checkpoint, tmp_path, capsys):
    train_args = ["--"] + quick(checkpoint, "unused")[:2] + quick(checkpoint, "unused")[4:] + ["--model", "vanilla"]
    grid = ["--output_dir", str(tmp_path), "--grid", "learning_rate=1e-4,1e-3"]
    report = grid_main(grid + train_args)
    assert len(report["runs"]) == 2 and report["best"]["metric"] == "micro_f1"
    values = [run_["value"] for run_ in report["runs"]]
    assert report["best"]["value"] == max(values)
    assert (tmp_path / "grid_results.md").read_text().count("| yes |") == 1
    capsys.readouterr()
    grid_main(grid + train_args)  # everything done: nothing retrained
    assert capsys.readouterr().out.count("done earlier, skipped") == 2


def test_an_option_of_another_kind_is_named_in_a_warning(caplog):
    from labelwise.training.arguments import parse_arguments

    with caplog.at_level("WARNING", logger="labelwise.training.arguments"):
        args, _ = parse_arguments(["--model", "vanilla", "--corpus", "demo", "--output_dir", "unused",
                                   "--max_document_length", "2048"])
    assert args.ignored_options() == {"max_document_length": "lame, frozen_lame, layerwise"}
    assert "--max_document_length=2048 is an option of lame, frozen_lame, layerwise; --model vanilla ignores it" in caplog.text
    lame_args, _ = parse_arguments(["--model", "lame", "--corpus", "demo", "--output_dir", "unused",
                                    "--max_document_length", "2048"])
    assert lame_args.ignored_options() == {}
