"""Your own data: CSV, TSV, JSON lines or Parquet files, a saved `datasets` folder, or a Hub dataset,
read into the same :class:`LabelSpace` and ``DatasetDict`` as the built-in corpora, so that every model
kind trains on it without knowing where it came from (``train.py --train_file``, docs/DATA.md).

Rows
    Classification: a text column and a label column. A label cell holds one class, a list of classes
    (JSON lines, Parquet, datasets), or a string of classes joined by ``label_delimiter``; an empty cell is
    a document with no label (multi-label only). NER: ``tokens`` and ``ner_tags`` (IOB2 tag names, or
    ids of a ``ClassLabel``), as lists, or as whitespace-separated strings in CSV/TSV.

Task (``task="auto"``)
    ``hierarchical`` with a hierarchy file; ``ner`` when the rows have ``tokens`` and ``ner_tags`` and no
    label column; ``multi_label`` when a delimiter is given or a label cell is a list; else ``multi_class``.

Labels
    The label set is the training file's labels (before any split-off), sorted (numbers numerically);
    a validation or test label outside it is an error. With a hierarchy the labels are the hierarchy's
    that occur in the data, with their ancestors, in the hierarchy file's order.

Splits
    A missing validation or test file is split off the training rows with ``split_seed``
    (``validation_split_percentage``, ``test_split_percentage``); identical texts stay in one part. The
    same text in two of the given files, or an ``id`` given twice, is an error (``duplicates="drop"`` keeps
    the first, in the order train, validation, test); repeated texts within one file are counted in the log.

Every error names the file (or dataset split), the line or row, and the ``train.py`` option at stake.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from .base import LabelSpace, classification_features
from .ner_base import ner_features
from .ner_utils import bio_names
from .user_files import (
    FILE_FORMATS,
    OPTIONS,
    SPLIT_NAMES,
    SPLITS,
    RawSplit,
    UserDataError,
    read_data_file,
    read_dataset,
)
from .user_labels import descriptions_for, hierarchy_names, read_label_descriptions, read_label_hierarchy
from .user_rows import (
    Example,
    check_columns,
    classification_examples,
    detect_task,
    label_names,
    looks_like_ner,
    natural_key,
    ner_examples,
    resolve_columns,
    sequence,
)
from .user_splits import refuse_duplicates, split_off

logger = logging.getLogger(__name__)

__all__ = [
    "FILE_FORMATS", "OPTIONS", "SPLITS", "SPLIT_NAMES", "USER_TASKS", "RawSplit", "UserCorpus", "UserDataError",
    "load_user_data", "read_data_file", "read_dataset", "read_label_descriptions", "read_label_hierarchy",
    "read_user_examples",
]
"""The public names of your own data, importable from here whichever module of `user_*` holds them."""

USER_TASKS = ("auto", "multi_label", "multi_class", "hierarchical", "ner")


@dataclass
class UserCorpus:
    """What :func:`load_user_data` returns.

    Attributes:
        space: the labels (task, names, descriptions, hierarchy).
        corpus: train / validation / test with the built-in corpora's features.
        info: where it came from, for the training summary and model card: ``name`` (file name or
            dataset id), ``hub_id`` (a Hub dataset, else None), ``config``, ``splits`` (one sentence per
            split: its file, or the share split off with its seed), ``unused_descriptions``.
    """

    space: LabelSpace
    corpus: datasets.DatasetDict
    info: dict


# ------------------------------------------------------------------------------------------ one file, no training
def read_user_examples(
    path: str | os.PathLike,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    label_delimiter: str | None = None,
    encoding: str = "utf-8",
) -> tuple[list, list | None]:
    """The inputs and gold labels of one data file, read and checked as for training (for scoring a saved model).

    Returns:
        ``(texts, labels)``: texts (strings; for NER rows with ``tokens`` and ``ner_tags``, token lists) and, when
        the file has the label column, each row's label names (NER: its tag names), else None. Labels are not
        checked against a label set here: the model's own label set is the scorer's to compare with.
    """
    raw = read_data_file(path, encoding)
    ner = looks_like_ner(raw.columns, label_column)
    text_column, label_column = resolve_columns(ner, raw.columns, text_column, label_column)
    if label_column not in raw.columns:
        check_columns(raw, {text_column: OPTIONS["text"]})
        raw = RawSplit(raw.source, raw.columns + [label_column], [(w, {**r, label_column: None}) for w, r in raw.rows])
        labelled = False
    else:
        labelled = True
    if ner and not labelled:
        return [sequence(row[text_column], where, text_column, OPTIONS["text"]) for where, row in raw.rows], None
    if ner:
        examples = ner_examples(raw, text_column, label_column, "test")
        return [e.row["tokens"] for e in examples], [e.row["ner_tags"] for e in examples]
    examples = classification_examples(raw, text_column, label_column, label_delimiter, "test")
    return [e.row["text"] for e in examples], ([e.row["labels"] for e in examples] if labelled else None)


# ------------------------------------------------------------------------------------------ entry point
def load_user_data(
    train_file: str | os.PathLike | None = None,
    validation_file: str | os.PathLike | None = None,
    test_file: str | os.PathLike | None = None,
    *,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    label_delimiter: str | None = None,
    task: str = "auto",
    label_descriptions: str | os.PathLike | None = None,
    label_hierarchy: str | os.PathLike | None = None,
    validation_split_percentage: float = 10.0,
    test_split_percentage: float = 10.0,
    split_seed: int = 42,
    duplicates: str = "error",
    encoding: str = "utf-8",
) -> UserCorpus:
    """Read the user's data into a label space and a train / validation / test ``DatasetDict``.

    Args:
        train_file, validation_file, test_file: data files (CSV, TSV, JSON lines, Parquet, by extension);
            or `dataset_name` (with `dataset_config_name`): a saved `datasets` folder, a folder of data files,
            or a Hub dataset id. The files given beside a dataset replace its splits.
        text_column / label_column: column names (default ``text`` and ``labels``, else ``label``; for NER
            ``tokens`` and ``ner_tags``).
        label_delimiter: splits a label cell into several labels (e.g. ``"|"``); makes the task multi-label.
        task: one of :data:`USER_TASKS` (module docstring for ``auto``).
        label_descriptions: a file of label descriptions (:func:`read_label_descriptions`); every label needs one.
        label_hierarchy: a hierarchy file (:func:`read_label_hierarchy`); makes the task hierarchical.
        validation_split_percentage, test_split_percentage: share of the training rows split off when that
            split has no file (0: none).
        split_seed: seed of that split.
        duplicates: ``"error"`` or ``"drop"`` for a text found in two splits.
    """
    if task not in USER_TASKS:
        raise UserDataError(f"{OPTIONS['task']} must be one of {', '.join(USER_TASKS)}, got {task!r}.")
    if duplicates not in ("error", "drop"):
        raise UserDataError(f"--duplicates must be 'error' or 'drop', got {duplicates!r}.")
    for name, share in (("validation", validation_split_percentage), ("test", test_split_percentage)):
        if not 0 <= share < 100:
            raise UserDataError(f"--{name}_split_percentage must be in [0, 100), got {share}.")
    raw: dict[str, RawSplit] = {}
    hub_id = None
    if dataset_name:
        raw, hub_id = read_dataset(dataset_name, dataset_config_name)
    for split, path in (("train", train_file), ("validation", validation_file), ("test", test_file)):
        if path:
            raw[split] = read_data_file(path, encoding)
    if "train" not in raw:
        raise UserDataError("Your own data needs a training file: --train_file FILE (or --dataset_name with a train split).")

    train_columns = raw["train"].columns
    if task == "auto":
        task = detect_task(raw["train"], label_column, label_delimiter, label_hierarchy)
    if task == "hierarchical" and not label_hierarchy:
        raise UserDataError(f"A hierarchical task needs the label hierarchy: {OPTIONS['hierarchy']} FILE (CSV label,parent "
                            "or JSON {label: [parents]}).")
    text_column, label_column = resolve_columns(task == "ner", train_columns, text_column, label_column)

    examples: dict[str, list[Example]] = {}
    for split, part in raw.items():
        if task == "ner":
            examples[split] = ner_examples(part, text_column, label_column, split)
        else:
            examples[split] = classification_examples(part, text_column, label_column, label_delimiter, split)
        if not examples[split]:
            raise UserDataError(f"{part.source}: no data row.")
    if task == "multi_class":
        for split_examples in examples.values():
            for example in split_examples:
                if len(example.row["labels"]) != 1:
                    raise UserDataError(
                        f"{example.where}: a multi-class task needs exactly one label in column {label_column!r} "
                        f"({OPTIONS['label']}), got {example.row['labels'] or 'none'}; for several labels per text "
                        f"pass {OPTIONS['task']} multi_label (and {OPTIONS['delimiter']} for a delimited string)."
                    )
                example.row["labels"] = example.row["labels"][0]

    examples = refuse_duplicates(examples, duplicates)
    train_source = raw["train"].source
    # The label set comes from the whole training file, before any split-off: a rare label that the split
    # puts into validation only is still one of the model's labels.
    first_seen: dict[str, str] = {}
    for example in examples["train"]:
        for name in _flat(label_names(example, task)):
            first_seen.setdefault(name, example.where)

    split_notes = {split: f"{_shown(raw[split].source)} ({_rows(len(examples[split]))})" for split in examples}
    shares = {split: share for split, share in (("validation", validation_split_percentage), ("test", test_split_percentage))
              if split not in examples and share > 0}
    if shares:
        parts = split_off(examples["train"], shares, split_seed, train_source)
        examples.update(parts)
        for split, share in shares.items():
            split_notes[split] = (f"{share:g}% of {_shown(train_source)} split off with seed {split_seed} "
                                  f"({_rows(len(parts[split]))})")
        split_notes["train"] = f"{_shown(train_source)} ({_rows(len(parts['train']))} after the split-off)"

    hierarchy = read_label_hierarchy(label_hierarchy, encoding) if label_hierarchy else None
    if task == "hierarchical":
        names, hierarchy = hierarchy_names(hierarchy, examples, label_hierarchy, label_column)
    else:
        if hierarchy is not None:
            raise UserDataError(f"{OPTIONS['hierarchy']} is given, but {OPTIONS['task']} is {task}: pass "
                                f"{OPTIONS['task']} hierarchical (or auto), or leave the hierarchy out.")
        names = sorted(first_seen, key=natural_key)
        if not names:
            raise UserDataError(f"{train_source}: no row has a label in column {label_column!r} ({OPTIONS['label']}).")
        known = set(names)
        for split in ("validation", "test"):
            for example in examples.get(split, []):
                unknown = [n for n in _flat(label_names(example, task)) if n not in known]
                if unknown:
                    raise UserDataError(
                        f"{example.where}: label {unknown[0]!r} (column {label_column!r}, {OPTIONS['label']}) does not "
                        f"occur in the training file {train_source}, so the model has no output for it. Add training "
                        f"rows with it, or remove it here."
                    )
        if task == "ner":
            names = bio_names(names)

    descriptions, unused = None, 0
    if label_descriptions:
        if task == "ner":
            raise UserDataError(f"{OPTIONS['descriptions']}: NER tags take no descriptions; leave the option out.")
        descriptions, unused = descriptions_for(names, label_descriptions, encoding, first_seen)

    space = LabelSpace(task, names, descriptions, hierarchy)
    features = ner_features(names) if task == "ner" else classification_features(space)
    corpus = datasets.DatasetDict({
        split: datasets.Dataset.from_list([example.row for example in examples[split]], features=features)
        for split in SPLITS if split in examples
    })
    no_label = sum(1 for example in examples["train"] if task == "multi_label" and not example.row["labels"])
    if no_label:
        logger.warning("%d training row(s) have no label (negatives for every label).", no_label)
    info = {
        "name": hub_id or (Path(dataset_name).name if dataset_name else Path(train_source).name),
        "hub_id": hub_id,
        "config": {"dataset_config_name": dataset_config_name} if dataset_config_name else {},
        "splits": {split: split_notes[split] for split in SPLITS if split in split_notes},
    }
    if unused:
        info["unused_descriptions"] = unused
    logger.info("Your own data: %s, %s, %d labels; %s.", info["name"], task, len(names),
                "; ".join(f"{s}: {n}" for s, n in info["splits"].items()))
    return UserCorpus(space, corpus, info)


def _shown(source: str) -> str:
    """A source as the model card names it: a file by its name (local folders are nobody else's business)."""
    path, bracket, split = source.partition(" [")
    return Path(path).name + bracket + split if Path(path).exists() else source


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _flat(names: Any) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
