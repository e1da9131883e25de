"""Command-line and config-file arguments of `train.py`.

Two dataclasses are parsed together by `HfArgumentParser`: [`LabelwiseArguments`] (corpus, model
kind, backbone, head options) and transformers' own `TrainingArguments` (optimiser, epochs,
batch size, saving, distributed options). A JSON config file holds the same keys; flags given on
the command line override it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import HfArgumentParser, TrainingArguments

MODEL_KINDS = {
    "lame": "LAME: the encoder reads documents and label descriptions, label attention, then a per-label output",
    "vanilla": "plain fine-tuning: transformers' BertForSequenceClassification on [CLS]",
    "frozen_lame": "frozen encoder + CNN features + label attention (the LAME paper's feature-extraction baseline)",
    "layerwise": "layer-wise guided training: classifiers on chosen layers' [CLS] predict hierarchy levels",
    "token_classification": "BIO token classification (transformers' BertForTokenClassification) for ADR NER",
}
"""Every model `train.py` trains, with a one-line description (printed on a bad choice)."""

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class LabelwiseArguments:
    """What to train on what: everything that is not a `TrainingArguments` field."""

    model: str = field(default="lame", metadata={"help": f"Model kind: {', '.join(MODEL_KINDS)}."})
    corpus: str = field(default="demo", metadata={"help": "Corpus name (labelwise.data_scripts.CORPORA)."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder with the corpus in its original format."})
    corpus_options: str | None = field(
        default=None, metadata={"help": 'Corpus builder options as JSON, e.g. \'{"split_file_dir": "..."}\'.'}
    )
    model_name_or_path: str = field(
        default="default",
        metadata={"help": "Backbone: Hub id, local folder, or 'default' (the packaged all-MiniLM-L6-v2)."},
    )
    base_model_id: str | None = field(
        default=None, metadata={"help": "Hub id recorded as base_model in the model card (default: derived)."}
    )
    max_length: int = field(default=128, metadata={"help": "Maximum document length in word pieces."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation/test rows."})
    dropout: float | None = field(
        default=None,
        metadata={"help": "Dropout of the encoder and the head (the layer-wise paper grids over 0 and 0.1)."},
    )
    threshold: float = field(default=0.5, metadata={"help": "Sigmoid threshold of multi-label predictions."})
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Stop after N evaluations without improvement (needs eval each epoch)."}
    )
    # ------------------------------------------------------------------ optimisation groups
    head_learning_rate: float | None = field(
        default=1e-3,
        metadata={
            "help": "Peak LR of the new, randomly initialised parts (label attention, level heads); "
            "1e-3 by default, since they start from scratch while the encoder is pretrained. "
            "Pass null in a config file to use learning_rate."
        },
    )
    classifier_learning_rate: float | None = field(
        default=None, metadata={"help": "LR of the output layer (default: head_learning_rate)."}
    )
    constant_classifier_lr: bool = field(
        default=False, metadata={"help": "Keep the output layer's LR constant (the LAME paper's setup)."}
    )
    slanted_triangular: bool = field(
        default=False,
        metadata={"help": "Slanted triangular schedule (Howard & Ruder): warmup_steps ratio up, linear down to lr/32."},
    )
    # ------------------------------------------------------------------------ LAME options
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
    label_sampling: str = field(
        default="auto",
        metadata={"help": "LAME descriptions encoded with gradient per step: none (all), sampled (the batch's "
                  "positives + label_sample_negatives), auto (sampled above 256 labels, multi-label)."},
    )
    label_sample_negatives: int = field(default=64, metadata={"help": "Negative labels per step under sampling."})
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
    shortlist_size: int = field(
        default=0, metadata={"help": "At inference, run LAME's head on the first stage's top-k labels (0: all)."}
    )
    label_chunk_size: int = field(default=512, metadata={"help": "Labels per chunk in LAME's head (0: all at once)."})
    description_batch_size: int = field(
        default=64, metadata={"help": "Descriptions encoded together without gradient (label caches)."}
    )
    light_label_head: bool = field(
        default=False, metadata={"help": "LAME head without the feed-forward and dense layers (cheaper per label)."}
    )
    # -------------------------------------------------------------------- layer-wise options
    guidance: str = field(
        default="last_six", metadata={"help": "Layer-wise variant: flat, last_six, one_by_one, in_pairs, hybrid."}
    )
    layer_assignment: str | None = field(
        default=None, metadata={"help": 'Explicit {level: [layers]} as JSON, e.g. \'{"1": [5], "2": [6]}\'.'}
    )
    layer_pooling: str = field(
        default="cls",
        metadata={"help": "What each level classifier reads from its layers: cls (the paper) or mean (masked mean "
                  "of the layer's token states)."},
    )
    min_level: int = field(default=1, metadata={"help": "Shallowest hierarchy level kept."})
    max_level: int | None = field(default=None, metadata={"help": "Deepest hierarchy level kept (default: all)."})
    level_loss_weights: str | None = field(
        default=None, metadata={"help": "Per-level loss weights as a JSON list (default |L_n|/|L|)."}
    )
    hierarchical_consistency: bool = field(
        default=False, metadata={"help": "At inference, cap a child's probability by its parents'."}
    )
    preprocess_documents: bool = field(
        default=False, metadata={"help": "Appendix A of the layer-wise paper: drop numbers, punctuation, stop words."}
    )
    # ---------------------------------------------------------------------------- NER
    ner_stride: int = field(default=32, metadata={"help": "Overlap (pieces) between windows of long sentences."})

    # Set by `parse_arguments`: whether the user chose `metric_for_best_model` (not a flag).
    best_metric_given = False

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            choices = "\n".join(f"  {name:22s} {text}" for name, text in MODEL_KINDS.items())
            raise ValueError(f"Unknown --model {self.model!r}. Choose one of:\n{choices}")

    def corpus_config(self) -> dict:
        return _json_option("corpus_options", self.corpus_options, dict) or {}


def _json_option(name: str, value: str | None, kind: type):
    if value is None:
        return None
    if not isinstance(value, str):
        parsed = value
    else:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"--{name} is not valid JSON ({err}): {value!r}") from err
    if not isinstance(parsed, kind):
        raise ValueError(f"--{name} must be a JSON {kind.__name__}, got {value!r}.")
    return parsed


TRAINING_DEFAULTS = dict(
    output_dir=None,
    num_train_epochs=3,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=32,
    learning_rate=5e-5,
    weight_decay=0.01,
    warmup_steps=0.1,
    eval_strategy="epoch",
    save_strategy="epoch",
    save_total_limit=2,
    load_best_model_at_end=True,
    logging_steps=10,
    report_to="none",
    seed=42,
    dataloader_num_workers=0,
    dataloader_pin_memory=torch.cuda.is_available(),
)
"""Our defaults for transformers' `TrainingArguments` (each can be overridden by a flag or config)."""


def resolve_config_path(path: str) -> Path:
    """A config file given as a path, or as the name of a shipped config (`lame_paper`, ...)."""
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    shipped = CONFIG_DIR / (path if path.endswith(".json") else f"{path}.json")
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
    raise FileNotFoundError(f"Config file {path!r} not found (shipped configs: {', '.join(names)}).")


def parse_arguments(argv: list[str] | None = None) -> tuple[LabelwiseArguments, TrainingArguments]:
    """Parse `--config FILE` (optional) and flags; flags win over the file, the file over defaults."""
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = dict(TRAINING_DEFAULTS)
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            raise ValueError("--config needs a file path or a shipped config name.")
        config_path = resolve_config_path(argv[index + 1])
        del argv[index : index + 2]
        try:
            from_file = json.loads(config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{config_path}: line {err.lineno}: not valid JSON ({err.msg}).") from err
        from_file.pop("_comment", None)
        defaults.update(from_file)

    parser = HfArgumentParser((LabelwiseArguments, TrainingArguments))
    known = {action.dest for action in parser._actions}
    unknown = sorted(set(defaults) - known)
    if unknown:
        raise ValueError(f"Unknown option(s) in the config: {', '.join(unknown)}")
    for key in ("corpus_options", "layer_assignment", "level_loss_weights"):
        if key in defaults and not isinstance(defaults[key], str) and defaults[key] is not None:
            defaults[key] = json.dumps(defaults[key])
    parser.set_defaults(**defaults)
    labelwise_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    # TrainingArguments turns an unset metric into "loss"; remember whether the user chose one, so
    # the task's own metric (micro F1, accuracy, entity F1) can be the default.
    labelwise_args.best_metric_given = "metric_for_best_model" in defaults or any(
        arg.startswith("--metric_for_best_model") for arg in argv
    )
    if training_args.output_dir in (None, "trainer_output"):
        training_args.output_dir = os.path.join("outputs", f"{labelwise_args.model}-{labelwise_args.corpus}")
    return labelwise_args, training_args
