"""Prepare a model kind's task for the Trainer: model, encoded data, metrics, how to save.

What differs between kinds lives in the kind's module (`labelwise.kinds`); `prepare_task` checks
that the corpus fits the kind before anything is trained (LAME needs label descriptions, the
layer-wise model a hierarchy, the tagger BIO tags) and returns a [`PreparedTask`] that
`labelwise.training.cli` hands to the Trainer.
"""

from __future__ import annotations

import json

from datasets import DatasetDict
from transformers import AutoTokenizer

from labelwise.data_scripts import LabelSpace, subsample
from labelwise.kinds import KINDS, get_kind
from labelwise.kinds.base import PreparedTask, TaskMismatchError
from labelwise.training.arguments import LabelwiseArguments

TASKS_OF_MODEL = {name: kind.tasks for name, kind in KINDS.items()}
"""Corpus tasks each model kind trains on (from the registry)."""


def check_compatibility(args: LabelwiseArguments, space: LabelSpace) -> None:
    """Fail before training when the corpus lacks what the model kind needs."""
    get_kind(args.model).check(args, space)


def prepare_task(
    args: LabelwiseArguments, space: LabelSpace, corpus: DatasetDict, backbone: str, seed: int = 42
) -> PreparedTask:
    """Build model, tokenizer, encoded splits and metrics for `args.model` on `corpus`
    (`seed`: the run's seed, which draws the `--max_*_samples` subsets)."""
    kind = get_kind(args.model)
    kind.check(args, space)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    corpus = _limit(corpus, args, seed)
    task = kind.prepare(args, space, corpus, backbone, tokenizer)
    task.pipeline_task = kind.pipeline_task
    return task


def _limit(corpus: DatasetDict, args: LabelwiseArguments, seed: int) -> DatasetDict:
    # A seeded random subset: the first rows of a corpus ordered by document (TAC sections
    # grouped by drug label) would come from a handful of documents.
    limited = {}
    for split, dataset in corpus.items():
        cap = args.max_train_samples if split == "train" else args.max_eval_samples
        limited[split] = subsample(dataset, cap, seed)
    return DatasetDict(limited)


def describe(task: PreparedTask) -> str:
    counts = ", ".join(f"{split} {len(ds)}" for split, ds in task.datasets.items())
    return json.dumps({"task": task.task, "labels": len(task.label_names), "rows": counts})


__all__ = ["PreparedTask", "TaskMismatchError", "TASKS_OF_MODEL", "check_compatibility", "prepare_task", "describe"]
