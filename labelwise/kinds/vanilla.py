"""`vanilla`: plain fine-tuning, transformers' `BertForSequenceClassification` on [CLS]."""

from __future__ import annotations

from labelwise.kinds.base import ModelKind, PreparedTask, dropout_overrides, prepare_flat
from labelwise.saved_kinds import SEQUENCE_CLASSIFICATION


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:

    def build(names, descriptions, problem_type):
        return KIND.load_model_class().from_pretrained(
            backbone,
            num_labels=len(names),
            problem_type=problem_type,
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
            **dropout_overrides(args),
        )

    return prepare_flat(args, space, corpus, backbone, tokenizer, build)


def _initialize_label_biases(model, log_odds) -> None:
    import torch

    with torch.no_grad():
        model.classifier.bias.copy_(log_odds.to(model.classifier.bias.dtype))


KIND = ModelKind(
    name="vanilla",
    description="plain fine-tuning: transformers' BertForSequenceClassification on [CLS]",
    tasks=("multi_label", "multi_class", "hierarchical"),
    model_class="transformers:AutoModelForSequenceClassification",
    config_class="transformers:AutoConfig",
    prepare=_prepare,
    card_template="vanilla.md",
    pipeline_tag="text-classification",
    saved_kind=SEQUENCE_CLASSIFICATION,
    initialize_label_biases=_initialize_label_biases,
)
