"""`layerwise`: layer-wise guided training, classifiers on chosen layers' [CLS] predict hierarchy levels."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from labelwise.kinds.base import (
    DocumentSegmentOptions,
    ModelKind,
    PreparedTask,
    document_length,
    dropout_overrides,
    encode_corpus,
    json_option,
    label_feature_names,
    logits_of,
    model_initializes_label_biases,
    config_options,
    segment_fields,
    text_encoder,
)
from labelwise.modeling.configuration_layerwise import LayerwiseConfig
from labelwise.modeling.guidance_layerwise import DEFAULT_GUIDANCE, same_wiring
from labelwise.saved_kinds import LAYERWISE

logger = logging.getLogger(__name__)


LAYERWISE_OPTION_FIELDS = ("guidance", "layer_assignment", "layer_pooling", "segment_pooling", "level_loss_weights",
                           "hierarchical_consistency")
"""The `LayerwiseConfig` fields that are `train.py` options (the two structured ones given as JSON)."""

_ConfigOptions = config_options(
    "LayerwiseConfigOptions", LayerwiseConfig, LAYERWISE_OPTION_FIELDS, bases=(DocumentSegmentOptions,),
    cli_types={"layer_assignment": str | None, "level_loss_weights": str | None},
)


@dataclass
class LayerwiseOptions(_ConfigOptions):
    """`train.py` options of layer-wise guided training: `LayerwiseConfig`'s fields, and which levels to keep."""

    min_level: int = field(default=1, metadata={"help": "Shallowest hierarchy level kept."})
    max_level: int | None = field(default=None, metadata={"help": "Deepest hierarchy level kept (default: all)."})
    ancestor_targets: bool = field(
        default=True,
        metadata={"help": "Train on every document label plus all its ancestors (section 2 of the paper); false: on "
                  "the document's own labels only, the targets a flat classifier is trained and scored on. "
                  "Evaluation scores the same targets as training."},
    )


def label_hierarchy(args, space):
    """The corpus hierarchy restricted to `--min_level`..`--max_level` (levels renumbered from 1)."""
    hierarchy = space.hierarchy
    if args.min_level != 1 or args.max_level is not None:
        hierarchy = hierarchy.truncate(args.min_level, args.max_level)
    return hierarchy


def warn_if_wiring_repeats(config, guidance: str | None) -> None:
    """Say so when `--guidance` wires this hierarchy and encoder like another named variant, so a
    grid over the variants does not spend a run on a model it already trains under another name."""
    if guidance is None:
        return
    num_levels = max(config.label_levels)
    twins = same_wiring(guidance, num_levels, config.num_hidden_layers)
    if twins:
        logger.warning(
            "--guidance %s with %d hierarchy levels on a %d-layer encoder uses the layers %s, exactly as %s "
            "does: the runs train the same model.",
            guidance, num_levels, config.num_hidden_layers, config.layer_assignment, " and ".join(twins),
        )


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:
    import torch
    from transformers import DataCollatorWithPadding

    from labelwise.metrics.ranking import hierarchical_scores

    hierarchy = label_hierarchy(args, space)
    names = hierarchy.labels
    index = {name: i for i, name in enumerate(names)}
    levels = [hierarchy.level(name) for name in names]
    parents = [[index[p] for p in hierarchy.parents(name)] for name in names]
    corpus_names = label_feature_names(corpus)
    encode_text = text_encoder(args, tokenizer, document_length(args))

    def encode(batch: dict) -> dict:
        encoded = encode_text(batch["text"])
        targets = np.zeros((len(batch["labels"]), len(names)), dtype=np.float32)
        for row, ids in enumerate(batch["labels"]):
            # Section 2 of the paper: every document also carries all ancestors of its labels.
            labels = [corpus_names[i] for i in ids]
            for name in hierarchy.augment(labels) if args.ancestor_targets else hierarchy.kept_labels(labels):
                targets[row, index[name]] = 1.0
        encoded["labels"] = targets.tolist()
        return encoded

    encoded = encode_corpus(corpus, encode, multi_hot=True)
    assignment = json_option("layer_assignment", args.layer_assignment, dict)
    model = KIND.load_model_class().from_pretrained(
        backbone,
        id2label=dict(enumerate(names)),
        label2id=index,
        label_levels=levels,
        label_parents=parents,
        guidance=None if assignment else args.guidance,
        layer_assignment={int(k): v for k, v in assignment.items()} if assignment else None,
        level_loss_weights=json_option("level_loss_weights", args.level_loss_weights, list),
        hierarchical_consistency=args.hierarchical_consistency,
        layer_pooling=args.layer_pooling,
        segment_pooling=args.segment_pooling,
        **segment_fields(args),
        **dropout_overrides(args),
    )
    warn_if_wiring_repeats(model.config, None if assignment else args.guidance or DEFAULT_GUIDANCE)
    threshold = args.threshold

    def scores_at(gold, probabilities, at) -> dict[str, float]:
        return hierarchical_scores(gold.astype(int), probabilities, levels, threshold=np.asarray(at))

    def compute_metrics(prediction) -> dict[str, float]:
        scores = torch.sigmoid(torch.from_numpy(logits_of(prediction.predictions))).numpy()
        results = scores_at(prediction.label_ids, scores, threshold)
        # Under the name every multi-label kind reports it, so one `metric_for_best_model` serves all kinds.
        return {**results, "r_precision": results["rp_micro"]}

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
        scores_at=scores_at,
    )


def summary_hyperparameters(args, model) -> dict:
    """The wiring the model was built with, from its config: `--layer_assignment` overrides
    `--guidance`, so the flag alone would name a variant the model does not use."""
    return {
        **({} if args.ancestor_targets else {"ancestor_targets": False}),
        "guidance": model.config.guidance,
        "layer_pooling": model.config.layer_pooling,
        "layer_assignment": {str(level): layers for level, layers in model.config.layer_assignment.items()},
        **(
            {"max_document_length": model.config.max_document_length, "segment_stride": model.config.segment_stride,
             "segment_pooling": model.config.segment_pooling}
            if model.config.max_document_length is not None else {}
        ),
    }


KIND = ModelKind(
    name=LAYERWISE,
    description="layer-wise guided training: classifiers on chosen layers' [CLS] predict hierarchy levels",
    tasks=("hierarchical",),
    model_class="labelwise.modeling:LayerwiseBertForHierarchicalClassification",
    config_class="labelwise.modeling:LayerwiseConfig",
    options=LayerwiseOptions,
    prepare=_prepare,
    summary_hyperparameters=summary_hyperparameters,
    card_template="layerwise.md",
    pipeline_tag="text-classification",
    saved_kind=LAYERWISE,
    json_options=("layer_assignment", "level_loss_weights"),
    detail_metrics=("rp_level",),
    needs_hierarchy=True,
    initialize_label_biases=model_initializes_label_biases,
)
