"""`train.py`: train any labelwise model on any corpus, on 1 to N devices, and write a Hub-ready folder.

    python train.py                                   # LAME on the demo corpus, packaged MiniLM
    python train.py --config lame_paper --corpus hoc --data_dir data/hoc
    torchrun --nproc_per_node 2 train.py --use_cpu ... # 2-process DDP (CPU: --use_cpu is required)
    accelerate launch train.py ...                     # GPUs, no code change

The run resumes from the newest checkpoint in `--output_dir` when there is one, so an
interrupted run loses at most the steps since its last save. SIGTERM or Ctrl-C saves a checkpoint
at the end of the step under way and exits with code 130 (`labelwise.training.stop_signal`), so a
run stopped that way loses nothing. The final model, tokenizer, remote
code, `training_summary.json` and a generated model card are written to `<output_dir>/model`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from typing import Any

import torch
from transformers import EarlyStoppingCallback, set_seed

from labelwise import __version__
from labelwise.backbone import DEFAULT_BACKBONE, resolve_backbone
from labelwise.cli_errors import EXIT_INTERRUPTED, cli_main, note_output_path
from labelwise.training.arguments import LabelwiseArguments, parse_arguments
from labelwise.training.checkpoints import checkpoint_to_resume, last_complete_checkpoint  # noqa: F401  (moved there; old import path)
from labelwise.training.data_source import load_training_data
from labelwise.training.estimate import CostEstimateCallback
from labelwise.training.predictions import CollapseWatch, collapse_advice, final_prediction_rows, write_predictions
from labelwise.training.stop_signal import StopOnSignalCallback
from labelwise.training.tasks import PreparedTask, prepare_task, trial_train_rows
from labelwise.training.thresholds import tune_thresholds
from labelwise.training.trainer import LabelwiseTrainer, RankActivityCallback

logger = logging.getLogger("labelwise.train")

DEFAULT_BACKBONE_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def base_model_id(args: LabelwiseArguments) -> str:
    """The Hub id recorded as the card's `base_model`."""
    if args.base_model_id:
        return args.base_model_id
    if args.model_name_or_path == DEFAULT_BACKBONE:
        return DEFAULT_BACKBONE_HUB_ID
    return args.model_name_or_path


def build_trainer(
    args: LabelwiseArguments, training_args, task: PreparedTask, extra_callbacks: tuple = ()
) -> LabelwiseTrainer:
    """The Trainer for a prepared task, with our learning-rate groups and callbacks (plus
    `extra_callbacks`, e.g. a benchmark's timer)."""
    if not args.best_metric_given:
        training_args.metric_for_best_model = task.metric_for_best_model
        training_args.greater_is_better = task.greater_is_better
    head_lr = args.head_learning_rate or training_args.learning_rate
    group_learning_rates = {
        "encoder": training_args.learning_rate,
        "head": head_lr,
        "classifier": args.classifier_learning_rate or head_lr,
    }
    callbacks = [RankActivityCallback(training_args.output_dir), *extra_callbacks]
    if args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience))
    estimate = CostEstimateCallback(
        args.estimate_steps, args.estimate_eval_batches,
        {split: task.datasets.get(split) for split in ("validation", "test")},
        whole_splits=args.max_eval_samples is None,
    )
    callbacks.append(estimate)
    train_rows = len(task.datasets["train"])
    watch = CollapseWatch(
        task, args.threshold,
        lambda steps: collapse_advice(head_lr, training_args.learning_rate, steps, train_rows),
    )
    trainer = LabelwiseTrainer(
        model=task.model,
        args=training_args,
        train_dataset=task.datasets["train"],
        eval_dataset=task.datasets.get("validation"),
        data_collator=task.collator,
        processing_class=task.tokenizer,
        compute_metrics=watch,
        callbacks=callbacks,
        group_learning_rates=group_learning_rates,
        constant_groups=("classifier",) if args.constant_classifier_lr else (),
        slanted_triangular_schedule=args.slanted_triangular,
    )
    estimate.trainer = watch.trainer = trainer
    trainer.add_callback(watch.evaluations)
    return trainer


def evaluate_test_split(
    trainer: LabelwiseTrainer, task: PreparedTask, args: LabelwiseArguments, predictions: dict | None = None
) -> dict[str, float]:
    """Test-split metrics: `Trainer.predict`'s (its output kept in `predictions["test"]` for the
    threshold tuning), or the kind's own `evaluate_test` (NER: entity scores over whole sentences,
    windows merged)."""
    if "test" not in task.datasets:
        return {}
    if task.kind.evaluate_test is not None:
        return task.kind.evaluate_test(trainer, task, args)
    prediction = trainer.predict(task.datasets["test"], metric_key_prefix="test")
    if predictions is not None:
        predictions["test"] = prediction
    return {key.removeprefix("test_"): value for key, value in prediction.metrics.items() if isinstance(value, (int, float))}


def _clean(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    skip = ("runtime", "samples_per_second", "steps_per_second", "epoch")
    return {
        key.removeprefix(prefix): float(value)
        for key, value in metrics.items()
        if isinstance(value, (int, float)) and not key.removeprefix(prefix).endswith(skip)
    }


def write_summary(folder: str, args: LabelwiseArguments, training_args, task: PreparedTask, results: dict) -> dict:
    """`training_summary.json`: what the model card and a reader need to know about the run."""
    summary = {
        "labelwise_version": __version__,
        "model_kind": args.model,
        "task": task.task,
        "base_model": base_model_id(args),
        "dataset": results["dataset"],
        "hyperparameters": {
            "learning_rate": training_args.learning_rate,
            "head_learning_rate": args.head_learning_rate,
            "classifier_learning_rate": args.classifier_learning_rate,
            "constant_classifier_lr": args.constant_classifier_lr,
            "schedule": "slanted_triangular" if args.slanted_triangular else _name(training_args.lr_scheduler_type),
            "warmup": training_args.warmup_steps,
            "epochs": training_args.num_train_epochs,
            "per_device_train_batch_size": training_args.per_device_train_batch_size,
            "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
            "world_size": training_args.world_size,
            "weight_decay": training_args.weight_decay,
            "optimizer": _name(training_args.optim),
            "max_length": args.max_length,
            "label_bias_init": task.label_bias_init,
            "seed": training_args.seed,
            **task.kind.summary_hyperparameters(args, task.model),
        },
        "metrics": results["metrics"],
        "train_runtime_seconds": results["train_runtime_seconds"],
        "hardware": _hardware(training_args),
        "measured_on": results.get("measured_on"),
        "prediction_warnings": results.get("prediction_warnings") or [],
        "predictions_file": results.get("predictions_file"),
        "widget_examples": results["widget_examples"],
        "decision_thresholds": results.get("decision_thresholds"),
        "label_descriptions": task.label_descriptions,
        "levels": task.label_levels,
        **({"notes": task.notes} if task.notes else {}),
    }
    with open(os.path.join(folder, "training_summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, default=str)
    return summary


def measured_on(args: LabelwiseArguments, training_args, task: PreparedTask, steps: int) -> dict:
    """What the metrics were measured on: the rows of each split actually used, and every subset or
    budget option that changed them (the model card prints these)."""
    limits = {
        "max_train_samples": args.max_train_samples,
        "max_eval_samples": args.max_eval_samples,
        "max_steps": training_args.max_steps if training_args.max_steps and training_args.max_steps > 0 else None,
    }
    return {
        "rows": {split: len(ids) for split, ids in task.document_ids.items()} or
                {split: len(data) for split, data in task.datasets.items()},
        "optimizer_steps": steps,
        "limits": {key: value for key, value in limits.items() if value is not None},
    }


def _name(option) -> str:
    """`SchedulerType.LINEAR` -> "linear": enum options as users type them."""
    return str(getattr(option, "value", option))


def _hardware(training_args) -> str:
    if torch.cuda.is_available() and not training_args.use_cpu:
        return f"{training_args.world_size} x {torch.cuda.get_device_name(0)}"
    return f"{training_args.world_size} process(es) on CPU ({os.cpu_count()} cores, {platform.machine()})"


def run(argv: list[str] | None = None, extra_callbacks: tuple = ()) -> dict:
    """Parse arguments, train, evaluate, save. Returns the training summary (rank 0) or {}.

    `extra_callbacks`: `TrainerCallback`s added to the Trainer (benchmarks time epochs with one)."""
    args, training_args = parse_arguments(argv)
    note_output_path(training_args.output_dir)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    set_seed(training_args.seed)

    backbone = resolve_backbone(args.model_name_or_path)
    space, corpus, dataset = load_training_data(args)
    task = prepare_task(args, space, corpus, backbone, seed=training_args.seed,
                        train_rows_needed=trial_train_rows(training_args))
    if "validation" not in task.datasets:
        training_args.eval_strategy = "no"
        training_args.load_best_model_at_end = False

    stopper = StopOnSignalCallback()
    trainer = build_trainer(args, training_args, task, (stopper, *extra_callbacks))
    # Every checkpoint is checked first; a bad one is named and the previous good one used.
    checkpoint = checkpoint_to_resume(
        training_args.output_dir,
        training_args.resume_from_checkpoint,
        model=task.model,
        allow_skipped_steps=training_args.fp16,
    )
    if checkpoint:
        logger.info("Resuming from %s (delete it or choose another --output_dir to start over).", checkpoint)

    started = time.time()
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    runtime = time.time() - started
    if stopper.stopped_at_step is not None:
        saved = os.path.join(training_args.output_dir, f"checkpoint-{stopper.stopped_at_step}")
        logger.warning(
            "Stopped by %s after step %d of %d; saved %s. Run the same command again to resume from it.",
            stopper.signal_name or "a signal on another process", stopper.stopped_at_step, trainer.state.max_steps, saved,
        )
        raise SystemExit(EXIT_INTERRUPTED)

    metrics: dict[str, dict[str, float]] = {}
    # One prediction pass per split serves both the metrics at --threshold and the threshold tuning;
    # the final model's validation pass is the Trainer's last (or best) evaluation when it made one.
    predictions = {}
    watch = trainer.compute_metrics
    if "validation" in task.datasets:
        kept = watch.evaluations.of_final_model(trainer) if isinstance(watch, CollapseWatch) else None
        if kept is None:
            kept = trainer.predict(task.datasets["validation"], metric_key_prefix="eval")
        predictions["validation"] = kept
        metrics["validation"] = _clean(predictions["validation"].metrics, "eval_")
    if isinstance(watch, CollapseWatch):
        watch.stage = "test split"
    test = evaluate_test_split(trainer, task, args, predictions)
    if test:
        metrics["test"] = _clean(test, "")
    # After the metrics at --threshold: the tuned threshold goes into the config that is saved next.
    thresholds = tune_thresholds(predictions, task, args.tune_thresholds)
    metrics.update(thresholds.get("metrics", {}))

    if not trainer.is_world_process_zero():
        return {}
    folder = os.path.join(training_args.output_dir, "model")
    task.save(folder)
    # At the threshold of the last metrics reported: the tuned one (saved in config.json), else --threshold.
    rows = final_prediction_rows(task, predictions, args.threshold, thresholds)
    if rows and task.task == "ner" and isinstance(watch, CollapseWatch):
        watch.check([row["predicted"] for row in rows], [row["gold"] for row in rows], "test")
    predictions_path = write_predictions(folder, task, rows) if rows else None
    texts = corpus["test" if "test" in corpus else "train"]["text"][:2]
    summary = write_summary(
        folder,
        args,
        training_args,
        task,
        {"dataset": dataset, "metrics": metrics, "train_runtime_seconds": round(runtime, 1), "widget_examples": list(texts),
         "decision_thresholds": {k: v for k, v in thresholds.items() if k != "metrics"} or None,
         "measured_on": measured_on(args, training_args, task, train_result.global_step),
         "prediction_warnings": list(dict.fromkeys(getattr(watch, "warnings", []))),
         "predictions_file": os.path.basename(predictions_path) if predictions_path else None},
    )
    card_error = _write_card(folder)
    _report(summary, folder, train_result.global_step, task.kind.detail_metrics)
    if predictions_path:
        print(f"Test predictions: {predictions_path}")
    for warning in summary["prediction_warnings"]:
        print(f"WARNING: {warning}")
    if card_error is not None:
        raise ModelCardError(folder, summary, card_error) from card_error
    return summary


class ModelCardError(RuntimeError):
    """Training finished and the model is saved, but its model card (README.md) could not be written.

    The run fails, so that no one publishes or reports a folder without its card by mistake; the
    saved folder and the training summary are kept (`folder`, `summary`).
    """

    def __init__(self, folder: str, summary: dict, cause: BaseException):
        super().__init__(
            f"the model was trained and saved in {folder} (weights, tokenizer, training_summary.json), but its "
            f"model card {os.path.join(folder, 'README.md')} could not be written: {type(cause).__name__}: {cause}. "
            "Once the cause is fixed, `labelwise.publishing.write_model_card(folder)` writes it from "
            "training_summary.json without training again (push_to_hub.py does so too)."
        )
        self.folder = folder
        self.summary = summary


def _write_card(folder: str) -> Exception | None:
    """Write the folder's model card; return the error instead of raising it, so that the run's
    results are printed before the run fails."""
    from labelwise.publishing.model_card import write_model_card

    try:
        write_model_card(folder)
    except Exception as err:  # any failure: a template bug as much as a bad summary field
        return err
    return None


def train(output_dir: str, *, config: str | None = None, callbacks: tuple = (), **options: Any) -> dict:
    """Python API of `train.py`: `train("runs/hoc", model="lame", corpus="hoc", data_dir="data/hoc")`.

    Keyword options are `train.py`'s option names without the dashes, with Python values (booleans,
    numbers, and dicts for the JSON options such as `corpus_options`); `config` is `--config` (a
    shipped config name or a JSON file), whose values the keywords override. `callbacks`:
    `TrainerCallback`s added to the Trainer. Returns the training summary (`training_summary.json`);
    the model folder is `<output_dir>/model`. Raises `TypeError` for an option `train.py` does not have.
    """
    from transformers import HfArgumentParser, TrainingArguments

    known = {action.dest for action in HfArgumentParser((LabelwiseArguments, TrainingArguments))._actions}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"train() got option(s) that train.py does not have: {', '.join(unknown)} "
                        "(`python train.py --help` lists them).")
    return run(options_to_argv({"output_dir": output_dir, **({"config": config} if config else {}), **options}),
               extra_callbacks=tuple(callbacks))


def options_to_argv(options: dict[str, Any]) -> list[str]:
    """`{"num_train_epochs": 2, "corpus_options": {...}}` -> `["--num_train_epochs", "2", "--corpus_options", "{...}"]`
    (booleans as `true`/`false`, dicts as JSON, lists as several values; a None value is left out: the default)."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):  # options taking several values (`report_to`)
            argv += [f"--{key}", *map(str, value)]
            continue
        elif isinstance(value, dict):
            text = json.dumps(value)
        else:
            text = str(value)
        argv += [f"--{key}", text]
    return argv


def _report(summary: dict, folder: str, steps: int, detail_metrics: tuple[str, ...] = ()) -> None:
    print(f"\nlabelwise: trained {summary['model_kind']} on {summary['dataset']['name']} "
          f"({steps} steps, {summary['train_runtime_seconds']} s, {summary['hardware']})")
    for split, values in summary["metrics"].items():
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if not k.startswith((*detail_metrics, "loss")) or k == "loss")
        print(f"  {split:16s} {shown}")
    print(f"Hub-ready folder: {folder}")
    print(f"Publish it with:  python push_to_hub.py {folder} --repo_id <user>/<name>")


# transformers' TrainingArguments already has a --debug option; --traceback shows ours.
@cli_main("train.py", debug_flags=("--traceback",))
def main(argv: list[str] | None = None) -> None:
    """`train.py`: errors caused by the input print as one message (labelwise.cli_errors)."""
    run(argv)


if __name__ == "__main__":
    main()
