"""`frozen_lame`: the LAME paper's feature-extraction baseline (frozen encoder, CNN features, label attention)."""

from __future__ import annotations

from dataclasses import replace

from labelwise.kinds.base import PreparedTask, document_length, prepare_flat
from labelwise.kinds.lame import KIND as LAME_KIND
from labelwise.kinds.lame import lame_model


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:

    def build(names, descriptions, problem_type):
        # The baseline's recipe, whatever the LAME options say: frozen encoder, descriptions encoded
        # once, CNN features before the label attention.
        return lame_model(
            args, backbone, tokenizer, names, descriptions, problem_type,
            freeze_encoder=True, label_embedding_mode="static", feature_head="cnn",
        )

    return prepare_flat(args, space, corpus, backbone, tokenizer, build, document_length(args))


# Everything else (classes, options, card, pipeline, view) is the lame kind's.
KIND = replace(
    LAME_KIND,
    name="frozen_lame",
    description="frozen encoder + CNN features + label attention (the LAME paper's feature-extraction baseline)",
    prepare=_prepare,
)
