"""Command-line and config-file arguments of `train.py`.

Two dataclasses are parsed together by `HfArgumentParser`: [`LabelwiseArguments`] (corpus, model
kind, backbone, head options) and transformers' own `TrainingArguments` (optimiser, epochs,
batch size, saving, distributed options). A JSON config file holds the same keys; flags given on
the command line override it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import HfArgumentParser, TrainingArguments

from labelwise.data_scripts import HELD_OUT_DOCUMENTS
from labelwise.kinds import KINDS, get_kind, option_classes
from labelwise.kinds.base import json_option as _json_option
from labelwise.saved_kinds import LAME
from labelwise.modeling.configuration_lame import LARGE_LABEL_SET
from labelwise.training.data_source import USER_DATA_FLAGS, UserDataArguments
from labelwise.training.run_options import RunReportOptions

logger = logging.getLogger(__name__)

MODEL_KINDS = {name: kind.description for name, kind in KINDS.items()}
"""Every model `train.py` trains, with a one-line description (from the registry, `labelwise.kinds`)."""

CONFIG_DIR = Path(__file__).parent / "configs"

LABEL_BIAS_INITS = ("auto", "zero", "label_prior")
"""Values of `--label_bias_init` (applied by `labelwise.training.tasks.prepare_task`)."""


@dataclass
class CommonArguments:
    """Options every model kind reads (the kinds' own options live in their modules, `labelwise.kinds`)."""

    model: str = field(default=LAME, metadata={"help": f"Model kind: {', '.join(MODEL_KINDS)}."})
    corpus: str = field(default="demo", metadata={"help": "Corpus name (labelwise.data_scripts.CORPORA)."})
    data_dir: str | None = field(default=None, metadata={"help": "Folder with the corpus in its original format."})
    corpus_options: str | None = field(
        default=None, metadata={"help": 'Corpus builder options as JSON, e.g. \'{"split_dir": "data/hoc/blue_split"}\' (docs/DATA.md lists each corpus\'s options).'}
    )
    exclude_labels: str | None = field(
        default=None,
        metadata={"help": "Multi-label corpora: hold these labels out of training (comma-separated names, or a JSON "
                  "list): removed from the label set and from every document's targets, documents kept. A "
                  "label-agnostic LAME (--label_scoring label_agnostic) can score them afterwards from their "
                  "descriptions."},
    )
    held_out_documents: str = field(
        default="keep",
        metadata={"help": "With --exclude_labels: 'keep' the training documents that carry a held-out label (with "
                  "their other labels; one left with none trains as a negative for every label), or 'drop' them "
                  "from the train split, so the model never reads the held-out topic (the usual zero-shot "
                  "protocol). Validation and test keep every document.",
                  "choices": list(HELD_OUT_DOCUMENTS)},
    )
    model_name_or_path: str = field(
        default="default",
        metadata={"help": "Backbone: Hub id, local folder, or 'default' (the packaged all-MiniLM-L6-v2)."},
    )
    base_model_id: str | None = field(
        default=None, metadata={"help": "Hub id recorded as base_model in the model card (default: derived)."}
    )
    max_length: int = field(default=128, metadata={"help": "Maximum document length in word pieces."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use a random subset of N training rows, drawn with --seed (original order kept)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use a random subset of N rows of validation and of test, drawn with --seed."}
    )
    dropout: float | None = field(
        default=None,
        metadata={"help": "Dropout of the encoder and the head (the layer-wise paper grids over 0 and 0.1)."},
    )
    threshold: float = field(
        default=0.5, metadata={"help": "Sigmoid threshold of multi-label predictions during training and in the "
                               "reported validation/test metrics."}
    )
    tune_thresholds: str = field(
        default="global",
        metadata={"help": "Multi-label models, after training: choose the decision threshold on the validation "
                  "split (global: one for all labels; per_label: one each; none: keep --threshold). It is stored "
                  "in config.json, used by the pipelines, and the metrics at it are reported beside those at "
                  "--threshold."},
    )
    label_bias_init: str = field(
        default="auto",
        metadata={"help": "Multi-label models: where each label's output bias starts. zero: at 0 (every probability "
                  "0.5 before training); label_prior: at the log-odds of the label's frequency in the training "
                  "split, so the untrained model predicts the prior (helps with thousands of rare labels); auto: "
                  f"label_prior for multi-label corpora of more than {LARGE_LABEL_SET} labels, else zero.",
                  "choices": list(LABEL_BIAS_INITS)},
    )
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
    preprocess_documents: bool = field(
        default=False, metadata={"help": "Appendix A of the layer-wise paper: drop numbers, punctuation, stop words."}
    )


@dataclass
class LabelwiseArguments(*reversed(option_classes()), RunReportOptions, UserDataArguments, CommonArguments):
    """What to train on what: everything that is not a `TrainingArguments` field.

    The common options, the options of your own data (`UserDataArguments`), then each kind's own options
    (`ModelKind.options`), gathered from the registry so that a new kind brings its options with it.
    """

    # Set by `parse_arguments`: whether the user chose `metric_for_best_model` (not a flag).
    best_metric_given = False

    def __post_init__(self) -> None:
        get_kind(self.model)  # raises, listing the kinds, on an unknown name
        self.check_data_source()
        if self.held_out_documents not in HELD_OUT_DOCUMENTS:  # a config file does not pass argparse's choices
            raise ValueError(
                f"--held_out_documents must be one of {list(HELD_OUT_DOCUMENTS)}, got {self.held_out_documents!r}."
            )
        if self.label_bias_init not in LABEL_BIAS_INITS:
            raise ValueError(f"--label_bias_init must be one of {list(LABEL_BIAS_INITS)}, got {self.label_bias_init!r}.")
        if self.held_out_documents != "keep" and not self.excluded_labels():
            logger.warning("--held_out_documents=%s does nothing without --exclude_labels.", self.held_out_documents)
        for option, owners in self.ignored_options().items():
            logger.warning(
                "--%s=%s is an option of %s; --model %s ignores it.", option, getattr(self, option), owners, self.model
            )

    def ignored_options(self) -> dict[str, str]:
        """Kind options set away from their default that the chosen kind does not read.

        Returns:
            option name -> the kinds that do read it (comma-separated). A warning, not an error: shared
            budgets (benchmark scripts, config files) pass one set of options to every kind.
        """
        own = get_kind(self.model).options
        own_fields = set(own.__dataclass_fields__) if own is not None else set()
        ignored: dict[str, str] = {}
        for kind in KINDS.values():
            if kind.options is None:
                continue
            for declared in dataclasses.fields(kind.options):
                if declared.name in own_fields or declared.name in ignored:
                    continue
                if declared.default is not dataclasses.MISSING:
                    default = declared.default
                elif declared.default_factory is not dataclasses.MISSING:
                    default = declared.default_factory()
                else:
                    default = None
                if getattr(self, declared.name) != default:
                    readers = [k.name for k in KINDS.values() if k.options and declared.name in k.options.__dataclass_fields__]
                    ignored[declared.name] = ", ".join(readers)
        return ignored

    def corpus_config(self) -> dict:
        return _json_option("corpus_options", self.corpus_options, dict) or {}

    def excluded_labels(self) -> list[str]:
        """`--exclude_labels` as a list of names (empty when not given)."""
        if isinstance(self.exclude_labels, list):  # a JSON config file may hold the list itself
            return [str(name) for name in self.exclude_labels]
        value = (self.exclude_labels or "").strip()
        if value.startswith("["):
            return [str(name) for name in _json_option("exclude_labels", value, list)]
        return [name.strip() for name in value.split(",") if name.strip()]


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


def _merge_corpus_options(argv: list[str], from_file, config_path: Path) -> list[str]:
    """`--corpus_options` on the command line adds to (and overrides keys of) the config's, rather
    than replacing them: a shipped config fixes e.g. the label set, the user adds local paths."""
    if from_file is None or not any(a == "--corpus_options" or a.startswith("--corpus_options=") for a in argv):
        return argv
    if not isinstance(from_file, (dict, str)):
        raise ValueError(f"{config_path}: corpus_options must be a JSON object, got {from_file!r}.")
    file_options = _json_option("corpus_options", from_file, dict)
    merged, index = list(argv), 0
    while index < len(merged):
        arg = merged[index]
        if arg == "--corpus_options" and index + 1 < len(merged):
            given = _json_option("corpus_options", merged[index + 1], dict) or {}
            merged[index + 1] = json.dumps({**file_options, **given})
            index += 2
            continue
        if arg.startswith("--corpus_options="):
            given = _json_option("corpus_options", arg.split("=", 1)[1], dict) or {}
            merged[index] = "--corpus_options=" + json.dumps({**file_options, **given})
        index += 1
    return merged


def shipped_configs() -> dict[str, str]:
    """The shipped configurations (`--config <name>`), each with the first sentence of its `_comment`."""
    configs = {}
    for path in sorted(CONFIG_DIR.glob("*.json")):
        comment = str(json.loads(path.read_text(encoding="utf-8")).get("_comment", ""))
        first = comment.split(". ")[0].rstrip(".")
        configs[path.stem] = first if len(first) <= 90 else first[:87].rstrip() + "..."
    return configs


def help_texts() -> dict[str, object]:
    """`train.py --help`'s opening and closing text: how to use a config file, which ones ship."""
    import argparse

    listing = "\n".join(f"  {name:20s} {first}" for name, first in shipped_configs().items())
    return dict(
        prog="train.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train a labelwise model and write a Hub-ready folder (<output_dir>/model).\n\n"
            "  --config NAME_OR_FILE  a JSON file of these options (keys without the dashes), or the name of a\n"
            "                         shipped configuration; flags given as well override the file's values\n"
            "  --traceback            show the full traceback of an error instead of a one-line message\n\n"
            f"Shipped configurations ({CONFIG_DIR}):\n{listing}\n\n"
            "Before the long part of training a cost estimate is printed (--estimate_steps); for a short trial\n"
            "pass --max_steps N (only the training rows those steps read are tokenized) and --max_eval_samples N\n"
            "(--max_steps alone still evaluates the whole validation and test splits: the estimate warns when that\n"
            "takes longer than the training)."
        ),
        epilog="Test predictions are written to <output_dir>/model/test_predictions.jsonl, one JSON object a line: "
        "id, gold, predicted, scores (README, \"Train\").",
    )


def add_help_only_options(parser) -> None:
    """`--config` and `--traceback` are taken out of the command line before parsing (by
    `parse_arguments` and `labelwise.cli_errors`); declared here so that `--help` lists them."""
    import argparse

    group = parser.add_argument_group("read before parsing")
    group.add_argument("--config", metavar="NAME_OR_FILE", default=argparse.SUPPRESS,
                       help="Options from a JSON file or a shipped configuration (listed above).")
    group.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                       help="Show the full traceback of an error.")


def parse_arguments(argv: list[str] | None = None) -> tuple[LabelwiseArguments, TrainingArguments]:
    """Parse `--config FILE` (optional) and flags; flags win over the file, the file over defaults.

    `--corpus_options` is the one flag that is merged with the file's value key by key (the flag's
    keys win), so a shipped config's corpus choices survive a user's added paths.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = dict(TRAINING_DEFAULTS)
    config_path = None
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
        if not isinstance(from_file, dict):
            raise ValueError(f"{config_path}: expected a JSON object {{option: value}}, got {type(from_file).__name__}.")
        from_file.pop("_comment", None)
        if any(arg.split("=", 1)[0] in USER_DATA_FLAGS for arg in argv):
            # Your own data on the command line replaces the config's built-in corpus, so a shipped config
            # (lame_eurlex57k) lends its training options to your files.
            for key in ("corpus", "data_dir", "corpus_options"):
                from_file.pop(key, None)
        defaults.update(from_file)
        argv = _merge_corpus_options(argv, from_file.get("corpus_options"), config_path)

    parser = HfArgumentParser((LabelwiseArguments, TrainingArguments), **help_texts())
    add_help_only_options(parser)
    known = {action.dest for action in parser._actions} - {"config", "traceback", "help"}
    unknown = sorted(set(defaults) - known)
    if unknown:
        raise ValueError(
            f"Unknown option(s) in the config {config_path}: {', '.join(unknown)} "
            "(keys are train.py's option names without the dashes; `python train.py --help` lists them)."
        )
    # JSON-valued options: a config file may hold the object itself (the kinds declare theirs).
    for key in ("corpus_options", *(name for kind in KINDS.values() for name in kind.json_options)):
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
        source = labelwise_args.data_source_name() or labelwise_args.corpus
        training_args.output_dir = os.path.join("outputs", f"{labelwise_args.model}-{source}")
    check_output_dir(training_args.output_dir)
    return labelwise_args, training_args


def check_output_dir(path: str) -> None:
    """Refuse an `--output_dir` that cannot become a folder (it, or a folder above it, is a file)
    now, before the corpus and the model are loaded."""
    current = os.path.abspath(path)
    while True:
        if os.path.exists(current) and not os.path.isdir(current):
            where = "is a file" if current == os.path.abspath(path) else f"lies under {current}, which is a file"
            raise ValueError(f"--output_dir {path} {where}: give a folder (new or existing) for checkpoints and the model.")
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent
