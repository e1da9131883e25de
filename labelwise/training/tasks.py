"""Everything that differs between model kinds: model, encoded data, metrics, how to save.

`prepare_task` checks that the corpus fits the model kind before anything is trained (LAME needs
label descriptions, the layer-wise model a hierarchy, the tagger BIO tags) and returns a
[`PreparedTask`] that `labelwise.training.cli` hands to the Trainer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from datasets import ClassLabel, DatasetDict, List, Value
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    pipeline,
)

from labelwise.data_scripts import LabelSpace
from labelwise.data_scripts.hierarchy import Hierarchy
from labelwise.metrics.classification import multiclass_scores, multilabel_scores
from labelwise.metrics.ranking import hierarchical_scores
from .arguments import LabelwiseArguments, _json_option

TASKS_OF_MODEL = {
    "lame": ("multi_label", "multi_class"),
    "vanilla": ("multi_label", "multi_class", "hierarchical"),
    "frozen_lame": ("multi_label", "multi_class"),
    "layerwise": ("hierarchical",),
    "token_classification": ("ner",),
}


@dataclass
class PreparedTask:
    """A model with its data, collator, metrics and saving recipe, ready for the Trainer."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    datasets: DatasetDict
    collator: Callable
    compute_metrics: Callable
    metric_for_best_model: str
    greater_is_better: bool
    task: str
    label_names: list[str]
    label_descriptions: dict[str, str] | None = None
    label_levels: dict[str, int] | None = None
    notes: dict = field(default_factory=dict)

    def save(self, folder: str) -> None:
        """Save a Hub-ready folder: weights, config (+ auto_map), remote code, tokenizer, pipeline."""
        model = self.model
        task_name = None
        if getattr(model.config, "model_type", None) == "lame":
            task_name = "label-attention-classification"
        elif getattr(model.config, "model_type", None) == "labelwise_layerwise":
            task_name = "hierarchical-classification"
        if task_name is not None:
            # Saving through the custom pipeline records it in config.json (`custom_pipelines`) and
            # copies its file next to the model code, so `pipeline(model=repo, trust_remote_code=True)` works.
            import labelwise.modeling  # noqa: F401  (registers the custom pipeline tasks)

            pipeline(task_name, model=model, tokenizer=self.tokenizer).save_pretrained(folder)
        else:
            model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)


class TaskMismatchError(ValueError):
    """The corpus does not provide what the model kind needs."""


def check_compatibility(args: LabelwiseArguments, space: LabelSpace) -> None:
    """Fail before training when the corpus lacks what the model kind needs."""
    allowed = TASKS_OF_MODEL[args.model]
    if space.task not in allowed:
        raise TaskMismatchError(
            f"--model {args.model} trains on {' or '.join(allowed)} corpora, but corpus {args.corpus!r} is "
            f"{space.task}. Pick a matching corpus or model."
        )
    if args.model in ("lame", "frozen_lame") and not space.descriptions:
        raise TaskMismatchError(
            f"--model {args.model} needs one description per label, but corpus {args.corpus!r} provides none. "
            "Add descriptions to the corpus builder, or train --model vanilla."
        )
    if args.model == "layerwise" and space.hierarchy is None:
        raise TaskMismatchError(
            f"--model layerwise needs a label hierarchy, but corpus {args.corpus!r} has none. "
            "Use a hierarchical corpus (eurlex57k, mimic3, demo_hierarchical) or a flat model."
        )


def prepare_task(
    args: LabelwiseArguments, space: LabelSpace, corpus: DatasetDict, backbone: str
) -> PreparedTask:
    """Build model, tokenizer, encoded splits and metrics for `args.model` on `corpus`."""
    check_compatibility(args, space)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    corpus = _limit(corpus, args)
    if args.model == "token_classification":
        return _prepare_tagger(args, space, corpus, backbone, tokenizer)
    if args.model == "layerwise":
        return _prepare_layerwise(args, space, corpus, backbone, tokenizer)
    return _prepare_flat(args, space, corpus, backbone, tokenizer)


def _limit(corpus: DatasetDict, args: LabelwiseArguments) -> DatasetDict:
    limited = {}
    for split, dataset in corpus.items():
        cap = args.max_train_samples if split == "train" else args.max_eval_samples
        limited[split] = dataset.select(range(min(cap, len(dataset)))) if cap is not None else dataset
    return DatasetDict(limited)


def dropout_overrides(args: LabelwiseArguments) -> dict:
    """Config fields that `--dropout` sets: encoder, attention and head dropout alike."""
    if args.dropout is None:
        return {}
    rate = args.dropout
    overrides = dict(hidden_dropout_prob=rate, attention_probs_dropout_prob=rate, classifier_dropout=rate)
    if args.model in ("lame", "frozen_lame"):
        overrides["label_attention_dropout"] = rate
    return overrides


def _text_encoder(args: LabelwiseArguments, tokenizer: PreTrainedTokenizerBase) -> Callable[[list[str]], dict]:
    clean = None
    if args.preprocess_documents:
        from labelwise.data_scripts.text_preprocessing import preprocess_document as clean
    def encode(texts: list[str]) -> dict:
        if clean is not None:
            texts = [clean(text) for text in texts]
        return tokenizer(texts, truncation=True, max_length=args.max_length)

    return encode


# ----------------------------------------------------------------------- flat classifiers
def _prepare_flat(args, space: LabelSpace, corpus: DatasetDict, backbone: str, tokenizer) -> PreparedTask:
    multi_label = space.task != "multi_class"
    names = list(space.names)
    problem_type = "multi_label_classification" if multi_label else "single_label_classification"
    encode_text = _text_encoder(args, tokenizer)

    def encode(batch: dict) -> dict:
        encoded = encode_text(batch["text"])
        if multi_label:
            targets = np.zeros((len(batch["labels"]), len(names)), dtype=np.float32)
            for row, ids in enumerate(batch["labels"]):
                targets[row, ids] = 1.0
            encoded["labels"] = targets.tolist()
        else:
            encoded["labels"] = list(batch["labels"])
        return encoded

    encoded = _encode(corpus, encode, multi_hot=multi_label)
    descriptions = dict(zip(names, space.descriptions)) if space.descriptions else None
    label_maps = dict(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    if args.model == "vanilla":
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone, num_labels=len(names), problem_type=problem_type, **label_maps, **dropout_overrides(args)
        )
    else:
        from labelwise.modeling import LameForSequenceClassification

        frozen = args.model == "frozen_lame"
        model = LameForSequenceClassification.from_pretrained(
            backbone,
            label_descriptions=descriptions,
            problem_type=problem_type,
            loss=args.loss,
            f_measure_average=args.f_measure_average,
            label_attention_heads=args.label_attention_heads,
            num_label_attention_blocks=args.num_label_attention_blocks,
            label_embedding_mode="static" if frozen else args.label_embedding_mode,
            max_description_length=args.max_description_length,
            label_sampling=args.label_sampling,
            label_sample_negatives=args.label_sample_negatives,
            hard_negative_fraction=args.hard_negative_fraction,
            label_cache_refresh_steps=args.label_cache_refresh_steps,
            first_stage=args.first_stage,
            first_stage_loss_weight=args.first_stage_loss_weight,
            shortlist_size=args.shortlist_size,
            label_chunk_size=args.label_chunk_size,
            description_batch_size=args.description_batch_size,
            light_label_head=args.light_label_head,
            freeze_encoder=frozen,
            feature_head="cnn" if frozen else "none",
            **label_maps,
            **dropout_overrides(args),
        )
    threshold = args.threshold

    def compute_metrics(prediction) -> dict[str, float]:
        logits, labels = _logits(prediction.predictions), prediction.label_ids
        if multi_label:
            predicted = (torch.sigmoid(torch.from_numpy(logits)).numpy() >= threshold).astype(int)
            return multilabel_scores(labels.astype(int), predicted)
        return multiclass_scores(labels, logits.argmax(-1))

    return PreparedTask(
        model=model,
        tokenizer=tokenizer,
        datasets=encoded,
        collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        metric_for_best_model="micro_f1" if multi_label else "accuracy",
        greater_is_better=True,
        task=space.task if space.task != "hierarchical" else "multi_label",
        label_names=names,
        label_descriptions=descriptions,
    )


def _logits(predictions) -> np.ndarray:
    # Models return (logits, extras...) when they output more than the logits.
    return predictions[0] if isinstance(predictions, tuple) else predictions


def _encode(corpus: DatasetDict, encode: Callable[[dict], dict], multi_hot: bool = False) -> DatasetDict:
    encoded = {}
    for split, dataset in corpus.items():
        result = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc=f"Encoding {split}")
        if multi_hot:
            # `map` keeps the corpus's ClassLabel type for the re-used `labels` name, which would
            # turn the 0/1 vectors into integers; BCE losses need floats.
            result = result.cast_column("labels", List(Value("float32")))
        encoded[split] = result
    return DatasetDict(encoded)


# ------------------------------------------------------------------------- layer-wise
def label_hierarchy(args: LabelwiseArguments, space: LabelSpace) -> Hierarchy:
    """The corpus hierarchy restricted to `--min_level`..`--max_level` (levels renumbered from 1)."""
    hierarchy = space.hierarchy
    if args.min_level != 1 or args.max_level is not None:
        hierarchy = hierarchy.truncate(args.min_level, args.max_level)
    return hierarchy


def _prepare_layerwise(args, space: LabelSpace, corpus: DatasetDict, backbone: str, tokenizer) -> PreparedTask:
    from labelwise.modeling import LayerwiseBertForHierarchicalClassification

    hierarchy = label_hierarchy(args, space)
    names = hierarchy.labels
    index = {name: i for i, name in enumerate(names)}
    levels = [hierarchy.level(name) for name in names]
    parents = [[index[p] for p in hierarchy.parents(name)] for name in names]
    corpus_names = _label_feature_names(corpus)
    encode_text = _text_encoder(args, tokenizer)

    def encode(batch: dict) -> dict:
        encoded = encode_text(batch["text"])
        targets = np.zeros((len(batch["labels"]), len(names)), dtype=np.float32)
        for row, ids in enumerate(batch["labels"]):
            # Section 2 of the paper: every document also carries all ancestors of its labels.
            for name in hierarchy.augment([corpus_names[i] for i in ids]):
                targets[row, index[name]] = 1.0
        encoded["labels"] = targets.tolist()
        return encoded

    encoded = _encode(corpus, encode, multi_hot=True)
    assignment = _json_option("layer_assignment", args.layer_assignment, dict)
    model = LayerwiseBertForHierarchicalClassification.from_pretrained(
        backbone,
        id2label=dict(enumerate(names)),
        label2id=index,
        label_levels=levels,
        label_parents=parents,
        guidance=None if assignment else args.guidance,
        layer_assignment={int(k): v for k, v in assignment.items()} if assignment else None,
        level_loss_weights=_json_option("level_loss_weights", args.level_loss_weights, list),
        hierarchical_consistency=args.hierarchical_consistency,
        layer_pooling=args.layer_pooling,
        **dropout_overrides(args),
    )
    threshold = args.threshold

    def compute_metrics(prediction) -> dict[str, float]:
        scores = torch.sigmoid(torch.from_numpy(_logits(prediction.predictions))).numpy()
        return hierarchical_scores(prediction.label_ids.astype(int), scores, levels, threshold=threshold)

    return PreparedTask(
        model=model,
        tokenizer=tokenizer,
        datasets=encoded,
        collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        metric_for_best_model="loss",  # the paper stops early on validation loss
        greater_is_better=False,
        task="hierarchical",
        label_names=names,
        label_descriptions=dict(zip(space.names, space.descriptions)) if space.descriptions else None,
        label_levels=dict(zip(names, levels)),
        notes={"hierarchy_depth": max(levels), "layer_assignment": model.config.layer_assignment},
    )


def _label_feature_names(corpus: DatasetDict) -> list[str]:
    feature = next(iter(corpus.values())).features["labels"]
    inner = getattr(feature, "feature", feature)
    if not isinstance(inner, ClassLabel):
        raise TaskMismatchError("The corpus's `labels` column is not a (sequence of) ClassLabel.")
    return list(inner.names)


# ------------------------------------------------------------------------------ tagger
def _prepare_tagger(args, space: LabelSpace, corpus: DatasetDict, backbone: str, tokenizer) -> PreparedTask:
    from labelwise.ner.tagger import build_token_classification_model, tokenize_and_align, window_metrics

    names = list(space.names)
    encoded = DatasetDict(
        {
            split: tokenize_and_align(dataset, tokenizer, args.max_length, args.ner_stride)
            for split, dataset in corpus.items()
        }
    )
    # Window bookkeeping columns are for merging predictions, not model inputs.
    model_columns = ["input_ids", "attention_mask", "token_type_ids", "labels"]
    encoded = DatasetDict(
        {s: d.select_columns([c for c in model_columns if c in d.column_names]) for s, d in encoded.items()}
    )
    return PreparedTask(
        model=build_token_classification_model(backbone, names),
        tokenizer=tokenizer,
        datasets=encoded,
        collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=window_metrics(names),
        metric_for_best_model="f1",
        greater_is_better=True,
        task="ner",
        label_names=names,
        notes={"raw_test": corpus.get("test")},
    )


def describe(task: PreparedTask) -> str:
    counts = ", ".join(f"{split} {len(ds)}" for split, ds in task.datasets.items())
    return json.dumps({"task": task.task, "labels": len(task.label_names), "rows": counts})
