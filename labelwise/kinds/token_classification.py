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

    ner_stride: int | None = field(
        default=None,
        metadata={"help": f"Overlap (pieces) between windows of long sentences; default {DEFAULT_STRIDE}, or half "
                  "a window when --max_length leaves fewer pieces than twice that."},
    )


def window_stride(args, tokenizer) -> int:
    """`--ner_stride`, or its default fitted to the window; an error naming the options when the
    window (`--max_length` less the special tokens) holds no words, or no more than the overlap."""
    special = tokenizer.num_special_tokens_to_add()
    pieces = args.max_length - special
    if pieces < 1:
        raise ValueError(
            f"--max_length {args.max_length} leaves no room for words: the tokenizer adds {special} special "
            "tokens to each window."
        )
    if args.ner_stride is None:
        return min(DEFAULT_STRIDE, pieces // 2)
    if not 0 <= args.ner_stride < pieces:
        raise ValueError(
            f"--ner_stride {args.ner_stride} must be at least 0 and below the {pieces} word pieces a window holds "
            f"(--max_length {args.max_length} less {special} special tokens): lower --ner_stride or raise --max_length."
        )
    return args.ner_stride


def _prepare(args, space, corpus, backbone: str, tokenizer) -> PreparedTask:
    from datasets import DatasetDict
    from transformers import DataCollatorForTokenClassification

    from labelwise.ner.tagger import build_token_classification_model, tokenize_and_align, window_metrics

    names = list(space.names)
    stride = window_stride(args, tokenizer)
    encoded = DatasetDict(
        {
            split: tokenize_and_align(dataset, tokenizer, args.max_length, stride)
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
        raw_test_split=corpus.get("test"),
    )


def evaluate_test(trainer, task: PreparedTask, args) -> dict[str, float]:
    """Entity scores over whole test sentences (windows merged), not over windows."""
    from labelwise.metrics.entities import entity_scores
    from labelwise.ner.tagger import predict_word_labels

    raw = task.raw_test_split
    if raw is None:
        return {}
    names = task.label_names
    id2label = trainer.model.config.id2label
    label_ids, probabilities = predict_word_labels(
        trainer.model, task.tokenizer, raw["tokens"], max_length=args.max_length, stride=window_stride(args, task.tokenizer)
    )
    predicted = [[id2label[i] for i in ids] for ids in label_ids]
    gold = [[names[i] for i in tags] for tags in raw["ner_tags"]]
    # The rows of the predictions file (labelwise.training.predictions), whole sentences.
    task.test_prediction_rows = [
        {"id": doc_id, "tokens": list(tokens), "gold": truth, "predicted": guess, "scores": [round(p, 5) for p in probs]}
        for doc_id, tokens, truth, guess, probs in zip(raw["id"], raw["tokens"], gold, predicted, probabilities)
    ]
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
