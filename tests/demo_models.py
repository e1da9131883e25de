"""Tiny saved models of every kind the demo serves (random weights, test vocabulary, no download)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from helpers import tiny_bert_checkpoint, tiny_bert_config, tiny_tokenizer

LAME_DESCRIPTIONS = {
    "growth": "cancer cell growth signals",
    "immune": "immune reaction and inflammation",
    "vessel": "blood vessel angiogenesis",
}
# Logit offsets that fix which labels a random LAME model predicts: growth only.
LAME_BIAS = {"growth": 4.0, "immune": -4.0, "vessel": -4.0}
QK_SCALE = 40.0
NER_LABELS = ["O", "B-ADR", "I-ADR"]


def save_lame(folder: str | os.PathLike, seed: int = 0) -> str:
    """A multi-label LAME model saved with its `label-attention-classification` pipeline (remote code)."""
    from labelwise.modeling import LameForSequenceClassification
    from transformers import AutoTokenizer, pipeline

    folder = Path(folder)
    bert = tiny_bert_checkpoint(folder.parent / f"{folder.name}-bert", seed=seed)
    model = LameForSequenceClassification.from_pretrained(
        bert, label_descriptions=LAME_DESCRIPTIONS, label_attention_heads=4, problem_type="multi_label_classification"
    ).eval()
    with torch.no_grad():
        for index, name in model.config.id2label.items():
            model.classifier.bias[index] = LAME_BIAS[name]
        # A random head attends almost uniformly; sharper queries/keys give each label its own
        # peaked word weights, so a view that shades with the wrong label's weights is caught.
        for block in model.label_blocks:
            block.query.weight.mul_(QK_SCALE)
            block.key.weight.mul_(QK_SCALE)
    pipe = pipeline("label-attention-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(bert))
    pipe.save_pretrained(str(folder))
    return str(folder)


def save_ner(folder: str | os.PathLike, seed: int = 0) -> str:
    """A `BertForTokenClassification` ADR tagger (O / B-ADR / I-ADR) with its tokenizer."""
    from transformers import BertForTokenClassification

    torch.manual_seed(seed)
    config = tiny_bert_config(
        id2label=dict(enumerate(NER_LABELS)), label2id={name: i for i, name in enumerate(NER_LABELS)}
    )
    model = BertForTokenClassification(config)
    with torch.no_grad():  # make B-ADR common enough that a short text gets spans
        model.classifier.bias.copy_(torch.tensor([0.0, 0.3, 0.0]))
    model.save_pretrained(str(folder))
    tiny_tokenizer(folder)
    return str(folder)


def save_classifier(folder: str | os.PathLike, seed: int = 0) -> str:
    """A plain multi-label `BertForSequenceClassification` with labels a, b, c."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    names = ["a", "b", "c"]
    config = tiny_bert_config(
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        problem_type="multi_label_classification",
    )
    BertForSequenceClassification(config).save_pretrained(str(folder))
    tiny_tokenizer(folder)
    return str(folder)


def save_layerwise(folder: str | os.PathLike, seed: int = 0) -> str:
    """A layer-wise guided model over a 2-level hierarchy (2 + 3 labels), flat guidance."""
    from labelwise.modeling.configuration_layerwise import LayerwiseConfig
    from labelwise.modeling.modeling_layerwise import (
        LayerwiseBertForHierarchicalClassification,
    )

    # So that save_pretrained copies the remote-code files (idempotent if labelwise did it already).
    LayerwiseConfig.register_for_auto_class()
    LayerwiseBertForHierarchicalClassification.register_for_auto_class("AutoModelForSequenceClassification")
    folder = Path(folder)
    bert = tiny_bert_checkpoint(folder.parent / f"{folder.name}-bert", seed=seed)
    names = ["trade", "health", "trade.fish", "health.drug", "health.blood"]
    model = LayerwiseBertForHierarchicalClassification.from_pretrained(
        bert,
        label_levels=[1, 1, 2, 2, 2],
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        guidance="last_six",
    )
    model.save_pretrained(str(folder))
    tiny_tokenizer(folder)
    return str(folder)
