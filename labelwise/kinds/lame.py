"""`lame`: LAME, the encoder reads documents and label descriptions; label attention; a per-label output."""

from __future__ import annotations

from dataclasses import dataclass, field

from labelwise.kinds.base import (
    DocumentSegmentOptions,
    ModelKind,
    PreparedTask,
    document_length,
    dropout_overrides,
    model_initializes_label_biases,
    prepare_flat,
    segment_fields,
)
from labelwise.saved_kinds import LAME


@dataclass
class LameOptions(DocumentSegmentOptions):
    """`train.py` options of the label-attention kinds (`lame`, `frozen_lame`)."""

    loss: str = field(default="bce", metadata={"help": "Multi-label loss of LAME: bce or f_measure."})
    f_measure_average: str = field(
        default="micro",
        metadata={"help": "F-measure loss counts: micro (pooled over the batch, the paper) or macro (per label, "
                  "averaged; the LAME authors' code)."},
    )
    label_attention_heads: int = field(default=12, metadata={"help": "Heads of the label attention."})
    num_label_attention_blocks: int = field(default=1, metadata={"help": "Stacked label-attention blocks."})
    label_embedding_mode: str = field(default="joint", metadata={"help": "joint (fine-tuned) or static descriptions."})
    max_description_length: int = field(default=64, metadata={"help": "Token budget of one label description."})
    description_pooling: str = field(
        default="auto",
        metadata={"help": "Label embedding from a description's token states: cls (the [CLS] state, the paper), "
                  "mean (their masked mean, as sentence encoders such as all-MiniLM-L6-v2 were trained) or auto "
                  "(mean with --label_scoring label_agnostic, cls otherwise)."},
    )
    label_sampling: str = field(
        default="auto",
        metadata={"help": "LAME descriptions encoded with gradient per step: none (all), sampled (the batch's "
                  "positives + label_sample_negatives), auto (sampled above 256 labels, multi-label)."},
    )
    label_sample_negatives: int = field(default=64, metadata={"help": "Negative labels per step under sampling."})
    all_label_loss: bool | None = field(
        default=None,
        metadata={"help": "Under sampled training, every label's logit in the loss at every step (the other labels' "
                  "queries from the training cache; description gradients stay sampled). Default: as the label "
                  "count decides (labelwise.modeling.configuration_lame.scale_defaults)."},
    )
    hard_negative_fraction: float = field(
        default=0.5, metadata={"help": "Share of those negatives that are the first stage's top-scored ones."}
    )
    label_cache_refresh_steps: int = field(
        default=100, metadata={"help": "Optimizer steps between re-encodings of the training label cache."}
    )
    first_stage: str = field(
        default="auto", metadata={"help": "Cheap all-label scorer: none, bilinear, auto (bilinear above 256 labels)."}
    )
    first_stage_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the first stage's loss."})
    shortlist_size: int | None = field(
        default=None,
        metadata={"help": "At inference, run LAME's head on the first stage's top-k labels (0: all). Default: as the "
                  "label count decides (scale_defaults: 256 above 256 labels, where the first stage is on; else 0), "
                  "the same rule as LameForSequenceClassification.from_pretrained in Python."},
    )
    label_chunk_size: int = field(default=512, metadata={"help": "Labels per chunk in LAME's head (0: all at once)."})
    description_batch_size: int = field(
        default=64, metadata={"help": "Descriptions encoded together without gradient (label caches)."}
    )
    light_label_head: bool = field(
        default=False, metadata={"help": "LAME head without the feed-forward and dense layers (cheaper per label)."}
    )
    label_scoring: str = field(
        default="label_specific",
        metadata={"help": "LAME output layer: label_specific (a weight row per label, the paper) or label_agnostic "
                  "(computed from each label's description: labels unseen in training can be scored)."},
    )
    similarity_term: bool | None = field(
        default=None,
        metadata={"help": "label_agnostic only: add a learned multiple of the cosine between the document's mean "
                  "token state and the label's description embedding to each logit (with --description_pooling "
                  "mean the head starts from the encoder's own similarity ranking). Default: on with "
                  "--label_scoring label_agnostic, off otherwise."},
    )
    similarity_scale: float = field(default=10.0, metadata={"help": "Initial value of that learned multiple."})


DROPOUT_FIELDS = ("label_attention_dropout",)


def lame_model(
    args, backbone: str, names: list[str], descriptions: dict[str, str] | None, problem_type: str, **fields
):
    """`LameForSequenceClassification` warm-started from `backbone`; `fields` override the options."""
    values = dict(
        loss=args.loss,
        f_measure_average=args.f_measure_average,
        label_attention_heads=args.label_attention_heads,
        num_label_attention_blocks=args.num_label_attention_blocks,
        label_embedding_mode=args.label_embedding_mode,
        max_description_length=args.max_description_length,
        description_pooling=args.description_pooling,
        label_sampling=args.label_sampling,
        label_sample_negatives=args.label_sample_negatives,
        all_label_loss="auto" if args.all_label_loss is None else args.all_label_loss,
        hard_negative_fraction=args.hard_negative_fraction,
        label_cache_refresh_steps=args.label_cache_refresh_steps,
        first_stage=args.first_stage,
        first_stage_loss_weight=args.first_stage_loss_weight,
        shortlist_size="auto" if args.shortlist_size is None else args.shortlist_size,
        label_chunk_size=args.label_chunk_size,
        description_batch_size=args.description_batch_size,
        light_label_head=args.light_label_head,
        label_scoring=args.label_scoring,
        similarity_term=args.similarity_term,
        similarity_scale=args.similarity_scale,
        freeze_encoder=False,
        feature_head="none",
        **segment_fields(args),
    )
    values.update(fields)
    return KIND.load_model_class().from_pretrained(
        backbone,
        label_descriptions=descriptions,
        problem_type=problem_type,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        **values,
        **dropout_overrides(args, DROPOUT_FIELDS),
    )


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:
    return prepare_flat(
        args, space, corpus, backbone, tokenizer,
        lambda names, descriptions, problem_type: lame_model(args, backbone, names, descriptions, problem_type),
        document_length(args),
    )


def summary_hyperparameters(args, model) -> dict:
    """The loss and the label-scaling options the model was trained with (from its config, "auto" resolved)."""
    config = model.config
    values = {"loss": config.loss}
    if config.loss == "f_measure":
        values["f_measure_average"] = config.f_measure_average
    if config.uses_label_sampling:
        values.update(label_sampling="sampled", label_sample_negatives=config.label_sample_negatives,
                      hard_negative_fraction=config.hard_negative_fraction,
                      label_cache_refresh_steps=config.label_cache_refresh_steps)
        if config.uses_all_label_loss:
            values["all_label_loss"] = True
    if config.uses_first_stage:
        values.update(first_stage="bilinear", shortlist_size=config.effective_shortlist_size)
    if config.light_label_head:
        values["light_label_head"] = True
    if config.max_document_length is not None:
        values.update(max_document_length=config.max_document_length, segment_stride=config.segment_stride)
    if config.label_agnostic:
        values["label_scoring"] = config.label_scoring
    if config.pools_descriptions != "cls":
        values["description_pooling"] = config.pools_descriptions
    if config.uses_similarity_term:
        values.update(similarity_term=True, similarity_scale=config.similarity_scale)
    return values


KIND = ModelKind(
    name=LAME,
    description="LAME: the encoder reads documents and label descriptions, label attention, then a per-label output",
    # A hierarchical corpus (EURLEX57K, MIMIC-III) trains as flat multi-label: every label its own output.
    tasks=("multi_label", "multi_class", "hierarchical"),
    model_class="labelwise.modeling:LameForSequenceClassification",
    config_class="labelwise.modeling:LameConfig",
    options=LameOptions,
    prepare=_prepare,
    summary_hyperparameters=summary_hyperparameters,
    card_template="lame.md",
    pipeline_tag="text-classification",
    saved_kind=LAME,
    dropout_fields=DROPOUT_FIELDS,
    needs_descriptions=True,
    initialize_label_biases=model_initializes_label_biases,
)
