"""`frozen_lame`: the LAME paper's feature-extraction baseline (frozen encoder, CNN features, label attention)."""

from __future__ import annotations

from labelwise.kinds.base import ModelKind, PreparedTask, prepare_flat
from labelwise.kinds.lame import DROPOUT_FIELDS, LameOptions, lame_model
from labelwise.kinds.lame import summary_hyperparameters as lame_summary


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:

    def build(names, descriptions, problem_type):
        # The baseline's recipe, whatever the LAME options say: frozen encoder, descriptions encoded
        # once, CNN features before the label attention.
        return lame_model(
            args, backbone, names, descriptions, problem_type,
            freeze_encoder=True, label_embedding_mode="static", feature_head="cnn",
        )

    return prepare_flat(args, space, corpus, backbone, tokenizer, build)


KIND = ModelKind(
    name="frozen_lame",
    description="frozen encoder + CNN features + label attention (the LAME paper's feature-extraction baseline)",
    tasks=("multi_label", "multi_class"),
    model_class="labelwise.modeling:LameForSequenceClassification",
    config_class="labelwise.modeling:LameConfig",
    options=LameOptions,
    prepare=_prepare,
    summary_hyperparameters=lame_summary,
    card_template="lame.md",
    pipeline_tag="text-classification",
    pipeline_task="label-attention-classification",
    pipeline_file="pipeline_lame.py",
    model_type="lame",
    view="lame",
    dropout_fields=DROPOUT_FIELDS,
    needs_descriptions=True,
)
