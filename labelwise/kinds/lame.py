"""`lame`: LAME, the encoder reads documents and label descriptions; label attention; a per-label output."""

from __future__ import annotations

import logging

from labelwise.kinds.base import (
    DocumentSegmentOptions,
    ModelKind,
    PreparedTask,
    document_length,
    dropout_overrides,
    model_initializes_label_biases,
    config_options,
    prepare_flat,
    segment_fields,
)
from labelwise.modeling.configuration_lame import LameConfig
from labelwise.modeling.labels_lame import tokenize_descriptions
from labelwise.saved_kinds import LAME

logger = logging.getLogger("labelwise.train")


LAME_OPTION_FIELDS = (
    "loss", "f_measure_average", "label_attention_heads", "num_label_attention_blocks", "label_embedding_mode",
    "max_description_length", "description_pooling", "label_sampling", "label_sample_negatives",
    "description_gradients", "all_label_loss", "all_label_loss_gradient", "hard_negative_fraction",
    "label_cache_refresh_steps", "first_stage", "first_stage_loss_weight", "shortlist_size", "label_chunk_size",
    "description_batch_size", "light_label_head", "label_scoring", "similarity_term", "similarity_scale",
    "document_classifier",
)
"""The `LameConfig` fields that are `train.py` options of the label-attention kinds (`lame`, `frozen_lame`).
Adding a LAME setting: declare it in `LameConfig` (signature, docstring) and name it here."""

# Fields whose config default is "auto" (decided by the label count, `scale_defaults`): on the command
# line they are typed, and unset (None) means "auto".
UNSET_MEANS_AUTO = {
    "shortlist_size": int | None, "all_label_loss": bool | None, "label_sample_negatives": int | None,
    "document_classifier": bool | None,
}

LameOptions = config_options(
    "LameOptions", LameConfig, LAME_OPTION_FIELDS, bases=(DocumentSegmentOptions,), unset_types=UNSET_MEANS_AUTO
)
LameOptions.__doc__ = "`train.py` options of the label-attention kinds (`lame`, `frozen_lame`), declared by `LameConfig`."


DROPOUT_FIELDS = ("label_attention_dropout",)


def lame_model(
    args, backbone: str, tokenizer, names: list[str], descriptions: list[str] | None, problem_type: str, **fields
):
    """`LameForSequenceClassification` warm-started from `backbone`; `fields` override the options.

    `descriptions` are in the order of `names`; they are tokenized here with the run's `tokenizer`
    (`backbone`'s), so loading the model does not load the tokenizer a second time.
    """
    values = {name: getattr(args, name) for name in LAME_OPTION_FIELDS}
    values.update({name: "auto" for name in UNSET_MEANS_AUTO if values[name] is None})
    values.update(freeze_encoder=False, feature_head="none", **segment_fields(args))
    values.update(fields)
    token_ids = tokenize_descriptions(descriptions, tokenizer, values["max_description_length"]) if descriptions else None
    model = KIND.load_model_class().from_pretrained(
        backbone,
        label_descriptions=descriptions,
        label_description_token_ids=token_ids,
        problem_type=problem_type,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        **values,
        **dropout_overrides(args, DROPOUT_FIELDS),
    )
    warn_identical_descriptions(model.config)
    return model


def identical_descriptions(config) -> list[list[str]]:
    """Groups of labels whose description token ids are the same (after truncation to
    `max_description_length`): LAME gives each group one label state, so only a label-specific output
    row can tell them apart."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for name, ids in zip(config.labels, config.label_description_token_ids or []):
        groups.setdefault(tuple(ids), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def warn_identical_descriptions(config) -> None:
    """Log every group of `identical_descriptions`, saying whether truncation made them equal."""
    texts = dict(zip(config.labels, config.label_descriptions or []))
    for group in identical_descriptions(config):
        shown = ", ".join(repr(name) for name in group[:5]) + (f" and {len(group) - 5} more" if len(group) > 5 else "")
        cause = (
            "their descriptions are the same text"
            if len({texts.get(name) for name in group}) == 1
            else f"their descriptions differ only after the first {config.max_description_length} pieces "
            "(--max_description_length)"
        )
        agnostic = " and identical scores" if config.label_agnostic else ""
        logger.warning(
            "Labels %s get identical label states%s: %s. Give each a description of its own%s.",
            shown, agnostic, cause,
            "" if cause.startswith("their descriptions are") else ", or raise --max_description_length",
        )


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:
    return prepare_flat(
        args, space, corpus, backbone, tokenizer,
        lambda names, descriptions, problem_type: lame_model(args, backbone, tokenizer, names, descriptions, problem_type),
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
                      label_cache_refresh_steps=config.label_cache_refresh_steps,
                      description_gradients=config.description_gradients)
        if config.uses_all_label_loss:
            values.update(all_label_loss=True, all_label_loss_gradient=config.all_label_loss_gradient)
    if config.uses_first_stage:
        values.update(first_stage="bilinear", shortlist_size=config.effective_shortlist_size)
    if config.light_label_head:
        values["light_label_head"] = True
    if config.uses_document_classifier:
        values["document_classifier"] = True
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
