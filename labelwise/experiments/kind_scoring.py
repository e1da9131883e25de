"""A trained model's label scores on a corpus's dev and test splits, read exactly as its training read them.

`labelwise.evaluate` scores a saved model as a user would (its tokenizer, truncation at the trained
length). A study that compares methods through their training code scores them here instead: the
documents go through the kind's own encoding (`prepare_task`, so options such as
`max_document_length` apply as in training) and `Trainer.predict`, and a model may be read with
other document lengths or shortlist sizes than it was trained with (`reading_overrides`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dev_shortlist_recall", "model_scores", "reading_overrides"]


def _parsed(options: dict[str, Any]):
    """`(LabelwiseArguments, TrainingArguments)` of `train.py` options (keyword form, with `output_dir`)."""
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import options_to_argv

    return parse_arguments(options_to_argv(options))


def reading_overrides(args, config) -> dict:
    """Config fields a scored model takes from its scoring options rather than from its training: how it
    reads a document (segments up to `max_document_length`) and how many first-stage labels its head
    scores (`shortlist_size`, 0 for every label). Empty for a model scored as it was trained."""
    from labelwise.kinds.base import segment_fields

    overrides = {}
    if getattr(args, "max_document_length", None) and hasattr(config, "max_document_length"):
        overrides.update(segment_fields(args))
    if getattr(config, "uses_first_stage", False) and getattr(args, "shortlist_size", None) is not None:
        overrides["shortlist_size"] = args.shortlist_size
    return overrides


def model_scores(options: dict[str, Any], model_dir: Path, names: Sequence[str], ids: dict[str, list[str]],
                 new_labels: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Sigmoid scores of the model in `model_dir` on the dev and test splits of `options`' corpus.

    Args:
        options: the `train.py` options of the run (keyword form, with `output_dir`: a scratch folder
            will do); they say how the documents are read.
        names: the label columns wanted, in order; each must be an output of the model.
        ids: split -> the document ids expected, in order (a check that the splits are the ones meant).
        new_labels: name -> description of labels to add first with `model.add_labels` (a head that
            scores labels from their descriptions).

    Returns:
        `{"validation": (documents, len(names)), "test": ...}`.
    """
    import torch

    from labelwise.backbone import resolve_backbone
    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.kinds import get_kind
    from labelwise.kinds.base import logits_of
    from labelwise.training.cli import build_trainer
    from labelwise.training.tasks import prepare_task

    args, training_args = _parsed(options)
    training_args.report_to = []
    space = load_label_space(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    corpus = load_corpus(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    for split, expected in ids.items():
        if list(corpus[split]["id"]) != list(expected):
            raise ValueError(f"{args.data_dir}: the {split} documents differ between the two readings of the subset.")
    task = prepare_task(args, space, corpus, resolve_backbone(args.model_name_or_path), seed=training_args.seed)
    model = get_kind(args.model).load_model_class().from_pretrained(str(model_dir)).eval()
    model.config.update(reading_overrides(args, model.config))
    if new_labels:
        if not hasattr(model, "add_labels"):
            raise ValueError(f"{model_dir}: this model cannot take new labels (no add_labels; issue 13's head).")
        model.add_labels(dict(new_labels), task.tokenizer)
    task.model = model
    trainer = build_trainer(args, training_args, task)
    position = {model.config.id2label[i]: i for i in range(model.config.num_labels)}
    missing = [n for n in names if n not in position]
    if missing:
        raise ValueError(f"{model_dir}: the model has no output for {len(missing)} label(s), e.g. {missing[:3]}.")
    order = np.array([position[n] for n in names])
    out = {}
    for split in ("validation", "test"):
        prediction = trainer.predict(task.datasets[split].remove_columns("labels"), metric_key_prefix=split)
        logits = torch.from_numpy(np.asarray(logits_of(prediction.predictions), dtype=np.float32))
        out[split] = torch.sigmoid(logits).numpy()[:, order]
    return out


def dev_shortlist_recall(options: dict[str, Any], model_dir: Path, texts: list[str], names: Sequence[str],
                         gold: np.ndarray) -> float | None:
    """Share of the gold labels of `texts` (`gold`: `(documents, len(names))`, columns `names`) inside
    LAME's first-stage shortlist, or None when the model has no shortlist. Documents are read as
    `train.py --max_length` truncates them."""
    import torch
    from transformers import AutoTokenizer

    from labelwise.kinds import get_kind
    from labelwise.modeling import shortlist_recall

    args, training_args = _parsed(options)
    model = get_kind(args.model).load_model_class().from_pretrained(str(model_dir)).eval()
    config = model.config
    if not getattr(config, "uses_first_stage", False) or not getattr(config, "effective_shortlist_size", 0):
        return None
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    position = {config.id2label[i]: i for i in range(config.num_labels)}
    targets = np.zeros((len(texts), config.num_labels), dtype=np.int8)
    for column, name in enumerate(names):
        targets[:, position[name]] = gold[:, column]
    shortlists = []
    batch = training_args.per_device_eval_batch_size
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            encoded = tokenizer(texts[start : start + batch], truncation=True, max_length=args.max_length,
                                padding=True, return_tensors="pt")
            shortlists.append(model.shortlist_labels(encoded["input_ids"], encoded["attention_mask"]))
    return shortlist_recall(torch.cat(shortlists), torch.from_numpy(targets))
