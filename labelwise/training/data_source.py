"""Where `train.py` reads its corpus: a built-in one (`--corpus`) or the user's own data (`--train_file`,
`--dataset_name`). Both come out as one `LabelSpace` and one `DatasetDict` with the same features, so the
model kinds, thresholds, model card and export never ask which it was (docs/DATA.md, "Your own data").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetDict

from labelwise.data_scripts import LabelSpace, exclude_labels, load_corpus, load_label_space
from labelwise.data_scripts.user_data import USER_TASKS, load_user_data
from labelwise.kinds import get_kind

BUILT_IN_DEFAULT_CORPUS = "demo"
"""`--corpus`'s default: with your own data it must stay unset."""

USER_DATA_FLAGS = ("--train_file", "--dataset_name")
"""The flags that choose your own data over a built-in corpus."""


@dataclass
class UserDataArguments:
    """`train.py` options of your own data (instead of a built-in `--corpus`)."""

    train_file: str | None = field(
        default=None, metadata={"help": "Your own training data: a CSV, TSV, JSON lines or Parquet file (by extension)."}
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Your validation file (default: --validation_split_percentage of the training rows)."}
    )
    test_file: str | None = field(
        default=None, metadata={"help": "Your test file (default: --test_split_percentage of the training rows)."}
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"help": "Your data as a Hub dataset id, a folder of data files, or a folder written by "
                  "datasets' save_to_disk (splits train, validation/dev, test)."},
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "The configuration of --dataset_name."})
    text_column_name: str | None = field(
        default=None, metadata={"help": "Column of the texts (default: text; NER: tokens)."}
    )
    label_column_name: str | None = field(
        default=None, metadata={"help": "Column of the labels (default: labels, else label; NER: ner_tags)."}
    )
    label_delimiter: str | None = field(
        default=None, metadata={"help": "Split a label cell into several labels at this string (e.g. '|'): multi-label."}
    )
    task: str = field(
        default="auto",
        metadata={"help": "Your data's task: auto (from the model kind, the files and the options), multi_label, "
                  "multi_class, hierarchical or ner.", "choices": list(USER_TASKS)},
    )
    label_descriptions: str | None = field(
        default=None,
        metadata={"help": "File of label descriptions for LAME: JSON {label: description} or CSV label,description."},
    )
    label_hierarchy: str | None = field(
        default=None,
        metadata={"help": "File of the label hierarchy (layer-wise): CSV label,parent (empty parent for a root) or "
                  "JSON {label: [parents]}."},
    )
    validation_split_percentage: float = field(
        default=10.0, metadata={"help": "Without --validation_file: percent of the training rows held out to validate."}
    )
    test_split_percentage: float = field(
        default=10.0, metadata={"help": "Without --test_file: percent of the training rows held out to test (0: no test)."}
    )
    data_split_seed: int = field(
        default=42, metadata={"help": "Seed of those split-offs (fixed, apart from --seed, so every run tests on the same rows)."}
    )
    duplicates: str = field(
        default="error",
        metadata={"help": "A text found in two splits: error, or drop (keep the first, in the order train, "
                  "validation, test).", "choices": ["error", "drop"]},
    )

    def user_data_given(self) -> bool:
        """Whether the corpus is the user's own (files or a dataset) rather than a built-in one."""
        return bool(self.train_file or self.dataset_name)

    def data_source_name(self) -> str | None:
        """A short name of the user's data (the training file's or dataset's), or None for a built-in corpus."""
        if self.train_file:
            return Path(self.train_file).stem
        if self.dataset_name:
            return Path(self.dataset_name.rstrip("/")).name
        return None

    def check_data_source(self) -> None:
        """Refuse options that contradict each other before anything is read."""
        if self.validation_file or self.test_file or self.dataset_config_name:
            if not self.user_data_given():
                raise ValueError("--validation_file, --test_file and --dataset_config_name need --train_file or --dataset_name.")
        if not self.user_data_given():
            for option in ("label_descriptions", "label_hierarchy", "text_column_name", "label_column_name", "label_delimiter"):
                if getattr(self, option):
                    raise ValueError(f"--{option} applies to your own data (--train_file or --dataset_name); the "
                                     f"built-in corpus {getattr(self, 'corpus', '')!r} brings its own.")
            return
        corpus = getattr(self, "corpus", BUILT_IN_DEFAULT_CORPUS)
        if corpus != BUILT_IN_DEFAULT_CORPUS or getattr(self, "data_dir", None) or getattr(self, "corpus_options", None):
            raise ValueError("Give either a built-in corpus (--corpus, --data_dir, --corpus_options) or your own data "
                             "(--train_file / --dataset_name), not both.")


def load_training_data(args, seed: int = 42) -> tuple[LabelSpace, DatasetDict, dict]:
    """The label space, the corpus and its description (`training_summary.json["dataset"]`) that `args` name.

    With your own data `args.corpus` becomes its name (the training file's or dataset's), so errors and the
    model card name it. `--exclude_labels` applies to both sources.
    """
    if args.user_data_given():
        user = load_user_data(
            args.train_file, args.validation_file, args.test_file,
            dataset_name=args.dataset_name, dataset_config_name=args.dataset_config_name,
            text_column=args.text_column_name, label_column=args.label_column_name,
            label_delimiter=args.label_delimiter, task=_task(args),
            label_descriptions=args.label_descriptions, label_hierarchy=args.label_hierarchy,
            validation_split_percentage=args.validation_split_percentage,
            test_split_percentage=args.test_split_percentage, split_seed=args.data_split_seed,
            duplicates=args.duplicates,
        )
        space, corpus, info = user.space, user.corpus, dict(user.info)
        args.corpus = info["name"]
    else:
        corpus_config = args.corpus_config()
        space = load_label_space(args.corpus, data_dir=args.data_dir, **corpus_config)
        corpus = load_corpus(args.corpus, data_dir=args.data_dir, **corpus_config)
        info = {"name": args.corpus, "hub_id": None, "config": corpus_config}
    if args.excluded_labels():
        space, corpus = exclude_labels(space, corpus, args.excluded_labels(), args.held_out_documents)
        info.update(excluded_labels=args.excluded_labels(), held_out_documents=args.held_out_documents)
    return space, corpus, info


def _task(args) -> str:
    """`--task`, with `auto` narrowed by the model kind when the kind trains on one task only (the tagger on NER,
    the layer-wise model on a hierarchy)."""
    if args.task != "auto":
        return args.task
    tasks = get_kind(args.model).tasks
    return tasks[0] if len(tasks) == 1 else "auto"
