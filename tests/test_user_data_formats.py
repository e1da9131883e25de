"""Your own data, every kind x every format: each of the five model kinds trains (one step, tiny model) from
the same small corpus written as CSV or TSV, JSON lines, Parquet, and a folder saved by `datasets`
(`--dataset_name`), and the trained folder holds the file's labels and predictions for the file's test rows.

The corpus is built once in memory (`corpus_rows`) and only its writing differs between formats, so a cell
that fails points at the reading of one format for one task.
"""

from __future__ import annotations

import csv
import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import tiny_bert_checkpoint
from test_user_data import DESCRIPTIONS, HIERARCHY, ROWS

from labelwise.training import train

KINDS = ("lame", "frozen_lame", "vanilla", "layerwise", "token_classification")
FORMATS = ("delimited", "json_lines", "parquet", "saved_folder")

# One sentence a row, an adverse reaction tagged as ADR (IOB2).
SENTENCES = [
    ("the patient had a rash", "O O O O B-ADR"),
    ("severe fever after the drug", "B-ADR I-ADR O O O"),
    ("liver disease was induced", "B-ADR I-ADR O O"),
    ("nausea and pain", "B-ADR O B-ADR"),
    ("the study showed results", "O O O O"),
    ("acute rash and fever", "B-ADR I-ADR O B-ADR"),
    ("chronic pain after the dose", "B-ADR I-ADR O O O"),
    ("the dose was reduced", "O O O O"),
    ("heart disease in patients", "B-ADR I-ADR O O"),
    ("the drug caused nausea", "O O O B-ADR"),
]
TAGS = ["O", "B-ADR", "I-ADR"]
SPLIT_ROWS = {"train": slice(0, 8), "validation": slice(8, 10), "test": slice(10, 12)}
NER_SPLIT_ROWS = {"train": slice(0, 6), "validation": slice(6, 8), "test": slice(8, 10)}


def corpus_rows(kind: str) -> dict[str, list[dict]]:
    """The kind's corpus by split, as rows of Python values (lists of label or tag names)."""
    if kind == "token_classification":
        rows = [{"id": f"s{i}", "tokens": text.split(), "ner_tags": tags.split()} for i, (text, tags) in enumerate(SENTENCES)]
        return {split: rows[part] for split, part in NER_SPLIT_ROWS.items()}
    if kind == "frozen_lame":  # multi-class: a text's last label is its class
        rows = [{"id": f"d{i}", "text": text, "label": labels[-1]} for i, (text, labels) in enumerate(ROWS)]
    else:
        rows = [{"id": f"d{i}", "text": text, "labels": labels} for i, (text, labels) in enumerate(ROWS)]
    return {split: rows[part] for split, part in SPLIT_ROWS.items()}


def label_names(kind: str) -> list[str]:
    """The labels the trained model must have: the files' (sorted), the hierarchy's, or IOB2 tags."""
    if kind == "token_classification":
        return TAGS
    if kind == "layerwise":
        return list(HIERARCHY)  # every label of the hierarchy occurs, or is a parent of one that does
    return sorted(DESCRIPTIONS)


def write_delimited(path, rows: list[dict], delimiter: str) -> None:
    """CSV or TSV: label lists joined with `|` (`--label_delimiter`), NER tokens and tags with spaces."""
    columns = list(rows[0])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(columns)
        for row in rows:
            joiner = " " if "tokens" in row else "|"
            writer.writerow([joiner.join(v) if isinstance(v, list) else v for v in (row[c] for c in columns)])


def saved_features(kind: str) -> datasets.Features:
    """As datasets on the Hub store labels: `ClassLabel` ids (a list of them for multi-label and NER)."""
    if kind == "token_classification":
        return datasets.Features({"id": datasets.Value("string"), "tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS))})
    names = label_names(kind)
    if kind == "frozen_lame":
        return datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=names)})
    return datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"),
                              "labels": datasets.Sequence(datasets.ClassLabel(names=names))})


def write_data(kind: str, fmt: str, folder) -> tuple[dict, str]:
    """The kind's corpus written in `fmt` under `folder`: (`train()` data options, the name the card gives it)."""
    splits = corpus_rows(kind)
    folder.mkdir()
    if fmt == "saved_folder":
        features = saved_features(kind)
        path = folder / "saved"
        datasets.DatasetDict({
            split: datasets.Dataset.from_list(rows, features=features).cast(features)
            for split, rows in splits.items()
        }).save_to_disk(str(path))
        return {"dataset_name": str(path)}, "saved"
    # TSV for the two kinds that read label-first LibMultiLabel-style rows too, CSV for the others.
    extension = {"delimited": "tsv" if kind in ("frozen_lame", "vanilla") else "csv", "json_lines": "jsonl",
                 "parquet": "parquet"}[fmt]
    options = {}
    for split, rows in splits.items():
        path = folder / f"{split}.{extension}"
        if fmt == "delimited":
            if kind in ("frozen_lame", "vanilla"):
                rows = [{key: row[key] for key in reversed(list(row))} for row in rows]  # label column first
            write_delimited(path, rows, "\t" if extension == "tsv" else ",")
        elif fmt == "json_lines":
            if kind != "token_classification":  # columns of other names, given by their options
                rows = [{"id": row["id"], "body": row["text"], "codes": row.get("labels", row.get("label"))} for row in rows]
                options.update(text_column_name="body", label_column_name="codes")
            with open(path, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row) + "\n" for row in rows)
        else:
            pq.write_table(pa.Table.from_pylist(rows), path)
        options[f"{split}_file"] = str(path)
    if fmt == "delimited" and kind not in ("frozen_lame", "token_classification"):
        options["label_delimiter"] = "|"
    return options, f"train.{extension}"


def kind_options(kind: str, fmt: str, folder) -> dict:
    """What each kind needs beside the data: descriptions (LAME) or the hierarchy (layer-wise), in CSV for
    the file formats and JSON for the saved folder, so both readers are used."""
    as_json = fmt == "saved_folder"
    if kind in ("lame", "frozen_lame"):
        path = folder / ("descriptions.json" if as_json else "descriptions.csv")
        path.write_text(json.dumps(DESCRIPTIONS) if as_json else
                        "label,description\n" + "".join(f"{k},{v}\n" for k, v in DESCRIPTIONS.items()))
        return {"model": kind, "label_descriptions": str(path), "label_attention_heads": 4}
    if kind == "layerwise":
        path = folder / ("hierarchy.json" if as_json else "hierarchy.csv")
        path.write_text(json.dumps(HIERARCHY) if as_json else "label,parent\n" + "".join(
            f"{label},{parent}\n" for label, parents in HIERARCHY.items() for parent in parents or [""]))
        return {"model": kind, "label_hierarchy": str(path), "guidance": "flat"}
    return {"model": kind}


def gold_of(kind: str, row: dict) -> list[str]:
    """A test row's gold answer as the predictions file writes it."""
    if kind == "token_classification":
        return row["ner_tags"]
    if kind == "frozen_lame":
        return [row["label"]]
    names = set(row["labels"])
    if kind == "layerwise":  # a hierarchical row holds its labels' ancestors too
        names |= {parent for label in row["labels"] for parent in HIERARCHY[label]}
    return sorted(names, key=label_names(kind).index)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_from_every_format(checkpoint, tmp_path, kind, fmt):
    data, name = write_data(kind, fmt, tmp_path / "data")
    summary = train(
        str(tmp_path / "out"), model_name_or_path=checkpoint, **data, **kind_options(kind, fmt, tmp_path),
        max_steps=1, per_device_train_batch_size=8, max_length=32, disable_tqdm=True,
        # One evaluation at the end is enough here: none during training, no checkpoint to reload.
        eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
    )
    folder = tmp_path / "out" / "model"
    assert {"config.json", "model.safetensors", "README.md", "test_predictions.jsonl"} <= {p.name for p in folder.iterdir()}
    config = json.loads((folder / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(config["id2label"]))] == label_names(kind)
    assert summary["model_kind"] == kind and summary["dataset"]["name"] == name
    assert f"**Data:** {name}" in (folder / "README.md").read_text()
    # The predictions file holds the test rows, by their own ids, with the gold answers read from the file.
    test_rows = corpus_rows(kind)["test"]
    predicted = [json.loads(line) for line in (folder / "test_predictions.jsonl").read_text().splitlines()]
    assert [row["id"] for row in predicted] == [row["id"] for row in test_rows]
    assert [row["gold"] for row in predicted] == [gold_of(kind, row) for row in test_rows]
    assert set(summary["metrics"]) >= {"validation", "test"}
    expected_task = {"frozen_lame": "multi_class", "layerwise": "hierarchical", "token_classification": "ner"}
    assert summary["task"] == expected_task.get(kind, "multi_label")
    if kind in ("lame", "frozen_lame"):
        assert summary["label_descriptions"] == {label: DESCRIPTIONS[label] for label in label_names(kind)}
    if kind == "layerwise":
        assert summary["levels"] == {"finding": 1, "treatment": 1, "skin": 2, "fever": 2, "liver": 2, "drug": 2}
