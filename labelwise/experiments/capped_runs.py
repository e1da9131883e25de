"""Training runs with patience and a cap, timed epoch by epoch, queued one process at a time, resumable.

The pieces of a study whose runs are long enough to be interrupted (issue 29's EURLEX57K ablations):

- `train_capped` trains one run through `labelwise.training.train` (or resumes it from its last
  checkpoint) with `epoch_timer`, and returns what its record keeps: the `train.py` command it equals,
  wall time per (part of an) epoch with its torch threads, the dev curve, epochs run, the best epoch,
  and whether patience or the epoch cap ended it (`stopped_by`);
- `run_queue` runs each unfinished run in its own process, one at a time, and starts nothing further
  once a run was stopped by a signal (SIGTERM, Ctrl-C: exit 130, its checkpoint saved), so the same
  command continues the queue;
- `check_same_budget` refuses results or checkpoints made with another budget, naming the file and entries;
- `estimate_steps` times a few training steps of a run and extrapolates an epoch.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from labelwise.cli_errors import EXIT_INTERRUPTED

__all__ = ["DEV_CURVE", "EPOCH_TIMES", "budget_differences", "check_same_budget", "epoch_timer", "estimate_steps",
           "missing_option", "run_queue", "train_capped"]

EPOCH_TIMES = "epoch_times.json"
DEV_CURVE = "dev_curve.json"
"""Files `epoch_timer` keeps in a run's output folder (checkpoints are rotated away, these stay)."""


def epoch_timer(path: Path):
    """A `TrainerCallback` appending `{"epoch", "steps", "seconds", "torch_threads"}` of each (part of an)
    epoch to `path`, and each evaluation's dev loss and micro-F1 to `DEV_CURVE` beside it, so a resumed
    run keeps the times of the epochs before the interruption (and says how many threads each part had,
    as a run may resume with another thread count)."""
    import torch
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.started, self.first_step = time.time(), state.global_step

        def on_epoch_end(self, args, state, control, **kwargs):
            records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
            records.append({"epoch": round(state.epoch, 3), "steps": state.global_step - self.first_step,
                            "seconds": round(time.time() - self.started, 1), "torch_threads": torch.get_num_threads()})
            path.write_text(json.dumps(records, indent=1), encoding="utf-8")

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            curve = path.with_name(DEV_CURVE)
            points = json.loads(curve.read_text(encoding="utf-8")) if curve.exists() else []
            points.append({"epoch": round(state.epoch, 2),
                           **{key: (metrics or {}).get(key) for key in ("eval_loss", "eval_micro_f1", "eval_r_precision")}})
            curve.write_text(json.dumps(points, indent=1), encoding="utf-8")

    return EpochTimer()


def missing_option(options: Mapping[str, Any], needs: str = "") -> str | None:
    """Why `train.py` here cannot take `options` (an option this checkout lacks), or None."""
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import options_to_argv

    with tempfile.TemporaryDirectory() as folder:
        try:
            parse_arguments(options_to_argv({**options, "output_dir": folder}))
        except (ValueError, SystemExit) as err:
            named = " ".join(f"--{key}" for key in options if key != "config")
            return (f"train.py here does not accept {named} (needs {needs or 'a newer labelwise'}): "
                    f"{str(err).splitlines()[0] if str(err) else 'unknown option'}")
    return None


def _best_epoch(output_dir: Path, steps_per_epoch: int) -> float | None:
    states = sorted(output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not states:
        return None
    best = json.loads(states[-1].read_text(encoding="utf-8")).get("best_model_checkpoint")
    if not best:
        return None
    return round(int(Path(best).name.split("-")[1]) / steps_per_epoch, 2)


def train_capped(output_dir: Path, options: dict[str, Any], steps_per_epoch: int) -> dict:
    """Train one run into `output_dir` (resuming from its last checkpoint; not at all when its model is
    saved already) and return its record fields: `command`, `epoch_times`, `seconds_per_epoch` (at
    `steps_per_epoch`), `epochs_run`, `best_checkpoint`, `dev_curve`, `summary` (without the label
    descriptions) and `stopped_by` ("cap" when it ran `num_train_epochs`, else "patience")."""
    from labelwise.training import train
    from labelwise.training.cli import options_to_argv

    output_dir.mkdir(parents=True, exist_ok=True)
    summary_path = output_dir / "model" / "training_summary.json"
    if not summary_path.exists():  # else trained earlier, only the scoring was interrupted
        train(str(output_dir), callbacks=(epoch_timer(output_dir / EPOCH_TIMES),), **options)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary.pop("label_descriptions", None)
    times_path, curve_path = output_dir / EPOCH_TIMES, output_dir / DEV_CURVE
    epochs = json.loads(times_path.read_text(encoding="utf-8")) if times_path.exists() else []
    steps, seconds = sum(e["steps"] for e in epochs), sum(e["seconds"] for e in epochs)
    epochs_run = round(epochs[-1]["epoch"]) if epochs else None
    return {
        "command": "python train.py " + " ".join(options_to_argv({**options, "output_dir": str(output_dir)})),
        "epoch_times": epochs,
        "seconds_per_epoch": round(seconds / steps * steps_per_epoch, 1) if steps else None,
        "epochs_run": epochs_run,
        "best_checkpoint": _best_epoch(output_dir, steps_per_epoch),
        "dev_curve": json.loads(curve_path.read_text(encoding="utf-8")) if curve_path.exists() else [],
        "summary": summary,
        "stopped_by": "cap" if epochs_run is None or epochs_run >= float(options["num_train_epochs"]) else "patience",
    }


def run_queue(runs: Iterable[tuple[str, list[str]]], logs: Path, torch_threads: int = 1) -> bool:
    """Run each `(name, command)` in its own process, one at a time, on `torch_threads` threads, logging to
    `<logs>/<name>.log`. False when a signal stopped a run (its checkpoint saved, nothing further started),
    so that a queue of such calls stops too."""
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(torch_threads), "MKL_NUM_THREADS": str(torch_threads)}
    for name, command in runs:
        started = time.time()
        with open(logs / f"{name}.log", "a", encoding="utf-8") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code == EXIT_INTERRUPTED:
            print(f"{name}: stopped by a signal after {(time.time() - started) / 60:.1f} min, checkpoint saved; "
                  "run the same command again to resume", flush=True)
            return False
        status = "ok" if code == 0 else f"FAILED (exit {code}, see {logs / (name + '.log')})"
        print(f"{name}: {status} in {(time.time() - started) / 60:.1f} min", flush=True)
    return True


def budget_differences(recorded: dict, budget: Mapping[str, Any], legacy: Mapping[str, Any] | None = None) -> dict[str, tuple]:
    """`{key: (recorded value, current value)}` where a recorded budget differs from `budget`; `legacy`:
    entries added later, with the value records written before them were run with."""
    recorded = {**(legacy or {}), **recorded}
    return {key: (recorded.get(key), value) for key, value in budget.items() if recorded.get(key) != value}


def check_same_budget(files: Iterable[tuple[Path, str | None]], budget: Mapping[str, Any],
                      legacy: Mapping[str, Any] | None = None) -> None:
    """Stop, naming the file and the entries, when a result record (`(path, "budget")`: its budget under
    that key) or a budget file (`(path, None)`) is from another budget: it would be skipped or resumed
    as if it were this one's. Missing files are passed over."""
    for path, key in files:
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        differences = budget_differences(data[key] if key else data, budget, legacy)
        if differences:
            listed = ", ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in differences.items())
            raise SystemExit(f"{path} is from another budget ({listed}). Give this budget its own --results_dir "
                             "and --work_dir, or run with the budget it was made with (--budget).")


def estimate_steps(options: dict[str, Any], steps: int, documents: Mapping[str, int]) -> dict:
    """Time `steps` training steps of a run (and the prediction of 16 dev documents) on this process's
    threads, and extrapolate: minutes per epoch, per dev and test pass (`documents`: the number in
    `train`, `dev`, `test`), and hours of a run at its `num_train_epochs`."""
    import numpy as np
    from transformers import TrainerCallback

    from labelwise.backbone import resolve_backbone
    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import build_trainer, options_to_argv
    from labelwise.training.tasks import prepare_task

    record: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        quick = {"max_steps": steps, "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
                 "early_stopping_patience": 0, "disable_tqdm": True}
        args, training_args = parse_arguments(options_to_argv({**options, "output_dir": folder, **quick}))
        space = load_label_space(args.corpus, data_dir=args.data_dir, **args.corpus_config())
        corpus = load_corpus(args.corpus, data_dir=args.data_dir, **args.corpus_config())
        started = time.time()
        task = prepare_task(args, space, corpus, resolve_backbone(args.model_name_or_path), seed=training_args.seed)
        record["prepare_seconds"] = round(time.time() - started, 1)
        times: list[float] = []
        cpu_times: list[float] = []  # one thread: the work of a step, without its waits for a core

        class StepTimer(TrainerCallback):
            def on_step_begin(self, a, s, c, **k):
                self.started, self.cpu_started = time.time(), time.process_time()

            def on_step_end(self, a, s, c, **k):
                times.append(time.time() - self.started)
                cpu_times.append(time.process_time() - self.cpu_started)

        trainer = build_trainer(args, training_args, task, (StepTimer(),))
        trainer.train()
        started = time.time()
        trainer.predict(task.datasets["validation"].select(range(16)))
        predict_16 = time.time() - started

    # The first step also builds the label cache (LAME) and warms up: the later ones are the rate.
    def steady(values: list[float]) -> float:
        return float(np.median(values[1:])) if len(values) > 1 else values[0]

    rate = steady(times)
    steps_per_epoch = math.ceil(documents["train"] / options["per_device_train_batch_size"])
    record.update(
        labels=len(space.names),
        step_seconds=[round(t, 2) for t in times],
        seconds_per_step=round(rate, 2),
        step_cpu_seconds=[round(t, 2) for t in cpu_times],
        cpu_seconds_per_step=round(steady(cpu_times), 2),
        load_average=os.getloadavg(),
        estimated_train_minutes_per_epoch=round(rate * steps_per_epoch / 60, 1),
        seconds_predict_16_dev_documents=round(predict_16, 1),
        estimated_dev_eval_minutes=round(predict_16 / 16 * documents["dev"] / 60, 1),
        estimated_test_eval_minutes=round(predict_16 / 16 * documents["test"] / 60, 1),
    )
    # Per epoch: train + dev eval; after training: train.py's dev and test pass, then a study's own
    # scoring pass over dev and test.
    per_epoch = record["estimated_train_minutes_per_epoch"] + record["estimated_dev_eval_minutes"]
    final = 2 * (record["estimated_dev_eval_minutes"] + record["estimated_test_eval_minutes"])
    record["estimated_hours_per_run_at_max_epochs"] = round((float(options["num_train_epochs"]) * per_epoch + final) / 60, 1)
    return record


def probe_representations(options: dict[str, Any], steps: int, every: int, documents: int = 32,
                          on_measure: Callable[[dict], None] | None = None) -> list[dict]:
    """Train a run's first `steps` steps on its real schedule (warm-up and decay set by its
    `num_train_epochs`, not by `steps`) and measure, before the first step and every `every` steps,
    how far apart its representations lie (`label_groups.representation_spread` on the first
    `documents` dev documents), with the training loss logged so far. Shows whether, and when,
    training collapses the encoder. `on_measure` gets each measurement as it is taken (to save it)."""
    from transformers import TrainerCallback

    from labelwise.experiments.label_groups import representation_spread
    from labelwise.training.cli import build_trainer

    measurements: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        args, training_args, task, batch = _probe_task(options, folder, documents, every)

        def measure(step: int, model, log_history: list[dict]) -> None:
            logged = [entry for entry in log_history if "loss" in entry]
            record = {"step": step, "train_loss_last_logged": logged[-1]["loss"] if logged else None,
                      "train_loss_logged_at_step": logged[-1]["step"] if logged else None,
                      **representation_spread(model, {k: v.to(model.device) for k, v in batch.items()})}
            measurements.append(record)
            if on_measure is not None:
                on_measure(record)

        class Probe(TrainerCallback):
            def on_train_begin(self, a, state, control, model=None, **k):
                measure(0, model, state.log_history)

            def on_step_end(self, a, state, control, model=None, **k):
                if state.global_step % every == 0 or state.global_step >= steps:
                    measure(state.global_step, model, state.log_history)
                if state.global_step >= steps:
                    control.should_training_stop = True

        build_trainer(args, training_args, task, (Probe(),)).train()
    return measurements


def _probe_task(options: dict[str, Any], folder: str, documents: int, every: int = 10):
    """The parsed arguments, prepared task and model inputs of the first `documents` dev documents
    (without their labels) of a run's options, with nothing saved or evaluated by its Trainer."""
    from labelwise.backbone import resolve_backbone
    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import options_to_argv
    from labelwise.training.tasks import prepare_task

    quick = {"eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
             "early_stopping_patience": 0, "disable_tqdm": True, "logging_steps": min(every, 10)}
    args, training_args = parse_arguments(options_to_argv({**options, "output_dir": folder, **quick}))
    space = load_label_space(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    corpus = load_corpus(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    task = prepare_task(args, space, corpus, resolve_backbone(args.model_name_or_path), seed=training_args.seed)
    dev = task.datasets["validation"]
    rows = [dev[i] for i in range(min(documents, len(dev)))]
    batch = {key: value for key, value in task.collator(rows).items() if key != "labels"}
    return args, training_args, task, batch


def saved_representations(options: dict[str, Any], model_dirs: Iterable[Path], documents: int = 32) -> list[dict]:
    """`label_groups.representation_spread` of saved models (a run's checkpoints or its kept model) on
    the same first `documents` dev documents as [`probe_representations`], so the two compare: one
    record per folder, with its training step when the folder has a `trainer_state.json`."""
    from labelwise.evaluate import load_model
    from labelwise.experiments.label_groups import representation_spread

    with tempfile.TemporaryDirectory() as folder:
        _, _, _, batch = _probe_task(options, folder, documents)
    records = []
    for model_dir in model_dirs:
        state = Path(model_dir) / "trainer_state.json"
        step = json.loads(state.read_text(encoding="utf-8"))["global_step"] if state.exists() else None
        network = load_model(str(model_dir)).network
        records.append({"model": str(model_dir), "step": step, **representation_spread(network, batch)})
    return records
