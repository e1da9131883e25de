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

import json
import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusError, DuplicateDocumentError, LabelSpace, classification_features, seeded_split
from .files import read_csv, read_json, read_text
from .hierarchy import Hierarchy, HierarchyError
from .ner_base import ner_features
from .ner_utils import bio_names

logger = logging.getLogger(__name__)

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".ndjson": "json", ".json": "json", ".parquet": "parquet"}
"""File extension -> format of a data file."""

USER_TASKS = ("auto", "multi_label", "multi_class", "hierarchical", "ner")
SPLITS = ("train", "validation", "test")
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
               "devel": "validation", "test": "test"}
"""Split names of a dataset folder or Hub dataset -> our split."""

OPTIONS = {
    "text": "--text_column_name",
    "label": "--label_column_name",
    "delimiter": "--label_delimiter",
    "descriptions": "--label_descriptions",
    "hierarchy": "--label_hierarchy",
    "task": "--task",
}
"""The `train.py` option behind each setting, named in errors."""

_TAG = re.compile(r"^(O|[BI]-\S.*)$")


class UserDataError(CorpusError):
    """The user's data files do not say what the options say they should."""


@dataclass
class RawSplit:
    """The rows of one file or dataset split, as read (before any checking)."""

    source: str  # the file path, or "<dataset> [split]"
    columns: list[str]
    rows: list[tuple[str, dict]]  # (where: "<source>, line 3", row)
    class_names: dict[str, list[str]] = field(default_factory=dict)  # ClassLabel columns: id -> name


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


# ------------------------------------------------------------------------------------------ reading
def read_data_file(path: str | os.PathLike, encoding: str = "utf-8") -> RawSplit:
    """The rows of a CSV, TSV, JSON lines (or JSON list) or Parquet file, chosen by its extension."""
    path = Path(path)
    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserDataError(
            f"{path}: unknown data file type {path.suffix or '(no extension)'!r}; use one of "
            f"{', '.join(FILE_FORMATS)} (CSV, TSV, JSON lines, Parquet)."
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file.")
    if fmt in ("csv", "tsv"):
        return _read_delimited(path, encoding, "\t" if fmt == "tsv" else ",")
    if fmt == "json":
        return _read_json_rows(path, encoding)
    return _read_parquet(path)


def _read_delimited(path: Path, encoding: str, delimiter: str) -> RawSplit:
    records = read_csv(path, encoding, delimiter=delimiter)
    try:
        _, header = next(records)
    except StopIteration:
        raise UserDataError(f"{path}: the file is empty (expected a header line naming the columns).") from None
    header = [name.strip().lstrip("\ufeff") for name in header]
    rows = []
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(header):
            raise UserDataError(
                f"{path}, line {line}: {len(fields)} fields, but the header has {len(header)} ({', '.join(header)})"
                + (" (a text with a comma must be quoted)" if delimiter == "," else "")
                + "."
            )
        rows.append((f"{path}, line {line}", dict(zip(header, fields))))
    return RawSplit(str(path), header, rows)


def _read_json_rows(path: Path, encoding: str) -> RawSplit:
    text = read_text(path, encoding)
    if text.lstrip().startswith("["):  # one JSON list of objects
        records = [(f"{path}, record {i}", row) for i, row in enumerate(read_json(path, encoding), 1)]
    else:
        records = []
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}, line {number}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise UserDataError(f"{path}, line {number}: not a JSON object ({err.msg}); JSON lines files hold "
                                    "one object per line.") from None
    columns: dict[str, None] = {}
    for where, row in records:
        if not isinstance(row, dict):
            raise UserDataError(f"{where}: expected a JSON object {{column: value}}, got {type(row).__name__}.")
        columns.update(dict.fromkeys(row))
    return RawSplit(str(path), list(columns), records)


def _read_parquet(path: Path) -> RawSplit:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a broken file
        raise UserDataError(f"{path}: not a readable Parquet file ({type(err).__name__}: {err}).") from None
    # A Parquet file written by `datasets` keeps its features (ClassLabel names) in the schema metadata.
    class_names = _class_names(datasets.Features.from_arrow_schema(table.schema))
    rows = [(f"{path}, row {i}", row) for i, row in enumerate(table.to_pylist(), 1)]
    return RawSplit(str(path), list(table.column_names), rows, class_names)


def _class_names(features: datasets.Features) -> dict[str, list[str]]:
    names = {}
    for column, feature in features.items():
        inner = getattr(feature, "feature", feature)
        if isinstance(inner, datasets.ClassLabel):
            names[column] = list(inner.names)
    return names


def read_dataset(name: str, config_name: str | None = None) -> tuple[dict[str, RawSplit], str | None]:
    """The splits of a saved `datasets` folder (`save_to_disk`), a folder `datasets.load_dataset` reads, or a
    Hub dataset id. Returns the splits by our names (train / validation / test) and the Hub id (None when local)."""
    path = Path(name)
    hub_id = None
    try:
        if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(path))
        elif path.exists():
            loaded = datasets.load_dataset(str(path), config_name)
        else:
            hub_id = name
            loaded = datasets.load_dataset(name, config_name)
    except (CorpusError, FileNotFoundError):
        raise
    except Exception as err:  # noqa: BLE001 - datasets raises many types; the user needs the option and the cause
        where = "the local folder" if hub_id is None else "a Hub dataset (no local folder has that name)"
        raise UserDataError(
            f"--dataset_name {name!r}" + (f" --dataset_config_name {config_name!r}" if config_name else "")
            + f": could not load it as {where} ({type(err).__name__}: {err})."
        ) from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    splits: dict[str, RawSplit] = {}
    found: dict[str, str] = {}
    for split_name, dataset in loaded.items():
        ours = SPLIT_NAMES.get(split_name.lower())
        if ours is None:
            logger.warning("--dataset_name %s: split %r is not train, validation (dev, valid) or test; not used.",
                           name, split_name)
            continue
        if ours in found:
            raise UserDataError(
                f"--dataset_name {name!r} has two {ours} splits, {found[ours]!r} and {split_name!r}: keep one."
            )
        found[ours] = split_name
        source = f"{name} [{split_name}]"
        rows = [(f"{source}, row {i}", row) for i, row in enumerate(dataset, 1)]
        splits[ours] = RawSplit(source, list(dataset.column_names), rows, _class_names(dataset.features))
    if "train" not in splits:
        raise UserDataError(f"--dataset_name {name!r}: no train split (splits: {', '.join(loaded) or 'none'}).")
    return splits, hub_id


# ------------------------------------------------------------------------------------------ label files
def _is_json(path: Path, option: str) -> bool:
    """Whether a label file is JSON (else CSV, or TSV by its extension); a missing file is named with its option."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} ({option}): no such file.")
    return path.suffix.lower() == ".json"


def _json_object(path: Path, option: str, shape: str, encoding: str) -> dict:
    data = read_json(path, encoding)
    if not isinstance(data, dict):
        raise UserDataError(f"{path} ({option}): expected a JSON object {shape}, got {type(data).__name__}.")
    return data


def _csv_records(path: Path, header: tuple[str, ...], encoding: str) -> Iterator[tuple[str, list[str]]]:
    """`(where, fields)` of a label file's CSV (TSV) lines: blank lines and an optional first-line `header` skipped."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    for number, fields in read_csv(path, encoding, delimiter=delimiter):
        if not any(f.strip() for f in fields):
            continue
        if number == 1 and tuple(f.strip().lower() for f in fields) == header:
            continue
        yield f"{path}, line {number}", fields


def read_label_descriptions(path: str | os.PathLike, encoding: str = "utf-8") -> dict[str, tuple[str, str]]:
    """``{label: (description, where)}`` from a JSON object ``{label: description}`` or a CSV ``label,description``
    (an optional header line ``label,description``)."""
    path = Path(path)
    option = OPTIONS["descriptions"]
    found: dict[str, tuple[str, str]] = {}
    if _is_json(path, option):
        for label, description in _json_object(path, option, "{label: description}", encoding).items():
            where = f"{path}, label {label!r}"
            if not isinstance(description, str) or not description.strip():
                raise UserDataError(f"{where} ({option}): the description must be a non-empty string, got {description!r}.")
            found[str(label)] = (description.strip(), where)
        return found
    for where, fields in _csv_records(path, ("label", "description"), encoding):
        if len(fields) != 2:
            raise UserDataError(f"{where} ({option}): expected two fields, label and description, got {len(fields)} "
                                "(quote a description that holds a comma).")
        label, description = fields[0].strip(), fields[1].strip()
        if not label or not description:
            raise UserDataError(f"{where} ({option}): empty {'label' if not label else 'description'}.")
        if label in found:
            raise UserDataError(f"{where} ({option}): label {label!r} is described twice (first at {found[label][1]}).")
        found[label] = (description, where)
    return found


def read_label_hierarchy(path: str | os.PathLike, encoding: str = "utf-8") -> Hierarchy:
    """A :class:`Hierarchy` from a CSV of ``label,parent`` links (a root has an empty parent; a label with several
    parents has several lines; an optional header ``label,parent``) or a JSON object ``{label: [parents]}``.

    The hierarchy's own checks run (cycles, parents that are not labels); their errors name the lines at fault.
    """
    path = Path(path)
    option = OPTIONS["hierarchy"]
    parents: dict[str, list[str]] = {}
    link_at: dict[tuple[str, str], str] = {}
    if _is_json(path, option):
        for label, value in _json_object(path, option, "{label: [parents]}", encoding).items():
            where = f"{path}, label {label!r}"
            values = [] if value is None else [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(p, str) for p in values):
                raise UserDataError(f"{where} ({option}): parents must be a list of label names, got {value!r}.")
            parents[str(label)] = list(values)
            for parent in values:
                link_at[(str(label), parent)] = where
    else:
        for where, fields in _csv_records(path, ("label", "parent"), encoding):
            if len(fields) not in (1, 2) or not fields[0].strip():
                raise UserDataError(f"{where} ({option}): expected 'label,parent' (parent empty for a root), got {fields!r}.")
            label = fields[0].strip()
            parent = fields[1].strip() if len(fields) == 2 else ""
            parents.setdefault(label, [])
            if parent:
                parents[label].append(parent)
                link_at.setdefault((label, parent), where)
    if not parents:
        raise UserDataError(f"{path} ({option}): no label in the file.")
    try:
        return Hierarchy(parents)
    except HierarchyError as err:
        if err.cycle:
            lines = [link_at.get((child, parent), "?") for child, parent in zip(err.cycle, err.cycle[1:])]
            raise UserDataError(
                f"{path} ({option}): the hierarchy has a cycle, {' -> '.join(err.cycle)} (child -> parent), made by "
                f"{'; '.join(lines)}. A label cannot be its own ancestor: remove one of these links."
            ) from None
        if err.unknown_links:
            label, parent = err.unknown_links[0]
            raise UserDataError(
                f"{link_at.get((label, parent), path)} ({option}): parent {parent!r} of {label!r} is not a label of the "
                f"hierarchy ({len(err.unknown_links)} such link(s)); give every parent its own line "
                f"('{parent},' for a root)."
            ) from None
        raise UserDataError(f"{path} ({option}): {err}") from None


# ------------------------------------------------------------------------------------------ rows
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_name(item: Any, class_names: list[str] | None, where: str, option: str) -> str:
    if isinstance(item, float) and item.is_integer():
        item = int(item)  # pandas turns an integer column with gaps into floats
    if class_names is not None and isinstance(item, int) and not isinstance(item, bool):
        if not 0 <= item < len(class_names):
            raise UserDataError(f"{where}: label id {item} ({option}) is outside the column's {len(class_names)} classes.")
        return class_names[item]
    return str(item).strip()


def _label_list(value: Any, delimiter: str | None, class_names: list[str] | None, where: str) -> list[str]:
    option = OPTIONS["label"]
    if _missing(value):
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = list(value)
    elif isinstance(value, str) and delimiter:
        items = value.split(delimiter)
    else:
        items = [value]
    names = [_as_name(item, class_names, where, option) for item in items if not _missing(item)]
    return list(dict.fromkeys(name for name in names if name))


def _sequence(value: Any, where: str, column: str, option: str) -> list:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return list(value)
    raise UserDataError(f"{where}: column {column!r} ({option}) must be a list (or a whitespace-separated string), "
                        f"got {value!r}.")


@dataclass
class _Example:
    where: str
    key: str  # what identifies a document when looking for duplicates: its text, whitespace normalised
    row: dict  # the corpus row, labels as names
    given_id: str | None = None  # the row's `id` column, when the data has one


def _row_id(raw: RawSplit, where: str, split: str) -> str:
    """A document id for a row without an `id` column: split, file name and line or row number."""
    return f"{split}:{Path(raw.source).name}:{where.rsplit(' ', 1)[-1]}"


def _check_columns(raw: RawSplit, needed: dict[str, str]) -> None:
    for column, option in needed.items():
        if column not in raw.columns:
            raise UserDataError(
                f"{raw.source}: no column {column!r} ({option}); the columns are: {', '.join(raw.columns) or 'none'}."
            )


def _classification_examples(raw: RawSplit, text_column: str, label_column: str, delimiter: str | None,
                             split: str) -> list[_Example]:
    _check_columns(raw, {text_column: OPTIONS["text"], label_column: OPTIONS["label"]})
    examples = []
    for where, row in raw.rows:
        text = row.get(text_column)
        if _missing(text) or not str(text).strip():
            raise UserDataError(f"{where}: empty text in column {text_column!r} ({OPTIONS['text']}).")
        text = str(text)
        labels = _label_list(row.get(label_column), delimiter, raw.class_names.get(label_column), where)
        given = str(row["id"]) if "id" in row and not _missing(row["id"]) else None
        examples.append(_Example(where, " ".join(text.split()),
                                 {"id": given or _row_id(raw, where, split), "text": text, "labels": labels}, given))
    return examples


def _ner_examples(raw: RawSplit, tokens_column: str, tags_column: str, split: str) -> list[_Example]:
    _check_columns(raw, {tokens_column: OPTIONS["text"], tags_column: OPTIONS["label"]})
    class_names = raw.class_names.get(tags_column)
    examples = []
    for where, row in raw.rows:
        if _missing(row.get(tokens_column)):
            raise UserDataError(f"{where}: empty text in column {tokens_column!r} ({OPTIONS['text']}).")
        tokens = [str(t) for t in _sequence(row[tokens_column], where, tokens_column, OPTIONS["text"])]
        if not tokens or not any(t.strip() for t in tokens):
            raise UserDataError(f"{where}: empty text in column {tokens_column!r} ({OPTIONS['text']}).")
        if _missing(row.get(tags_column)):
            raise UserDataError(f"{where}: no tags in column {tags_column!r} ({OPTIONS['label']}).")
        tags = [_as_name(t, class_names, where, OPTIONS["label"])
                for t in _sequence(row[tags_column], where, tags_column, OPTIONS["label"])]
        if len(tags) != len(tokens):
            raise UserDataError(f"{where}: {len(tokens)} tokens ({tokens_column!r}) but {len(tags)} tags "
                                f"({tags_column!r}, {OPTIONS['label']}); give one tag per token.")
        bad = [t for t in tags if not _TAG.match(t)]
        if bad:
            raise UserDataError(f"{where}: tag {bad[0]!r} in column {tags_column!r} ({OPTIONS['label']}) is not IOB2 "
                                "('O', 'B-<type>' or 'I-<type>').")
        text, offsets, position = " ".join(tokens), [], 0
        for token in tokens:
            offsets.append([position, position + len(token)])
            position += len(token) + 1
        given = str(row["id"]) if "id" in row and not _missing(row["id"]) else None
        doc_id = given or _row_id(raw, where, split)
        examples.append(_Example(where, text, {"id": doc_id, "document_id": doc_id, "text": text, "tokens": tokens,
                                               "ner_tags": tags, "offsets": offsets}, given))
    return examples


def _label_names(example: _Example, task: str) -> list[str]:
    if task == "ner":
        return sorted({tag[2:] for tag in example.row["ner_tags"] if tag != "O"})
    return example.row["labels"]


def _natural(name: str) -> tuple:
    return (0, int(name), "") if re.fullmatch(r"-?\d+", name) else (1, 0, name)


# ------------------------------------------------------------------------------------------ splits
def _refuse_duplicates(splits: dict[str, list[_Example]], duplicates: str) -> dict[str, list[_Example]]:
    """Refuse (or drop, `duplicates="drop"`) a text found in two splits, or an `id` found twice; count repeated
    texts within one split."""
    first: dict[str, str] = {}
    ids: dict[str, str] = {}
    kept: dict[str, list[_Example]] = {}
    dropped = 0
    remedy = "Remove one, or pass --duplicates drop to keep only the first (in the order train, validation, test)."
    for split in SPLITS:
        if split not in splits:
            continue
        own: dict[str, str] = {}
        repeats = 0
        kept[split] = []
        for example in splits[split]:
            if example.given_id is not None and example.given_id in ids:
                if duplicates == "error":
                    raise DuplicateDocumentError(
                        f"{example.where}: document id {example.given_id!r} (column 'id') is also at "
                        f"{ids[example.given_id]}. {remedy}"
                    )
                dropped += 1
                continue
            if example.key in first:
                if duplicates == "error":
                    shown = example.key if len(example.key) <= 60 else example.key[:57] + "..."
                    raise DuplicateDocumentError(
                        f"{example.where}: the same text as {first[example.key]} ({shown!r}); a document in two splits "
                        f"is scored on what the model was trained or tuned on. {remedy}"
                    )
                dropped += 1
                continue
            if example.given_id is not None:
                ids[example.given_id] = example.where
            repeats += example.key in own
            own.setdefault(example.key, example.where)
            kept[split].append(example)
        if repeats:
            logger.warning("%d row(s) of the %s split repeat a text of that split (kept).", repeats, split)
        for key, where in own.items():
            first.setdefault(key, where)
    if dropped:
        logger.warning("--duplicates drop: removed %d row(s) whose text is in an earlier split or whose id came before.",
                       dropped)
    return kept


def _split_off(train: list[_Example], shares: dict[str, float], seed: int, source: str) -> dict[str, list[_Example]]:
    """Split validation and/or test (`shares`: split -> percentage) off the training rows; identical texts go
    to one part together."""
    keys = list(dict.fromkeys(example.key for example in train))
    n = len(keys)
    counts = {split: (max(1, round(n * share / 100)) if share > 0 else 0) for split, share in shares.items()}
    counts["train"] = n - sum(counts.values())
    if counts["train"] < 1:
        options = " and ".join(f"--{split}_split_percentage {share:g}" for split, share in shares.items())
        raise UserDataError(f"{source}: {n} distinct text(s) are too few to split off {options} and keep one to train on.")
    order = ["train", *shares]
    parts = seeded_split(keys, [counts[split] / n for split in order], seed)
    part_of = {key: split for split, part in zip(order, parts) for key in part}
    out: dict[str, list[_Example]] = {split: [] for split in order}
    for example in train:
        out[part_of[example.key]].append(example)
    return out


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
    ner = _looks_like_ner(raw.columns, label_column)
    text_column, label_column = _resolve_columns(ner, raw.columns, text_column, label_column)
    if label_column not in raw.columns:
        _check_columns(raw, {text_column: OPTIONS["text"]})
        raw = RawSplit(raw.source, raw.columns + [label_column], [(w, {**r, label_column: None}) for w, r in raw.rows])
        labelled = False
    else:
        labelled = True
    if ner and not labelled:
        return [_sequence(row[text_column], where, text_column, OPTIONS["text"]) for where, row in raw.rows], None
    if ner:
        examples = _ner_examples(raw, text_column, label_column, "test")
        return [e.row["tokens"] for e in examples], [e.row["ner_tags"] for e in examples]
    examples = _classification_examples(raw, text_column, label_column, label_delimiter, "test")
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
        task = _detect_task(raw["train"], label_column, label_delimiter, label_hierarchy)
    if task == "hierarchical" and not label_hierarchy:
        raise UserDataError(f"A hierarchical task needs the label hierarchy: {OPTIONS['hierarchy']} FILE (CSV label,parent "
                            "or JSON {label: [parents]}).")
    text_column, label_column = _resolve_columns(task == "ner", train_columns, text_column, label_column)

    examples: dict[str, list[_Example]] = {}
    for split, part in raw.items():
        if task == "ner":
            examples[split] = _ner_examples(part, text_column, label_column, split)
        else:
            examples[split] = _classification_examples(part, text_column, label_column, label_delimiter, split)
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

    examples = _refuse_duplicates(examples, duplicates)
    train_source = raw["train"].source
    # The label set comes from the whole training file, before any split-off: a rare label that the split
    # puts into validation only is still one of the model's labels.
    first_seen: dict[str, str] = {}
    for example in examples["train"]:
        for name in _flat(_label_names(example, task)):
            first_seen.setdefault(name, example.where)

    split_notes = {split: f"{_shown(raw[split].source)} ({_rows(len(examples[split]))})" for split in examples}
    shares = {split: share for split, share in (("validation", validation_split_percentage), ("test", test_split_percentage))
              if split not in examples and share > 0}
    if shares:
        parts = _split_off(examples["train"], shares, split_seed, train_source)
        examples.update(parts)
        for split, share in shares.items():
            split_notes[split] = (f"{share:g}% of {_shown(train_source)} split off with seed {split_seed} "
                                  f"({_rows(len(parts[split]))})")
        split_notes["train"] = f"{_shown(train_source)} ({_rows(len(parts['train']))} after the split-off)"

    hierarchy = read_label_hierarchy(label_hierarchy, encoding) if label_hierarchy else None
    if task == "hierarchical":
        names, hierarchy = _hierarchy_names(hierarchy, examples, label_hierarchy, label_column)
    else:
        if hierarchy is not None:
            raise UserDataError(f"{OPTIONS['hierarchy']} is given, but {OPTIONS['task']} is {task}: pass "
                                f"{OPTIONS['task']} hierarchical (or auto), or leave the hierarchy out.")
        names = sorted(first_seen, key=_natural)
        if not names:
            raise UserDataError(f"{train_source}: no row has a label in column {label_column!r} ({OPTIONS['label']}).")
        known = set(names)
        for split in ("validation", "test"):
            for example in examples.get(split, []):
                unknown = [n for n in _flat(_label_names(example, task)) if n not in known]
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
        descriptions, unused = _descriptions_for(names, label_descriptions, encoding, first_seen)

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


def _default_label_column(columns: list[str]) -> str:
    return "label" if "labels" not in columns and "label" in columns else "labels"


def _resolve_columns(ner: bool, columns: list[str], text_column: str | None, label_column: str | None) -> tuple[str, str]:
    """The text and label columns: as given, else the conventions (module docstring)."""
    if ner:
        return text_column or "tokens", label_column or "ner_tags"
    return text_column or "text", label_column or _default_label_column(columns)


def _looks_like_ner(columns: list[str], label_column: str | None) -> bool:
    """Rows with `tokens` and `ner_tags` and no classification label column are NER rows."""
    return {"tokens", "ner_tags"} <= set(columns) and (label_column or _default_label_column(columns)) not in columns


def _detect_task(train: RawSplit, label_column: str | None, delimiter: str | None, hierarchy: Any) -> str:
    if hierarchy:
        return "hierarchical"
    column = label_column or _default_label_column(train.columns)
    if _looks_like_ner(train.columns, label_column):
        return "ner"
    if delimiter:
        return "multi_label"
    values = (row.get(column) for _, row in train.rows)
    if any(isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray" for v in values):
        return "multi_label"
    return "multi_class"


def _hierarchy_names(hierarchy: Hierarchy, examples: dict[str, list[_Example]], path: Any,
                     label_column: str) -> tuple[list[str], Hierarchy]:
    """The hierarchy's labels that occur in the data, with their ancestors, in the file's order."""
    used: set[str] = set()
    for split in SPLITS:
        for example in examples.get(split, []):
            for name in example.row["labels"]:
                if name not in hierarchy:
                    raise UserDataError(
                        f"{example.where}: label {name!r} (column {label_column!r}, {OPTIONS['label']}) is not in the "
                        f"hierarchy {path} ({OPTIONS['hierarchy']}). Add it there with its parent."
                    )
                used.add(name)
    if not used:
        raise UserDataError(f"no row has a label in column {label_column!r} ({OPTIONS['label']}).")
    keep = set(used)
    for name in used:
        keep |= hierarchy.ancestors(name)
    if len(keep) < len(hierarchy):
        logger.info("%s: %d of its %d labels occur in the data (with their ancestors); the model gets those.",
                    path, len(keep), len(hierarchy))
        hierarchy = hierarchy.restrict(keep)
    return hierarchy.labels, hierarchy


def _descriptions_for(names: list[str], path: Any, encoding: str, first_seen: dict[str, str]) -> tuple[list[str], int]:
    """One description per label, by name; the count of descriptions of labels that never occur."""
    found = read_label_descriptions(path, encoding)
    missing = [name for name in names if name not in found]
    if missing:
        shown = "; ".join(f"{name!r}" + (f" (first at {first_seen[name]})" if name in first_seen else "")
                          for name in missing[:5])
        raise UserDataError(
            f"{path} ({OPTIONS['descriptions']}): no description for {len(missing)} of the {len(names)} labels: {shown}"
            f"{' ...' if len(missing) > 5 else ''}. Add a line '<label>,<description>' (CSV) or a key (JSON) for each."
        )
    unused = [label for label in found if label not in set(names)]
    if unused:
        logger.warning("%s: %d description(s) are of labels that never occur in the data (e.g. %s); not used.",
                       path, len(unused), ", ".join(repr(u) for u in unused[:3]))
    return [found[name][0] for name in names], len(unused)
