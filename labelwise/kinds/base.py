"""What every model kind declares, and the helpers that several kinds share.

A model kind (`lame`, `vanilla`, ...) is one [`ModelKind`] object in one module of this package;
`labelwise.kinds.KINDS` lists them. Training, publishing, the demo and the viewer read that object
instead of branching on the kind's name. `docs/DEVELOPING.md` says how to add a kind.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from labelwise.saved_kinds import SAVED_KINDS, SavedKind  # the one table of saved kinds (standard library only)

if TYPE_CHECKING:  # type hints only: datasets and transformers are slow to import and not needed to declare a kind
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase

    from labelwise.data_scripts import LabelSpace


class KindArguments(Protocol):
    """The `train.py` options that the shared code of the kinds reads (this module, `ModelKind.check`).

    `labelwise.training.arguments.LabelwiseArguments` has these fields (the common options) plus every
    kind's own `options` dataclass, which a kind's module reads for its own settings. The kinds name this
    protocol rather than `LabelwiseArguments`, which is built from the kinds' options (the training
    layer reads the kinds, never the reverse: docs/DEVELOPING.md, "Layers"); `tests/test_kinds.py`
    checks that `LabelwiseArguments` declares each field below with the same type.
    """

    corpus: str
    max_length: int
    dropout: float | None
    threshold: float
    preprocess_documents: bool


class TaskMismatchError(ValueError):
    """The corpus does not provide what the model kind needs."""


@dataclass
class PreparedTask:
    """A model with its data, collator, metrics and saving recipe, ready for the Trainer."""

    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    datasets: Any  # datasets.DatasetDict of encoded splits
    collator: Callable
    compute_metrics: Callable
    metric_for_best_model: str
    greater_is_better: bool
    task: str
    label_names: list[str]
    label_descriptions: dict[str, str] | None = None
    label_levels: dict[str, int] | None = None
    notes: dict = field(default_factory=dict)  # facts about the run for `training_summary.json["notes"]`
    kind: ModelKind | None = None  # the kind that prepared it, set once by `labelwise.training.tasks.prepare_task`
    raw_test_split: Any = None  # the test split before encoding, for a kind whose `evaluate_test` scores whole rows (NER)
    # The predictions file's rows when the kind's `evaluate_test` wrote them itself (NER: whole sentences);
    # None: they come from `Trainer.predict`'s test output (`labelwise.training.predictions`).
    test_prediction_rows: list[dict] | None = None
    # Multi-label tasks: `(gold 0/1, probabilities, threshold or per-label thresholds) -> metrics`, the
    # thresholded part of `compute_metrics`; `labelwise.training.thresholds` tunes and reports with it.
    scores_at: Callable | None = None
    # Where the per-label output biases started (`--label_bias_init` resolved by `prepare_task`).
    label_bias_init: str = "zero"
    # Each split's document ids, in the order of its encoded rows (set by `prepare_task`; the
    # predictions file names its rows by them).
    document_ids: dict[str, list[str]] = field(default_factory=dict)

    def save(self, folder: str) -> None:
        """Save a Hub-ready folder: weights, config (+ auto_map), remote code, tokenizer, pipeline."""
        from labelwise.kinds.saving import save_model_folder

        save_model_folder(folder, self.model, self.tokenizer, self.kind.saved.pipeline_task if self.kind else None)


@dataclass(frozen=True)
class ModelKind:
    """Everything the package needs to know about one model kind, declared in the kind's module.

    Attributes:
        name: the `--model` value and `training_summary.json["model_kind"]`.
        description: one line, printed when `--model` names no kind.
        tasks: corpus tasks (`LabelSpace.task`) the kind trains on.
        model_class / config_class: `"module:Class"` of the model and its config (imported on use).
        options: dataclass of the `train.py` options only this kind reads (fields with their
            defaults and help); merged into `LabelwiseArguments`. Kinds that share options share the class.
        prepare: `(args, space, corpus, backbone, tokenizer) -> PreparedTask`: builds the model and
            encodes the corpus; raises `TaskMismatchError` when the corpus lacks what the kind needs.
        summary_hyperparameters: `(args, model) -> dict` of the kind's entries in the training
            summary's `hyperparameters` (read from the trained model's config where it holds them).
        card_template: the model-card template in `labelwise.model_cards`.
        pipeline_tag: the Hub `pipeline_tag` of the card.
        saved_kind: the shape of its saved folder (a key of `labelwise.saved_kinds.SAVED_KINDS`): how the
            folder is recognised, the custom pipeline it is saved through, its demo view and its ONNX graph.
        dropout_fields: config fields besides BERT's that `--dropout` sets.
        needs_descriptions / needs_hierarchy: what the corpus must provide besides a matching task.
        evaluate_test: optional `(trainer, task, args) -> dict` replacing `Trainer.evaluate` on the test split.
        json_options: its `train.py` options whose values are JSON objects (a config file may hold the object).
        detail_metrics: prefixes of metrics kept in the summary but left out of the printed one-line report
            (the layer-wise model's per-level R-Precision).
        initialize_label_biases: optional `(model, log_odds) -> None` that starts the per-label output biases at
            `log_odds` `(num_labels,)` (`train.py --label_bias_init label_prior`); None: the kind has none to set.
    """

    name: str
    description: str
    tasks: tuple[str, ...]
    model_class: str
    config_class: str
    prepare: Callable[..., PreparedTask]
    card_template: str
    pipeline_tag: str
    saved_kind: str
    options: type | None = None
    summary_hyperparameters: Callable[[Any, Any], dict] = lambda args, model: {}
    dropout_fields: tuple[str, ...] = ()
    needs_descriptions: bool = False
    needs_hierarchy: bool = False
    evaluate_test: Callable[..., dict] | None = None
    initialize_label_biases: Callable[[Any, Any], None] | None = None
    json_options: tuple[str, ...] = ()
    detail_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.saved_kind not in SAVED_KINDS:
            raise ValueError(
                f"ModelKind {self.name!r}: saved_kind must be one of {list(SAVED_KINDS)} (labelwise/saved_kinds.py), "
                f"got {self.saved_kind!r}."
            )

    @property
    def saved(self) -> SavedKind:
        """The saved kind's entry of `labelwise.saved_kinds.SAVED_KINDS`."""
        return SAVED_KINDS[self.saved_kind]

    def check(self, args: KindArguments, space: LabelSpace) -> None:
        """Fail before training when corpus `args.corpus` (label space `space`) lacks what this kind needs."""
        if space.task not in self.tasks:
            raise TaskMismatchError(
                f"--model {self.name} trains on {' or '.join(self.tasks)} corpora, but corpus {args.corpus!r} is "
                f"{space.task}. Pick a matching corpus or model."
            )
        if self.needs_descriptions and not space.descriptions:
            raise TaskMismatchError(
                f"--model {self.name} needs one description per label, but corpus {args.corpus!r} provides none. "
                "Give them in a file (your own data: --label_descriptions FILE; a built-in corpus: its builder), "
                "or train --model vanilla."
            )
        if self.needs_hierarchy and space.hierarchy is None:
            raise TaskMismatchError(
                f"--model {self.name} needs a label hierarchy, but corpus {args.corpus!r} has none. "
                "Use a hierarchical corpus (eurlex57k, mimic3, demo_hierarchical; your own data: --label_hierarchy "
                "FILE) or a flat model."
            )

    def load_model_class(self) -> type:
        """The model class (`model_class` imported)."""
        return _import(self.model_class)

    def load_config_class(self) -> type:
        """The config class (`config_class` imported)."""
        return _import(self.config_class)


def _import(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


# ------------------------------------------------------------------------ shared helpers
def json_option(name: str, value: Any, kind: type) -> Any:
    """Parse the JSON text of option `--name` (or take an already parsed value) and check its type."""
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


def dropout_overrides(args: KindArguments, extra_fields: tuple[str, ...] = ()) -> dict:
    """Config fields that `--dropout` sets: encoder, attention and head dropout alike."""
    if args.dropout is None:
        return {}
    names = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", *extra_fields)
    return {name: args.dropout for name in names}


def config_field_docs(config_class: type) -> dict[str, str]:
    """`{field: help}` from a config class's docstring, where each field is written as
    `name (`type`, ...):` at 8 spaces with its text indented below (transformers' docstring style)."""
    docs: dict[str, list[str]] = {}
    current = None
    for line in (config_class.__doc__ or "").splitlines():
        match = re.match(r"^ {8}(\w+) \(.*\):$", line)
        if match:
            current = match.group(1)
            docs[current] = []
        elif current is not None and line.startswith(" " * 12):
            docs[current].append(line.strip())
        elif line.strip():
            current = None
    return {name: " ".join(lines) for name, lines in docs.items()}


CONFIG_OPTION_SOURCES: dict[str, tuple[type, Any]] = {}
"""Option name -> (the config class that declares it, the config's default), filled by [`config_options`]."""


def config_options(
    name: str,
    config_class: type,
    fields: tuple[str, ...],
    bases: tuple[type, ...] = (),
    cli_types: dict | None = None,
    unset_types: dict | None = None,
) -> type:
    """A `train.py` options dataclass whose fields are `fields` of `config_class`, declared there once:
    the default from its `__init__`, the type from its annotation (or `cli_types`, e.g. a JSON string
    for a dict), the help from its docstring. `unset_types` are fields whose config default ("auto")
    the command line cannot type: they get that type with default None, meaning the config default.
    `CONFIG_OPTION_SOURCES` records the config and default each option came from
    (`tests/test_settings_declared_once.py` checks that no option restates a config field by hand);
    the field metadata holds only `help`, as `HfArgumentParser` passes it to argparse."""
    signature = inspect.signature(config_class.__init__)
    hints = typing.get_type_hints(config_class.__init__)
    docs = config_field_docs(config_class)
    declared = []
    for field_name in fields:
        if field_name not in docs:
            raise ValueError(f"{config_class.__name__}.{field_name} has no entry in the class docstring to take the help from.")
        kind = (cli_types or {}).get(field_name, hints[field_name])
        help_text = docs[field_name] + (" Given as JSON." if cli_types and field_name in cli_types else "")
        default = signature.parameters[field_name].default
        CONFIG_OPTION_SOURCES[field_name] = (config_class, default)
        if unset_types and field_name in unset_types:
            kind, help_text, default = unset_types[field_name], f"{help_text} Unset: {default!r}.", None
        declared.append((field_name, kind, field(default=default, metadata={"help": help_text})))
    return dataclasses.make_dataclass(name, declared, bases=bases)


def _lame_config() -> type:
    from labelwise.modeling.configuration_lame import LameConfig

    return LameConfig


DocumentSegmentOptions = config_options("DocumentSegmentOptions", _lame_config(), ("max_document_length", "segment_stride"))
DocumentSegmentOptions.__doc__ = """`train.py` options of the kinds that read documents longer than the encoder's window in segments
(`lame`, `frozen_lame`, `layerwise`): one declaration (the config's), inherited by their option classes."""


def segment_fields(args: DocumentSegmentOptions) -> dict:
    """The config fields of `DocumentSegmentOptions`, for a model built from `args`."""
    return {"max_document_length": args.max_document_length, "segment_stride": args.segment_stride}


def document_length(args: KindArguments) -> int:
    """Pieces a document is tokenized to: `--max_document_length` when the kind reads segments and it is set,
    else `--max_length`."""
    return getattr(args, "max_document_length", None) or args.max_length


def text_encoder(
    args: KindArguments, tokenizer: PreTrainedTokenizerBase, max_length: int | None = None
) -> Callable[[list[str]], dict]:
    """Tokenise documents (after the layer-wise paper's normalisation with `--preprocess_documents`), truncated
    at `max_length` pieces (default `--max_length`)."""
    max_length = max_length or args.max_length
    clean = None
    if args.preprocess_documents:
        from labelwise.data_scripts.text_preprocessing import preprocess_document as clean

    def encode(texts: list[str]) -> dict:
        if clean is not None:
            texts = [clean(text) for text in texts]
        return tokenizer(texts, truncation=True, max_length=max_length)

    return encode


def encode_corpus(corpus: DatasetDict, encode: Callable[[dict], dict], multi_hot: bool = False) -> DatasetDict:
    """`encode` mapped over every split (batched); multi-hot `labels` stored as float32 lists."""
    from datasets import DatasetDict, List, Value

    encoded = {}
    for split, dataset in corpus.items():
        result = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc=f"Encoding {split}")
        if multi_hot:
            # `map` keeps the corpus's ClassLabel type for the re-used `labels` name, which would
            # turn the 0/1 vectors into integers; BCE losses need floats.
            result = result.cast_column("labels", List(Value("float32")))
        encoded[split] = result
    return DatasetDict(encoded)


def model_initializes_label_biases(model: Any, log_odds: Any) -> None:
    """`ModelKind.initialize_label_biases` of the kinds whose model class has the method itself."""
    model.initialize_label_biases(log_odds)


def logits_of(predictions: Any) -> Any:
    """The logits `(N, num_labels)` of `Trainer.predict` output (models may return extras after them)."""
    return predictions[0] if isinstance(predictions, tuple) else predictions


def label_feature_names(corpus: DatasetDict) -> list[str]:
    """Names of the corpus's `labels` ClassLabel (the ids the rows hold)."""
    from datasets import ClassLabel

    feature = next(iter(corpus.values())).features["labels"]
    inner = getattr(feature, "feature", feature)
    if not isinstance(inner, ClassLabel):
        raise TaskMismatchError("The corpus's `labels` column is not a (sequence of) ClassLabel.")
    return list(inner.names)


def best_metric(multi_label: bool, num_labels: int) -> str:
    """What early stopping and the kept checkpoint read when the user names no `metric_for_best_model`.

    Above `LARGE_LABEL_SET` labels a multi-label model ranks labels for epochs before any passes the
    0.5 threshold: its micro-F1 stays near 0 and its dev loss rose while the ranking still improved
    (issue 29, EURLEX57K), so it stops on R-Precision, which reads the ranking alone.
    """
    from labelwise.modeling.large_labels_lame import LARGE_LABEL_SET

    if not multi_label:
        return "accuracy"
    return "r_precision" if num_labels > LARGE_LABEL_SET else "micro_f1"


def prepare_flat(
    args: KindArguments,
    space: LabelSpace,
    corpus: DatasetDict,
    backbone: str,
    tokenizer: PreTrainedTokenizerBase,
    build_model: Callable[[list[str], list[str] | None, str], Any],
    max_length: int | None = None,
) -> PreparedTask:
    """Encode a flat (multi-label or multi-class) corpus, documents truncated at `max_length` pieces (default
    `--max_length`); `build_model(names, descriptions, problem_type)` returns the model (`descriptions`:
    the corpus's, in the order of `names`, or None). Shared by `lame`, `frozen_lame` and `vanilla`."""
    import numpy as np
    import torch
    from transformers import DataCollatorWithPadding

    from labelwise.metrics.classification import multiclass_scores, multilabel_scores
    from labelwise.metrics.ranking import r_precision

    multi_label = space.task != "multi_class"
    names = list(space.names)
    problem_type = "multi_label_classification" if multi_label else "single_label_classification"
    encode_text = text_encoder(args, tokenizer, max_length)

    def encode(batch: dict) -> dict:
        encoded = encode_text(batch["text"])
        if multi_label:
            targets = np.zeros((len(batch["labels"]), len(names)), dtype=np.float32)
            for row, ids in enumerate(batch["labels"]):
                targets[row, ids] = 1.0
            encoded["labels"] = targets.tolist()
        else:
            encoded["labels"] = list(batch["labels"])
        return encoded

    encoded = encode_corpus(corpus, encode, multi_hot=multi_label)
    model = build_model(names, list(space.descriptions) if space.descriptions else None, problem_type)
    threshold = args.threshold

    def scores_at(gold, probabilities, at) -> dict[str, float]:
        return multilabel_scores(gold.astype(int), (probabilities >= np.asarray(at)).astype(int))

    def compute_metrics(prediction) -> dict[str, float]:
        logits, labels = logits_of(prediction.predictions), prediction.label_ids
        if multi_label:
            # R-Precision reads only the ranking: a score to stop on before any label passes the
            # threshold (on thousands of labels micro-F1 at 0.5 stays 0 for epochs).
            probabilities = torch.sigmoid(torch.from_numpy(logits)).numpy()
            return {**scores_at(labels, probabilities, threshold), "r_precision": r_precision(labels, probabilities)}
        return multiclass_scores(labels, logits.argmax(-1))

    return PreparedTask(
        model=model,
        tokenizer=tokenizer,
        datasets=encoded,
        collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        metric_for_best_model=best_metric(multi_label, len(names)),
        greater_is_better=True,
        task=space.task if space.task != "hierarchical" else "multi_label",
        label_names=names,
        label_descriptions=dict(zip(names, space.descriptions)) if space.descriptions else None,
        scores_at=scores_at if multi_label else None,
    )
