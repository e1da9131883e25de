"""`lame`: LAME, the encoder reads documents and label descriptions; label attention; a per-label output."""

from __future__ import annotations

from dataclasses import dataclass, field

from labelwise.kinds.base import ModelKind, PreparedTask, dropout_overrides, prepare_flat


@dataclass
class LameOptions:
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
        freeze_encoder=False,
        feature_head="none",
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
    )


def summary_hyperparameters(args, model) -> dict:
    """The loss the model was trained with (from its config)."""
    if model.config.loss == "f_measure":
        return {"loss": model.config.loss, "f_measure_average": model.config.f_measure_average}
    return {"loss": model.config.loss}


KIND = ModelKind(
    name="lame",
    description="LAME: the encoder reads documents and label descriptions, label attention, then a per-label output",
    tasks=("multi_label", "multi_class"),
    model_class="labelwise.modeling:LameForSequenceClassification",
    config_class="labelwise.modeling:LameConfig",
    options=LameOptions,
    prepare=_prepare,
    summary_hyperparameters=summary_hyperparameters,
    card_template="lame.md",
    pipeline_tag="text-classification",
    pipeline_task="label-attention-classification",
    pipeline_file="pipeline_lame.py",
    model_type="lame",
    view="lame",
    dropout_fields=DROPOUT_FIELDS,
    needs_descriptions=True,
)
