"""Your own data, read as it is: the rows of a CSV, TSV, JSON lines or Parquet file, or of the splits of a
saved `datasets` folder, a folder of data files or a Hub dataset (docs/DATA.md). Nothing is checked here
but the file's own shape; `user_data.load_user_data` checks the rows.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .base import CorpusError
from .files import read_csv, read_json, read_text

logger = logging.getLogger(__name__)

FILE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".ndjson": "json", ".json": "json", ".parquet": "parquet"}
"""File extension -> format of a data file."""

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


class UserDataError(CorpusError):
    """The user's data files do not say what the options say they should."""


@dataclass
class RawSplit:
    """The rows of one file or dataset split, as read (before any checking)."""

    source: str  # the file path, or "<dataset> [split]"
    columns: list[str]
    rows: list[tuple[str, dict]]  # (where: "<source>, line 3", row)
    class_names: dict[str, list[str]] = field(default_factory=dict)  # ClassLabel columns: id -> name



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


def _hub_remedy() -> str:
    """What to do when a Hub dataset could not be fetched: offline, or no network."""
    local = ("pass a local folder instead: one written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk` on a "
             "machine with access, or a folder of data files")
    if datasets.config.HF_HUB_OFFLINE:
        return (" Offline mode is on (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE) and the dataset is not in the local cache: "
                f"download it once with network access (unset the variable), or {local}.")
    return f" Check the id and the network, or {local}."


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
            + f": could not load it as {where} ({type(err).__name__}: {err})." + (_hub_remedy() if hub_id else "")
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
