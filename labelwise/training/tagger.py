"""Train the ADR tagger (transformers' token-classification model) through `train.py`'s own path.

`train_tagger` fine-tunes a backbone on word-level NER datasets with the `token_classification`
kind's model, encoding and metrics (`labelwise.kinds`), `labelwise.training.cli.build_trainer`'s
Trainer and `train.py`'s defaults; `TransformerTagger` wraps it in the `fit`/`predict` interface of
the baselines (`labelwise.ner.baselines`) for cross-validation (`labelwise.experiments.crossval`).

The word handling (windows, first-piece labels, prediction per word) is `labelwise.ner.tagger`'s;
this module lives in the training layer because it reads the kinds and the Trainer setup, which in
turn read `labelwise.ner.tagger` (docs/DEVELOPING.md, "Layers").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import fields

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, TrainingArguments

from labelwise.backbone import resolve_backbone
from labelwise.data_scripts import LabelSpace
from labelwise.kinds import get_kind
from labelwise.ner.alignment import DEFAULT_MAX_LENGTH, DEFAULT_STRIDE
from labelwise.ner.tagger import encode_windows, label_names_from_tags, predict_tags, truncation_report
from labelwise.saved_kinds import TOKEN_CLASSIFICATION
from labelwise.training.arguments import TRAINING_DEFAULTS, LabelwiseArguments
from labelwise.training.cli import build_trainer

__all__ = ["TransformerTagger", "train_tagger"]


def _load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(name_or_path))
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: word alignment needs a fast tokenizer (word_ids()); got {type(tokenizer).__name__}.")
    return tokenizer


def _tag_column(dataset: Dataset, label_column: str) -> list[str] | None:
    feature = dataset.features.get(label_column)
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def train_tagger(
    train_ds: Dataset,
    eval_ds: Dataset | None,
    backbone: str,
    output_dir: str,
    label_names: Sequence[str] | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    label_column: str = "ner_tags",
    **options,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Fine-tune `backbone` for token classification through `train.py`'s own path.

    The model, encoding and metrics are the `token_classification` kind's (`labelwise.kinds`), the
    Trainer is `labelwise.training.cli.build_trainer`'s and the defaults are `train.py`'s
    (`TRAINING_DEFAULTS` and `LabelwiseArguments`), so a tagger trained here and one trained by
    `train.py --model token_classification` differ only in the options passed.

    Args:
        train_ds, eval_ds: word-level datasets with `tokens` and `label_column` (label ids);
            `eval_ds` may be None (no evaluation during training).
        backbone: Hub id, local folder, or "default" (the packaged MiniLM).
        output_dir: where the Trainer writes; the final model and tokenizer are saved there,
            ready for `pipeline("token-classification", model=output_dir)` or `push_to_hub`.
        label_names: tag names by id; read from the dataset's `ClassLabel` feature when omitted.
        max_length, stride: window size (pieces, special tokens included) and overlap.
        **options: `train.py` options over its defaults: `TrainingArguments` fields (e.g.
            `num_train_epochs=2`) or `LabelwiseArguments` fields (e.g. `head_learning_rate=5e-5`).

    Returns:
        `(model, tokenizer)`, the model in eval mode.
    """
    if label_names is None:
        label_names = _tag_column(train_ds, label_column)
        if label_names is None:
            raise ValueError(
                f"train_ds column {label_column!r} is not a Sequence(ClassLabel); pass label_names explicitly."
            )
    label_names = list(label_names)
    own = {f.name for f in fields(LabelwiseArguments)}
    args = LabelwiseArguments(
        model=TOKEN_CLASSIFICATION,
        max_length=max_length,
        ner_stride=stride,
        **{key: value for key, value in options.items() if key in own},
    )
    arguments = dict(
        TRAINING_DEFAULTS,
        output_dir=output_dir,
        # Cross-validation trains one model per fold and keeps only the final one: no checkpoints.
        save_strategy="no",
        load_best_model_at_end=False,
        eval_strategy="epoch" if eval_ds is not None else "no",
        # Sentences vary from 3 to 150 pieces: batching similar lengths cuts padding (compute) about in half.
        train_sampling_strategy="group_by_length",
    )
    arguments.update({key: value for key, value in options.items() if key not in own})
    splits = {"train": train_ds, **({"validation": eval_ds} if eval_ds is not None else {})}
    corpus = DatasetDict(
        {
            split: dataset.rename_column(label_column, "ner_tags") if label_column != "ner_tags" else dataset
            for split, dataset in splits.items()
        }
    )
    tokenizer = _load_tokenizer(backbone)
    space = LabelSpace("ner", label_names, None, None)
    kind = get_kind(TOKEN_CLASSIFICATION)
    task = kind.prepare(args, space, corpus, resolve_backbone(backbone), tokenizer)
    task.kind = kind
    trainer = build_trainer(args, TrainingArguments(**arguments), task)
    trainer.train()
    task.save(output_dir)  # the same folder train.py writes (minus its summary and card)
    task.model.eval()
    return task.model, tokenizer


class TransformerTagger:
    """Cross-validation adapter: `fit(tokens_list, tags_list)` / `predict(tokens_list)` like the baselines."""

    def __init__(
        self,
        backbone: str = "default",
        output_dir: str | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        stride: int = DEFAULT_STRIDE,
        batch_size: int = 32,
        **training_args,
    ) -> None:
        self.backbone, self.output_dir = backbone, output_dir
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        # Cross-validation follows BioBERT's NER script: one learning rate for every parameter, the
        # classifier included (the published ADE folds were trained so), not train.py's 1e-3 head rate.
        training_args.setdefault("head_learning_rate", None)
        self.training_args = training_args
        self.model: PreTrainedModel | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        # Windows cut from long sentences, per split ({"train": ..., "test": ...}), filled by fit/predict.
        self.truncation: dict[str, dict[str, int]] = {}

    def fit(self, tokens_list: Sequence[Sequence[str]], tags_list: Sequence[Sequence[str]]) -> "TransformerTagger":
        label_names = label_names_from_tags(tags_list)
        features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=label_names))})
        train = Dataset.from_dict(
            {"tokens": [list(t) for t in tokens_list], "ner_tags": [list(t) for t in tags_list]}, features=features
        )
        output_dir = self.output_dir or os.path.join("runs", "ner_tagger")
        self.model, self.tokenizer = train_tagger(
            train, None, self.backbone, output_dir, label_names=label_names,
            max_length=self.max_length, stride=self.stride, **self.training_args,
        )
        self.truncation["train"] = truncation_report(encode_windows(tokens_list, self.tokenizer, self.max_length, self.stride))
        return self

    def predict(self, tokens_list: Sequence[Sequence[str]]) -> list[list[str]]:
        if self.model is None:
            raise RuntimeError("TransformerTagger.predict called before fit.")
        self.truncation["test"] = truncation_report(encode_windows(tokens_list, self.tokenizer, self.max_length, self.stride))
        return predict_tags(self.model, self.tokenizer, tokens_list, self.max_length, self.stride, self.batch_size, show_progress=True)
