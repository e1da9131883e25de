"""Prepare a model kind's task for the Trainer: model, encoded data, metrics, how to save.

What differs between kinds lives in the kind's module (`labelwise.kinds`); `prepare_task` checks
that the corpus fits the kind before anything is trained (LAME needs label descriptions, the
layer-wise model a hierarchy, the tagger BIO tags) and returns a [`PreparedTask`] that
`labelwise.training.cli` hands to the Trainer.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer

from labelwise.data_scripts import LabelSpace, subsample
from labelwise.kinds import KINDS, get_kind
from labelwise.kinds.base import ModelKind, PreparedTask, TaskMismatchError
from labelwise.modeling.configuration_lame import LARGE_LABEL_SET
from labelwise.training.arguments import LabelwiseArguments

logger = logging.getLogger(__name__)

MULTI_LABEL_TASKS = ("multi_label", "hierarchical")
"""`PreparedTask.task` values whose labels each have their own sigmoid output (and bias)."""

TASKS_OF_MODEL = {name: kind.tasks for name, kind in KINDS.items()}
"""Corpus tasks each model kind trains on (from the registry)."""


def check_compatibility(args: LabelwiseArguments, space: LabelSpace) -> None:
    """Fail before training when the corpus lacks what the model kind needs."""
    get_kind(args.model).check(args, space)


def prepare_task(
    args: LabelwiseArguments,
    space: LabelSpace,
    corpus: DatasetDict,
    backbone: str,
    seed: int = 42,
    train_rows_needed: int | None = None,
) -> PreparedTask:
    """Build model, tokenizer, encoded splits and metrics for `args.model` on `corpus`
    (`seed`: the run's seed, which draws the `--max_*_samples` subsets).

    `train_rows_needed`: the training rows a run stopped by `--max_steps` reads (`trial_train_rows`);
    without `--max_train_samples`, a larger train split is cut to a seeded random subset of that size
    before tokenizing, so a short trial does not tokenize the whole corpus."""
    kind = get_kind(args.model)
    kind.check(args, space)
    check_train_split(args, corpus)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    corpus = _limit(corpus, args, seed, train_rows_needed)
    task = kind.prepare(args, space, corpus, backbone, tokenizer)
    task.kind = kind
    task.document_ids = {split: list(data["id"]) for split, data in corpus.items() if "id" in data.column_names}
    task.label_bias_init = resolve_label_bias_init(args.label_bias_init, task)
    if task.label_bias_init == "label_prior":
        initialize_biases_from_prior(task, kind)
    return task


def check_train_split(args: LabelwiseArguments, corpus: DatasetDict) -> None:
    """Refuse a corpus without training examples, naming the split (the Trainer would otherwise fail
    deep inside with "No columns in the dataset match the model's forward method signature")."""
    rows = len(corpus["train"]) if "train" in corpus else None
    if rows:
        return
    counts = ", ".join(f"{split} {len(dataset)}" for split, dataset in corpus.items()) or "no splits"
    if getattr(args, "train_file", None):
        source = f"--train_file {args.train_file}"
    elif getattr(args, "dataset_name", None):
        source = f"--dataset_name {args.dataset_name}"
    else:
        source = f"--corpus {args.corpus}" + (f" in {args.data_dir}" if args.data_dir else "")
    what = "has no train split" if rows is None else "has an empty train split (0 examples)"
    raise ValueError(
        f"{source} {what} ({counts}): check the training file (an empty file, or one whose "
        "examples were all skipped; the log lists what was skipped)."
    )


def resolve_label_bias_init(option: str, task: PreparedTask) -> str:
    """`--label_bias_init` with `auto` resolved: `label_prior` for multi-label tasks of more than
    `LARGE_LABEL_SET` labels (where zero biases cost the first epochs, docs/RESULTS.md), else `zero`."""
    if option != "auto":
        return option
    return "label_prior" if task.task in MULTI_LABEL_TASKS and len(task.label_names) > LARGE_LABEL_SET else "zero"


def label_prior_log_odds(labels: Dataset, batch_size: int = 1024) -> torch.Tensor:
    """The log-odds of each label's frequency in the multi-hot `labels` column `(N, num_labels)` of
    `labels` (a split), `(num_labels,)` float32. Frequencies are smoothed, `(count + 0.5) / (N + 1)`, so a
    label in no document (or in all) gets a finite value."""
    counts, rows = None, 0
    for batch in labels.with_format("numpy", columns=["labels"]).iter(batch_size=batch_size):
        block = np.asarray(batch["labels"], dtype=np.float64)
        counts = block.sum(0) if counts is None else counts + block.sum(0)
        rows += block.shape[0]
    if counts is None:
        raise ValueError("label_prior_log_odds: the training split has no rows.")
    frequency = (counts + 0.5) / (rows + 1)
    return torch.from_numpy(np.log(frequency) - np.log1p(-frequency)).float()


def initialize_biases_from_prior(task: PreparedTask, kind: ModelKind) -> None:
    """`--label_bias_init label_prior`: start the model's per-label biases at the training split's label log-odds."""
    if task.task not in MULTI_LABEL_TASKS:
        raise ValueError(
            f"--label_bias_init label_prior applies to multi-label and hierarchical corpora; this one is {task.task}."
        )
    if kind.initialize_label_biases is None:
        raise ValueError(f"--label_bias_init label_prior: --model {kind.name} declares no per-label biases to set.")
    log_odds = label_prior_log_odds(task.datasets["train"])
    kind.initialize_label_biases(task.model, log_odds)
    logger.info(
        "Label biases start at the training label prior: log-odds %.2f to %.2f over %d labels.",
        log_odds.min().item(), log_odds.max().item(), log_odds.numel(),
    )


def trial_train_rows(training_args) -> int | None:
    """Training rows that a run stopped by `--max_steps` reads: steps x batch x accumulation x processes
    (None without `--max_steps`)."""
    if not training_args.max_steps or training_args.max_steps < 0:
        return None
    return (training_args.max_steps * training_args.per_device_train_batch_size
            * training_args.gradient_accumulation_steps * max(1, training_args.world_size))


def _limit(corpus: DatasetDict, args: LabelwiseArguments, seed: int, train_rows_needed: int | None = None) -> DatasetDict:
    # A seeded random subset: the first rows of a corpus ordered by document (TAC sections
    # grouped by drug label) would come from a handful of documents.
    limited = {}
    for split, dataset in corpus.items():
        cap = args.max_train_samples if split == "train" else args.max_eval_samples
        if split == "train" and cap is None and train_rows_needed is not None and train_rows_needed < len(dataset):
            # The Trainer would draw these rows in a shuffled order anyway: a random subset of the
            # size the steps read trains the same way without tokenizing the rest.
            logger.info(
                "--max_steps reads %d of the %d training rows: only a seeded random %d are tokenized "
                "(--max_train_samples chooses another number).", train_rows_needed, len(dataset), train_rows_needed,
            )
            cap = train_rows_needed
        limited[split] = subsample(dataset, cap, seed)
    whole = {split: len(data) for split, data in corpus.items() if split != "train"}
    if train_rows_needed is not None and args.max_eval_samples is None and sum(whole.values()) > train_rows_needed:
        # A trial's evaluations stay whole splits (--max_steps is also the budget of real runs); say so
        # where they read more rows than the training does.
        estimate = " the cost estimate after the first steps says how long that takes;" if getattr(args, "estimate_steps", 0) else ""
        logger.warning(
            "--max_steps without --max_eval_samples: the evaluations read the whole splits (%s), more rows than the "
            "%d the training steps read;%s --max_eval_samples N makes a short trial.",
            ", ".join(f"{split} {rows:,} rows" for split, rows in whole.items()), train_rows_needed, estimate,
        )
    return DatasetDict(limited)


def describe(task: PreparedTask) -> str:
    counts = ", ".join(f"{split} {len(ds)}" for split, ds in task.datasets.items())
    return json.dumps({"task": task.task, "labels": len(task.label_names), "rows": counts})


__all__ = [
    "PreparedTask", "TaskMismatchError", "TASKS_OF_MODEL", "check_compatibility", "prepare_task", "describe",
    "label_prior_log_odds",
]
