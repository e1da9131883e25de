"""What a `train.py` run will cost, measured on its first steps and printed before the long part.

A run on a large corpus (EURLEX57K on a CPU: many hours an epoch) should not start blind. Before the
first step, [`CostEstimateCallback`] prints the run's size: training rows, steps per epoch and in all,
and the rows and number of the evaluation passes. After
`--estimate_steps` optimizer steps (timed after the first, which pays one-time setup such as
LAME's first label cache), [`CostEstimateCallback`] times `--estimate_eval_batches` evaluation
batches and prints:

* optimizer steps per epoch and in all, seconds per step, the expected time of an epoch and of the run;
* the cost of one evaluation pass over the validation and the test split (and how many passes the
  run makes: one per evaluation during training, then test at the end; validation again at the end
  only when training evaluated it never, as the final model's validation metrics come from its
  evaluation during training);
* the peak memory so far (this process's resident memory; on a GPU, the tensors' peak as well).

When evaluation would take longer than training and `--max_eval_samples` was not given (a
`--max_steps` trial on a large corpus: on the full EURLEX57K a 5-step trial trains for minutes and then
evaluates 12,000 documents for hours), the estimate ends with a warning saying so and naming
`--max_eval_samples`. A trial is not cut down silently: `--max_steps` also sets the budget of real
runs, whose metrics must be those of the whole validation and test splits.

The same figures go to `<output_dir>/cost_estimate.json`. The estimate assumes later steps cost what
the timed ones did: documents of other lengths, label caches re-encoded every
`--label_cache_refresh_steps`, and early stopping make the real run differ.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)


@dataclass
class CostEstimate:
    """The figures of one estimate (seconds, bytes)."""

    steps_timed: int
    seconds_per_step: float
    # CPU time of this process per step: on a machine shared with other jobs, what a step costs when
    # it has its threads' cores to itself (with one thread, about the uncontended wall time).
    cpu_seconds_per_step: float | None
    first_step_seconds: float
    first_step_cpu_seconds: float
    steps_per_epoch: int
    total_steps: int
    epochs: float
    train_rows: int
    epoch_seconds: float
    train_seconds: float
    eval_rows: dict[str, int] = field(default_factory=dict)
    eval_batches_timed: int = 0
    eval_seconds_per_pass: dict[str, float] = field(default_factory=dict)
    eval_cpu_seconds_per_pass: dict[str, float] = field(default_factory=dict)
    validation_passes: int = 0
    total_seconds: float = 0.0
    peak_memory_bytes: int = 0
    peak_gpu_memory_bytes: int | None = None
    warning: str | None = None

    def lines(self) -> list[str]:
        """The estimate as printed."""
        out = [
            f"Cost estimate (timed {self.steps_timed} step(s) after the first; the first took "
            f"{self.first_step_seconds:.1f} s):",
            f"  training: {self.train_rows:,} rows, {self.steps_per_epoch:,} steps per epoch, {self.total_steps:,} "
            f"steps in all ({_epochs(self.epochs)}), {self.seconds_per_step:.2f} s per step"
            + (f" ({self.cpu_seconds_per_step:.2f} s of CPU time, {torch.get_num_threads()} thread(s))"
               if self.cpu_seconds_per_step is not None else ""),
            f"  time per epoch ~{duration(self.epoch_seconds)}, training in all ~{duration(self.train_seconds)}",
        ]
        for split, seconds in self.eval_seconds_per_pass.items():
            cpu = self.eval_cpu_seconds_per_pass.get(split)
            out.append(f"  one {split} pass: {self.eval_rows[split]:,} rows, ~{duration(seconds)}"
                       + (f" ({duration(cpu)} of CPU time)" if cpu is not None else ""))
        if self.eval_seconds_per_pass:
            at_end = "test" if self.validation_passes else "validation and test"
            out.append(f"  evaluation passes: {self.validation_passes} on validation during training, then {at_end} at the end")
        out.append(f"  expected wall time of the run ~{duration(self.total_seconds)} (early stopping may cut it)")
        memory = f"  peak memory so far: {self.peak_memory_bytes / 2**30:.2f} GiB (process resident)"
        if self.peak_gpu_memory_bytes is not None:
            memory += f", {self.peak_gpu_memory_bytes / 2**30:.2f} GiB GPU tensors"
        out.append(memory)
        if self.warning:
            out.append(f"  WARNING: {self.warning}")
        return out


def _epochs(epochs: float) -> str:
    return f"{epochs:g} epoch{'s' if epochs != 1 else ''}"


def duration(seconds: float) -> str:
    """`4213` -> `1 h 10 min`: durations as a person reads them."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes} min"
    return f"{seconds / 86400:.1f} days"


def peak_memory() -> tuple[int, int | None]:
    """Peak resident memory of this process (bytes), and the peak of CUDA tensors when a GPU is used."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes
    gpu = torch.cuda.max_memory_allocated() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return rss_bytes, gpu


def validation_passes(args, total_steps: int, steps_per_epoch: int) -> int:
    """How often the Trainer evaluates during training under `args.eval_strategy`."""
    strategy = str(getattr(args.eval_strategy, "value", args.eval_strategy))
    if strategy == "epoch":
        return math.ceil(total_steps / max(1, steps_per_epoch))
    if strategy == "steps":
        every = args.eval_steps if args.eval_steps and args.eval_steps >= 1 else max(1, round((args.eval_steps or 0) * total_steps))
        return total_steps // max(1, int(every))
    return 0


class CostEstimateCallback(TrainerCallback):
    """Times the first steps of a run and prints [`CostEstimate`] (see the module docstring).

    Args:
        steps: optimizer steps to time after the first (0 turns the estimate off).
        eval_batches: evaluation batches to time for the cost of one pass.
        eval_datasets: the encoded splits evaluated later, by name (`validation`, `test`).
        whole_splits: whether they are whole splits (no `--max_eval_samples`): then an evaluation that
            costs more than the training is warned about.

    Set `trainer` (the `Trainer` it is attached to) before training: the evaluation probe runs its
    `prediction_step` on its evaluation batches.
    """

    def __init__(self, steps: int, eval_batches: int, eval_datasets: dict, whole_splits: bool = False):
        self.steps = max(0, steps)
        self.whole_splits = whole_splits
        self.eval_batches = max(0, eval_batches)
        self.eval_datasets = {name: data for name, data in eval_datasets.items() if data is not None}
        self.trainer = None
        self.estimate: CostEstimate | None = None
        self._begin: float | None = None
        self._last_end: float | None = None
        self._first_step: float | None = None
        self._timed: list[float] = []
        self._cpu_timed: list[float] = []
        self._last_cpu: float | None = None
        self._begin_cpu: float | None = None
        self._first_step_cpu: float | None = None
        self._interrupted = False

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        self._begin = time.perf_counter()
        if self.steps and state.is_world_process_zero:
            print(self.plan(args, state, train_dataloader), flush=True)

    def plan(self, args, state, train_dataloader) -> str:
        """What the run will do, known before its first step (the timed estimate follows)."""
        steps_per_epoch, train_rows = _epoch_shape(args, state, train_dataloader)
        total = state.max_steps
        passes = validation_passes(args, total, steps_per_epoch) if "validation" in self.eval_datasets else 0
        evaluations = []
        if "validation" in self.eval_datasets:
            times = passes if passes else 1
            evaluations.append(f"validation {len(self.eval_datasets['validation']):,} rows x {times} pass(es)")
        if "test" in self.eval_datasets:
            evaluations.append(f"test {len(self.eval_datasets['test']):,} rows x 1 pass")
        return (
            f"Run plan (before the first step): {train_rows:,} training rows, {steps_per_epoch:,} steps per epoch, "
            f"{total:,} steps in all ({_epochs(round(total / steps_per_epoch, 2))})"
            + (f"; evaluation: {', '.join(evaluations)}" if evaluations else "")
            + f". Seconds per step, the time of an epoch and of the run follow after step {self.steps + 1}."
        )

    def on_step_begin(self, args, state, control, **kwargs):
        if self._first_step is None and self._begin is not None:
            self._begin = time.perf_counter()  # the step itself, not the setup before it
            self._begin_cpu = time.process_time()

    def on_evaluate(self, args, state, control, **kwargs):
        self._interrupted = True  # the next interval holds an evaluation: not a step's cost

    def on_save(self, args, state, control, **kwargs):
        self._interrupted = True

    def on_step_end(self, args, state, control, train_dataloader=None, **kwargs):
        if not self.steps or self.estimate is not None:
            return
        now, cpu = time.perf_counter(), time.process_time()
        if self._first_step is None:
            self._first_step = now - (self._begin or now)
            self._first_step_cpu = cpu - (self._begin_cpu if self._begin_cpu is not None else cpu)
        elif not self._interrupted:
            self._timed.append(now - self._last_end)
            self._cpu_timed.append(cpu - self._last_cpu)
        self._interrupted = False
        self._last_end, self._last_cpu = now, cpu
        if len(self._timed) >= self.steps or state.global_step >= state.max_steps:
            self._finish(args, state, train_dataloader)

    def on_train_end(self, args, state, control, train_dataloader=None, **kwargs):
        if self.steps and self.estimate is None and self._first_step is not None:
            self._finish(args, state, train_dataloader)

    def _finish(self, args, state, train_dataloader) -> None:
        per_step = sum(self._timed) / len(self._timed) if self._timed else self._first_step
        steps_per_epoch, train_rows = _epoch_shape(args, state, train_dataloader)
        total = state.max_steps
        train_seconds = self._first_step + per_step * max(0, total - 1)
        passes = validation_passes(args, total, steps_per_epoch) if "validation" in self.eval_datasets else 0
        eval_seconds, eval_cpu = self._probe_evaluation(args) if self.eval_batches else ({}, {})
        # At the end: test, and validation only when no evaluation during training gave the final model's.
        final_validation = 0 if passes else 1
        total_seconds = (
            train_seconds
            + (passes + final_validation) * eval_seconds.get("validation", 0.0)
            + eval_seconds.get("test", 0.0)
        )
        rss, gpu = peak_memory()
        self.estimate = CostEstimate(
            steps_timed=len(self._timed),
            seconds_per_step=per_step,
            cpu_seconds_per_step=sum(self._cpu_timed) / len(self._cpu_timed) if self._cpu_timed else None,
            first_step_seconds=self._first_step,
            first_step_cpu_seconds=self._first_step_cpu,
            steps_per_epoch=steps_per_epoch,
            total_steps=total,
            epochs=round(total / steps_per_epoch, 2),
            train_rows=train_rows,
            epoch_seconds=per_step * steps_per_epoch,
            train_seconds=train_seconds,
            eval_rows={name: len(data) for name, data in self.eval_datasets.items() if name in eval_seconds},
            eval_batches_timed=self.eval_batches,
            eval_seconds_per_pass=eval_seconds,
            eval_cpu_seconds_per_pass=eval_cpu,
            validation_passes=passes,
            total_seconds=total_seconds,
            peak_memory_bytes=rss,
            peak_gpu_memory_bytes=gpu,
        )
        evaluation = total_seconds - train_seconds
        if self.whole_splits and eval_seconds and evaluation > train_seconds:
            rows = " and ".join(f"{split} {len(self.eval_datasets[split]):,} rows" for split in eval_seconds)
            self.estimate.warning = (
                f"evaluation takes ~{duration(evaluation)} of this run, training ~{duration(train_seconds)}: "
                f"every evaluation reads the whole split ({rows}). For a short trial stop now (Ctrl-C saves a "
                "checkpoint) and pass --max_eval_samples N (e.g. 200): a random subset of N rows of each."
            )
            logger.warning("Cost estimate: %s", self.estimate.warning)
        if state.is_world_process_zero:
            print("\n".join(self.estimate.lines()), flush=True)
            os.makedirs(args.output_dir, exist_ok=True)
            with open(os.path.join(args.output_dir, "cost_estimate.json"), "w", encoding="utf-8") as handle:
                json.dump(asdict(self.estimate), handle, indent=2)

    def _probe_evaluation(self, args) -> tuple[dict[str, float], dict[str, float]]:
        """Wall and CPU seconds of one pass over each evaluated split, from `eval_batches` timed batches
        (the first timed alone: it may encode label descriptions once per pass)."""
        trainer = self.trainer
        if trainer is None or not self.eval_datasets:
            return {}, {}
        model = trainer.model
        was_training = model.training
        model.eval()
        out: dict[str, float] = {}
        out_cpu: dict[str, float] = {}
        try:
            for name, dataset in self.eval_datasets.items():
                loader = trainer.get_eval_dataloader(dataset)
                batches = len(loader)
                if not batches:
                    continue
                times, cpu_times = [], []
                for inputs in loader:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    with torch.no_grad():
                        trainer.prediction_step(model, inputs, prediction_loss_only=False)
                    times.append(time.perf_counter() - started)
                    cpu_times.append(time.process_time() - cpu_started)
                    if len(times) >= self.eval_batches:
                        break
                out[name] = _one_pass(times, batches)
                out_cpu[name] = _one_pass(cpu_times, batches)
        finally:
            clear = getattr(model, "clear_label_cache", None)
            if callable(clear):
                clear()  # the probe's cache of label embeddings goes stale with the next step
            model.train(was_training)
        return out, out_cpu


def _epoch_shape(args, state, train_dataloader) -> tuple[int, int]:
    """Optimizer steps per epoch and training rows of the Trainer's training dataloader."""
    batches = len(train_dataloader) if train_dataloader is not None else 0
    steps_per_epoch = max(1, math.ceil(batches / args.gradient_accumulation_steps)) if batches else max(1, state.max_steps)
    train_rows = len(train_dataloader.dataset) if train_dataloader is not None and hasattr(train_dataloader, "dataset") else 0
    return steps_per_epoch, train_rows


def _one_pass(times: list[float], batches: int) -> float:
    """A pass of `batches` batches from the timed ones: the first (one-time work per pass) plus the
    mean of the others for the rest."""
    rest = sum(times[1:]) / (len(times) - 1) if len(times) > 1 else times[0]
    return times[0] + rest * (batches - 1)
