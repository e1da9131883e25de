"""Your own data's rows, checked: columns present, texts not empty, labels as names (a list, a delimited
string or `ClassLabel` ids), NER tokens with one IOB2 tag each. Every error names the row and the option."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .user_files import OPTIONS, RawSplit, UserDataError

_TAG = re.compile(r"^(O|[BI]-\S.*)$")


def missing(value: Any) -> bool:
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
    if missing(value):
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = list(value)
    elif isinstance(value, str) and delimiter:
        items = value.split(delimiter)
    else:
        items = [value]
    names = [_as_name(item, class_names, where, option) for item in items if not missing(item)]
    return list(dict.fromkeys(name for name in names if name))


def sequence(value: Any, where: str, column: str, option: str) -> list:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return list(value)
    raise UserDataError(f"{where}: column {column!r} ({option}) must be a list (or a whitespace-separated string), "
                        f"got {value!r}.")


@dataclass
class Example:
    where: str
    key: str  # what identifies a document when looking for duplicates: its text, whitespace normalised
    row: dict  # the corpus row, labels as names
    given_id: str | None = None  # the row's `id` column, when the data has one


def _row_id(raw: RawSplit, where: str, split: str) -> str:
    """A document id for a row without an `id` column: split, file name and line or row number."""
    return f"{split}:{Path(raw.source).name}:{where.rsplit(' ', 1)[-1]}"


def check_columns(raw: RawSplit, needed: dict[str, str]) -> None:
    for column, option in needed.items():
        if column not in raw.columns:
            raise UserDataError(
                f"{raw.source}: no column {column!r} ({option}); the columns are: {', '.join(raw.columns) or 'none'}."
            )


def classification_examples(raw: RawSplit, text_column: str, label_column: str, delimiter: str | None,
                             split: str) -> list[Example]:
    check_columns(raw, {text_column: OPTIONS["text"], label_column: OPTIONS["label"]})
    examples = []
    for where, row in raw.rows:
        text = row.get(text_column)
        if missing(text) or not str(text).strip():
            raise UserDataError(f"{where}: empty text in column {text_column!r} ({OPTIONS['text']}).")
        text = str(text)
        labels = _label_list(row.get(label_column), delimiter, raw.class_names.get(label_column), where)
        given = str(row["id"]) if "id" in row and not missing(row["id"]) else None
        examples.append(Example(where, " ".join(text.split()),
                                 {"id": given or _row_id(raw, where, split), "text": text, "labels": labels}, given))
    return examples


def ner_examples(raw: RawSplit, tokens_column: str, tags_column: str, split: str) -> list[Example]:
    check_columns(raw, {tokens_column: OPTIONS["text"], tags_column: OPTIONS["label"]})
    class_names = raw.class_names.get(tags_column)
    examples = []
    for where, row in raw.rows:
        if missing(row.get(tokens_column)):
            raise UserDataError(f"{where}: empty text in column {tokens_column!r} ({OPTIONS['text']}).")
        tokens = [str(t) for t in sequence(row[tokens_column], where, tokens_column, OPTIONS["text"])]
        if not tokens or not any(t.strip() for t in tokens):
            raise UserDataError(f"{where}: empty text in column {tokens_column!r} ({OPTIONS['text']}).")
        if missing(row.get(tags_column)):
            raise UserDataError(f"{where}: no tags in column {tags_column!r} ({OPTIONS['label']}).")
        tags = [_as_name(t, class_names, where, OPTIONS["label"])
                for t in sequence(row[tags_column], where, tags_column, OPTIONS["label"])]
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
        given = str(row["id"]) if "id" in row and not missing(row["id"]) else None
        doc_id = given or _row_id(raw, where, split)
        examples.append(Example(where, text, {"id": doc_id, "document_id": doc_id, "text": text, "tokens": tokens,
                                               "ner_tags": tags, "offsets": offsets}, given))
    return examples


def label_names(example: Example, task: str) -> list[str]:
    if task == "ner":
        return sorted({tag[2:] for tag in example.row["ner_tags"] if tag != "O"})
    return example.row["labels"]


def natural_key(name: str) -> tuple:
    return (0, int(name), "") if re.fullmatch(r"-?\d+", name) else (1, 0, name)


def _default_label_column(columns: list[str]) -> str:
    return "label" if "labels" not in columns and "label" in columns else "labels"


def resolve_columns(ner: bool, columns: list[str], text_column: str | None, label_column: str | None) -> tuple[str, str]:
    """The text and label columns: as given, else the conventions (module docstring)."""
    if ner:
        return text_column or "tokens", label_column or "ner_tags"
    return text_column or "text", label_column or _default_label_column(columns)


def looks_like_ner(columns: list[str], label_column: str | None) -> bool:
    """Rows with `tokens` and `ner_tags` and no classification label column are NER rows."""
    return {"tokens", "ner_tags"} <= set(columns) and (label_column or _default_label_column(columns)) not in columns


def detect_task(train: RawSplit, label_column: str | None, delimiter: str | None, hierarchy: Any) -> str:
    if hierarchy:
        return "hierarchical"
    column = label_column or _default_label_column(train.columns)
    if looks_like_ner(train.columns, label_column):
        return "ner"
    if delimiter:
        return "multi_label"
    values = (row.get(column) for _, row in train.rows)
    if any(isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray" for v in values):
        return "multi_label"
    return "multi_class"
