"""`token_classification`: BIO tagging of adverse drug reactions with transformers' standard
`AutoModelForTokenClassification` (so the Hub widget runs it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from labelwise.kinds.base import ModelKind, PreparedTask
from labelwise.ner.alignment import DEFAULT_STRIDE
from labelwise.saved_kinds import TOKEN_CLASSIFICATION

MODEL_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels")
"""Columns the model reads; the window bookkeeping columns are for merging predictions."""


@dataclass
class TokenClassificationOptions:
    """`train.py` options of the ADR tagger."""

    ner_stride: int = field(
        default=DEFAULT_STRIDE, metadata={"help": "Overlap (pieces) between windows of long sentences."}
    )


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:
    from datasets import DatasetDict
    from transformers import DataCollatorForTokenClassification

    from labelwise.ner.tagger import build_token_classification_model, tokenize_and_align, window_metrics

    names = list(space.names)
    encoded = DatasetDict(
        {
            split: tokenize_and_align(dataset, tokenizer, args.max_length, args.ner_stride)
            for split, dataset in corpus.items()
        }
    )
    encoded = DatasetDict(
        {s: d.select_columns([c for c in MODEL_COLUMNS if c in d.column_names]) for s, d in encoded.items()}
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
        test_rows=corpus.get("test"),
    )


def evaluate_test(trainer, task: PreparedTask, args) -> dict[str, float]:
    """Entity scores over whole test sentences (windows merged), not over windows."""
    from labelwise.metrics.entities import entity_scores
    from labelwise.ner.tagger import predict_tags

    raw = task.test_rows
    if raw is None:
        return {}
    names = task.label_names
    predicted = predict_tags(trainer.model, task.tokenizer, raw["tokens"], max_length=args.max_length, stride=args.ner_stride)
    gold = [[names[i] for i in tags] for tags in raw["ner_tags"]]
    scores = entity_scores(gold, predicted)
    return {key: scores[key] for key in ("precision", "recall", "f1")}


KIND = ModelKind(
    name=TOKEN_CLASSIFICATION,
    description="BIO token classification (transformers' BertForTokenClassification) for ADR NER",
    tasks=("ner",),
    model_class="transformers:AutoModelForTokenClassification",
    config_class="transformers:AutoConfig",
    options=TokenClassificationOptions,
    prepare=_prepare,
    card_template="token_classification.md",
    pipeline_tag="token-classification",
    saved_kind=TOKEN_CLASSIFICATION,
    evaluate_test=evaluate_test,
)
