"""Your own data (`train.py --train_file / --dataset_name`): a model trained from a user's file goes through
everything downstream unchanged (card, push check, demo, ONNX, `python -m labelwise.evaluate`), the data is read
and split as documented, and bad files give one error naming the file, the row and the option. Every kind x
every format trains in tests/test_user_data_formats.py."""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import quick_train_argv, tiny_bert_checkpoint

from labelwise import cli_errors
from labelwise.data_scripts import DuplicateDocumentError
from labelwise.data_scripts.user_data import UserDataError, load_user_data, read_label_hierarchy, read_user_examples
from labelwise.training.cli import main, run

# Texts from the tiny test vocabulary (tests/helpers.py), labels by topic.
ROWS = [
    ("the patient had a severe rash after the drug", ["skin", "drug"]),
    ("fever and nausea during treatment", ["fever"]),
    ("chronic liver disease in the patient", ["liver"]),
    ("acute liver disease after the dose", ["liver", "drug"]),
    ("rash and fever in patients", ["skin", "fever"]),
    ("a case report of adverse rash", ["skin"]),
    ("drug induced liver disease", ["liver", "drug"]),
    ("severe fever after the therapy", ["fever"]),
    ("the study showed rash with pain", ["skin"]),
    ("heart disease and brain disease", ["liver"]),
    ("patients with fever were treated", ["fever"]),
    ("dose of the drug was reduced", ["drug"]),
]
DESCRIPTIONS = {"skin": "rash of the skin", "fever": "fever", "liver": "liver disease", "drug": "adverse drug reaction"}
# skin, fever and liver are findings; a drug reaction is under treatment.
HIERARCHY = {"finding": [], "treatment": [], "skin": ["finding"], "fever": ["finding"], "liver": ["finding"],
             "drug": ["treatment"]}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def quick(checkpoint, output_dir, *extra: str) -> list[str]:
    """One optimiser step on a tiny model; no sampling caps (the files are small already)."""
    argv = quick_train_argv(checkpoint, output_dir, "--max_steps", "1", *extra)
    for cap in ("--max_train_samples", "--max_eval_samples"):
        index = argv.index(cap)
        del argv[index : index + 2]
    return argv


def write_csv(path, rows, header=("text", "labels"), delimiter=",", joiner="|"):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE)
        writer.writerow(header)
        for text, labels in rows:
            writer.writerow([text, joiner.join(labels) if isinstance(labels, list) else labels])
    return str(path)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(path)


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def write_descriptions_csv(path, descriptions):
    lines = ["label,description"] + [f"{label},{text}" for label, text in descriptions.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def write_hierarchy_csv(path, hierarchy):
    lines = ["label,parent"]
    for label, parents in hierarchy.items():
        lines += [f"{label},{parent}" for parent in parents] or [f"{label},"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def summary_and_card(output_dir):
    folder = output_dir / "model"
    return json.loads((folder / "training_summary.json").read_text()), (folder / "README.md").read_text()


# ------------------------------------------------------------------------------------------ each kind trains
def test_lame_from_csv_with_delimited_labels_and_split_off(checkpoint, tmp_path):
    train = write_csv(tmp_path / "notes.csv", ROWS)
    descriptions = write_descriptions_csv(tmp_path / "descriptions.csv", {**DESCRIPTIONS, "unused": "never seen"})
    out = tmp_path / "out"
    summary = run(quick(checkpoint, out, "--train_file", train, "--label_delimiter", "|",
                        "--label_descriptions", descriptions, "--validation_split_percentage", "20"))
    saved, card = summary_and_card(out)
    assert saved["task"] == "multi_label" and saved["dataset"]["name"] == "notes.csv"
    assert saved["label_descriptions"] == {label: DESCRIPTIONS[label] for label in ("drug", "fever", "liver", "skin")}
    assert saved["dataset"]["unused_descriptions"] == 1
    # 12 distinct texts: 20% (2) validation and 10% (1) test split off with the fixed seed, and the card says so.
    assert "20% of notes.csv split off with seed 42 (2 rows)" in saved["dataset"]["splits"]["validation"]
    assert "10% of notes.csv split off with seed 42 (1 row)" in saved["dataset"]["splits"]["test"]
    assert "**Data:** notes.csv" in card and "20% of notes.csv split off with seed 42" in card
    assert saved["decision_thresholds"] is not None and "validation_tuned" in summary["metrics"]
    _downstream_works(out / "model", tmp_path)


def _downstream_works(folder, tmp_path) -> None:
    """What happens to a trained folder does not depend on where its data came from: it passes the push check,
    the demo predicts with its tuned threshold, `python -m labelwise.evaluate` scores it on another user file,
    and it exports to ONNX."""
    from labelwise.analysis.predictors import load_predictor
    from labelwise.evaluate import main as evaluate_main
    from labelwise.export.exporter import ExportOptions, export_model
    from labelwise.publishing.push import check_folder

    # Scored on a file with the same option names as train.py's, columns of other names included.
    scoring = write_csv(tmp_path / "new_notes.csv", [("rash after the drug", ["skin", "drug"]),
                                                     ("fever in the patient", ["fever"]), ("liver disease", ["liver"])],
                        header=("body", "codes"))
    evaluate_main([str(folder), "--file", scoring, "--text_column_name", "body", "--label_column_name", "codes",
                   "--label_delimiter", "|", "--output", str(tmp_path / "scores.json")])
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["documents"] == 3 and 0 <= scores["metrics"]["micro_f1"] <= 1
    onnx_folder = tmp_path / "onnx"

    plan = check_folder(folder)
    assert {"README.md", "model.safetensors", "config.json"} <= set(plan.files)
    kind, predict = load_predictor(str(folder))
    assert kind == "lame" and {item["label"] for item in predict("rash after the drug")["labels"]} <= set(DESCRIPTIONS)
    manifest = export_model(str(folder), str(onnx_folder), ExportOptions())
    assert (onnx_folder / "model.onnx").is_file() and manifest


# ------------------------------------------------------------------------------------------ reading, no training
def test_dataset_name_reads_a_folder_of_data_files_and_a_saved_single_dataset(tmp_path):
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.data_source import load_training_data

    rows = [{"text": text, "labels": labels} for text, labels in ROWS]
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_parquet(folder / "train.parquet", rows[:10])
    write_parquet(folder / "test.parquet", rows[10:])
    args, _ = parse_arguments(["--model", "vanilla", "--dataset_name", str(folder), "--validation_split_percentage", "25"])
    space, corpus, info = load_training_data(args)
    assert space.task == "multi_label" and info["name"] == "corpus" and info["hub_id"] is None
    assert {split: len(ds) for split, ds in corpus.items()} == {"train": 8, "validation": 2, "test": 2}
    assert info["splits"]["test"] == "corpus [test] (2 rows)"
    # `Dataset.save_to_disk` (one split, no DatasetDict): it is the training split; validation and test are split off.
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "one"))
    args, _ = parse_arguments(["--model", "vanilla", "--dataset_name", str(tmp_path / "one")])
    space, corpus, info = load_training_data(args)
    assert space.names == sorted(DESCRIPTIONS) and {split: len(ds) for split, ds in corpus.items()} == {
        "train": 10, "validation": 1, "test": 1}
    assert info["splits"]["validation"] == "10% of one [train] split off with seed 42 (1 row)"


def test_split_off_is_fixed_by_its_seed_and_keeps_identical_texts_together(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS + [ROWS[0]], joiner="|")
    first = load_user_data(train, label_delimiter="|", test_split_percentage=0, validation_split_percentage=30)
    again = load_user_data(train, label_delimiter="|", test_split_percentage=0, validation_split_percentage=30)
    other = load_user_data(train, label_delimiter="|", test_split_percentage=0, validation_split_percentage=30,
                           split_seed=7)
    assert first.corpus["validation"]["text"] == again.corpus["validation"]["text"]
    assert first.corpus["validation"]["text"] != other.corpus["validation"]["text"]
    assert "test" not in first.corpus
    texts = {split: set(ds["text"]) for split, ds in first.corpus.items()}
    assert not texts["train"] & texts["validation"]
    assert len(first.corpus["train"]) + len(first.corpus["validation"]) == 13


def test_one_file_reads_for_scoring_with_or_without_labels(tmp_path):
    texts, labels = read_user_examples(write_csv(tmp_path / "a.csv", ROWS[:2]), label_delimiter="|")
    assert texts == [ROWS[0][0], ROWS[1][0]] and labels == [["skin", "drug"], ["fever"]]
    texts, labels = read_user_examples(write_jsonl(tmp_path / "b.jsonl", [{"text": "rash"}, {"text": "fever"}]))
    assert texts == ["rash", "fever"] and labels is None
    tokens, tags = read_user_examples(write_parquet(tmp_path / "c.parquet", [{"tokens": ["a", "rash"],
                                                                               "ner_tags": ["O", "B-ADR"]}]))
    assert tokens == [["a", "rash"]] and tags == [["O", "B-ADR"]]
    with pytest.raises(UserDataError, match=r"b\.jsonl, line 2: empty text"):
        read_user_examples(write_jsonl(tmp_path / "b.jsonl", [{"text": "rash"}, {"text": ""}]))


# ------------------------------------------------------------------------------------------ errors
def test_missing_column_names_the_file_the_option_and_the_columns(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS, header=("body", "labels"))
    with pytest.raises(UserDataError) as err:
        load_user_data(train)
    assert str(err.value) == f"{train}: no column 'text' (--text_column_name); the columns are: body, labels."


def test_empty_text_names_the_line(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS[:3] + [("  ", "skin")])
    with pytest.raises(UserDataError, match=rf"^{train}, line 5: empty text in column 'text' \(--text_column_name\)\.$"):
        load_user_data(train)


def test_unknown_label_in_validation_names_its_line(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS[:8])
    validation = write_csv(tmp_path / "dev.csv", [ROWS[8], ("brain disease after the dose", ["kidney"])])
    with pytest.raises(UserDataError) as err:
        load_user_data(train, validation, label_delimiter="|")
    assert str(err.value).startswith(
        f"{validation}, line 3: label 'kidney' (column 'labels', --label_column_name) does not occur in the training "
        f"file {train}"
    )


def test_label_without_description_lists_it_with_where_it_was_first_seen(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS)
    descriptions = write_descriptions_csv(tmp_path / "d.csv", {k: v for k, v in DESCRIPTIONS.items() if k != "drug"})
    with pytest.raises(UserDataError) as err:
        load_user_data(train, label_delimiter="|", label_descriptions=descriptions)
    assert str(err.value).startswith(
        f"{descriptions} (--label_descriptions): no description for 1 of the 4 labels: 'drug' (first at {train}, line 2)"
    )


def test_cyclic_hierarchy_names_the_lines_of_the_cycle(tmp_path):
    hierarchy = tmp_path / "hierarchy.csv"
    hierarchy.write_text("label,parent\nfinding,\nskin,finding\nfinding,liver\nliver,skin\n")
    with pytest.raises(UserDataError) as err:
        read_label_hierarchy(hierarchy)
    message = str(err.value)
    assert message.startswith(f"{hierarchy} (--label_hierarchy): the hierarchy has a cycle")
    assert all(f"{hierarchy}, line {n}" in message for n in (3, 4, 5))


def test_unknown_parent_names_its_line(tmp_path):
    hierarchy = tmp_path / "hierarchy.csv"
    hierarchy.write_text("finding,\nskin,findings\n")
    with pytest.raises(UserDataError, match=rf"^{hierarchy}, line 2 \(--label_hierarchy\): parent 'findings' of 'skin'"):
        read_label_hierarchy(hierarchy)


def test_label_outside_the_hierarchy_names_the_row(tmp_path):
    rows = [{"text": t, "labels": ls} for t, ls in ROWS]
    rows[3]["labels"] = ["kidney"]
    train = write_parquet(tmp_path / "train.parquet", rows)
    hierarchy = write_hierarchy_csv(tmp_path / "h.csv", HIERARCHY)
    with pytest.raises(UserDataError, match=rf"^{train}, row 4: label 'kidney' .*not in the hierarchy {hierarchy} "
                                            r"\(--label_hierarchy\)"):
        load_user_data(train, label_hierarchy=hierarchy)


def test_duplicate_across_splits_names_both_rows_and_drop_keeps_the_first(tmp_path):
    train = write_csv(tmp_path / "train.csv", ROWS[:8])
    test = write_csv(tmp_path / "test.csv", [ROWS[9], ("the  patient had a severe rash after the drug", ["skin"])])
    with pytest.raises(DuplicateDocumentError) as err:
        load_user_data(train, test_file=test, label_delimiter="|")
    assert str(err.value).startswith(f"{test}, line 3: the same text as {train}, line 2")
    assert "--duplicates drop" in str(err.value)
    kept = load_user_data(train, test_file=test, label_delimiter="|", duplicates="drop")
    assert kept.corpus["test"]["text"] == [ROWS[9][0]]
    # A document id (column `id`) given twice is the same document, whatever its text.
    rows = [{"id": f"d{i}", "text": t, "labels": ls} for i, (t, ls) in enumerate(ROWS)]
    rows[10]["id"] = "d3"
    train = write_jsonl(tmp_path / "train.jsonl", rows[:9])
    test = write_jsonl(tmp_path / "test.jsonl", rows[9:])
    with pytest.raises(DuplicateDocumentError, match=rf"^{test}, line 2: document id 'd3' \(column 'id'\) is also at "
                                                     rf"{train}, line 4"):
        load_user_data(train, test_file=test)


def test_multi_class_row_with_two_labels_and_bad_ner_rows(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": t, "label": ls[0]} for t, ls in ROWS[:4]]
                        + [{"text": "rash", "label": ["skin", "fever"]}])
    with pytest.raises(UserDataError, match=rf"^{train}, line 5: a multi-class task needs exactly one label"):
        load_user_data(train, task="multi_class")
    ner = write_jsonl(tmp_path / "ner.jsonl", [{"tokens": ["a", "rash"], "ner_tags": ["O"]}])
    with pytest.raises(UserDataError, match=rf"^{ner}, line 1: 2 tokens \('tokens'\) but 1 tags"):
        load_user_data(ner)
    ner = write_jsonl(tmp_path / "ner2.jsonl", [{"tokens": ["a", "rash"], "ner_tags": ["O", "ADR"]}])
    with pytest.raises(UserDataError, match=r"tag 'ADR' in column 'ner_tags' \(--label_column_name\) is not IOB2"):
        load_user_data(ner)


def test_a_dataset_that_cannot_be_loaded_names_the_option_and_the_cause(tmp_path):
    # The tests run offline (conftest), so a Hub id cannot be fetched: the error says what was tried.
    with pytest.raises(UserDataError, match=r"^--dataset_name 'someone/not-here' --dataset_config_name 'en': could not "
                                            r"load it as a Hub dataset \(no local folder has that name\)") as err:
        load_user_data(dataset_name="someone/not-here", dataset_config_name="en")
    assert "Offline mode is on" in str(err.value) and "save_to_disk" in str(err.value)
    # The layer-wise kind asks for a hierarchy file by its option.
    with pytest.raises(UserDataError, match=r"needs the label hierarchy: --label_hierarchy FILE"):
        load_user_data(write_csv(tmp_path / "t.csv", ROWS), label_delimiter="|", task="hierarchical")


def _bad_data(case: str, tmp_path) -> tuple[list[str], list[str]]:
    """`train.py` options of one broken input named in the issue, and what its one error must say."""
    train = write_csv(tmp_path / "train.csv", ROWS[:8])
    multi = ["--model", "vanilla", "--label_delimiter", "|"]
    if case == "missing column":
        body = write_csv(tmp_path / "body.csv", ROWS, header=("body", "labels"))
        return [*multi, "--train_file", body], [f"{body}: no column 'text' (--text_column_name)"]
    if case == "empty text":
        empty = write_csv(tmp_path / "empty.csv", ROWS[:3] + [("", "skin")])
        return [*multi, "--train_file", empty], [f"{empty}, line 5: empty text in column 'text' (--text_column_name)."]
    if case == "unknown label in validation":
        dev = write_csv(tmp_path / "dev.csv", [ROWS[8], ("brain disease after the dose", ["kidney"])])
        return [*multi, "--train_file", train, "--validation_file", dev], [
            f"{dev}, line 3: label 'kidney' (column 'labels', --label_column_name) does not occur in the training file"]
    if case == "label without description":
        described = write_descriptions_csv(tmp_path / "d.csv", {k: v for k, v in DESCRIPTIONS.items() if k != "drug"})
        return ["--model", "lame", "--label_delimiter", "|", "--train_file", train, "--label_descriptions", described], [
            f"{described} (--label_descriptions): no description for 1 of the 4 labels: 'drug' (first at {train}, line 2)"]
    if case == "cyclic hierarchy":
        hierarchy = tmp_path / "hierarchy.csv"
        hierarchy.write_text("label,parent\nfinding,\nskin,finding\nfinding,liver\nliver,skin\n")
        return ["--model", "layerwise", "--label_delimiter", "|", "--train_file", train, "--label_hierarchy",
                str(hierarchy)], [f"{hierarchy} (--label_hierarchy): the hierarchy has a cycle", f"{hierarchy}, line 4"]
    if case == "duplicate across splits":
        test = write_csv(tmp_path / "test.csv", [ROWS[9], ("the  patient had a severe rash after the drug", ["skin"])])
        return [*multi, "--train_file", train, "--test_file", test], [
            f"{test}, line 3: the same text as {train}, line 2", "--duplicates drop"]
    assert case == "hub dataset offline"
    return ["--model", "vanilla", "--dataset_name", "someone/not-here"], [
        "--dataset_name 'someone/not-here': could not load it as a Hub dataset", "Offline mode is on"]


@pytest.mark.parametrize("case", ["missing column", "empty text", "unknown label in validation",
                                  "label without description", "cyclic hierarchy", "duplicate across splits",
                                  "hub dataset offline"])
def test_train_py_prints_one_error_naming_file_row_and_option(checkpoint, tmp_path, capsys, case):
    options, expected = _bad_data(case, tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(quick(checkpoint, tmp_path / "out", *options))
    err = capsys.readouterr().err
    assert stop.value.code == cli_errors.EXIT_USER_ERROR and "Traceback" not in err
    assert all(part in err for part in expected), err
    assert not (tmp_path / "out" / "model").exists()


def test_lame_without_descriptions_names_the_option(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(quick(checkpoint, tmp_path / "out", "--train_file", write_csv(tmp_path / "ok.csv", ROWS)))
    assert "--label_descriptions FILE" in capsys.readouterr().err


def test_built_in_corpus_and_own_data_are_not_mixed(capsys):
    from labelwise.training.arguments import parse_arguments

    with pytest.raises(ValueError, match="not both"):
        parse_arguments(["--corpus", "hoc", "--train_file", "x.csv"])
    with pytest.raises(ValueError, match="--label_descriptions applies to your own data"):
        parse_arguments(["--label_descriptions", "d.json"])
    args, training_args = parse_arguments(["--train_file", "data/notes.csv", "--model", "vanilla"])
    assert training_args.output_dir.endswith("vanilla-notes")
    # A shipped config that names a built-in corpus lends its other options to your files.
    args, _ = parse_arguments(["--config", "lame_eurlex57k", "--train_file", "notes.csv"])
    assert args.corpus == "demo" and args.corpus_options is None and args.max_length == 512


def test_card_names_a_hub_dataset_and_its_split_off(tmp_path):
    """No Hub dataset can be fetched here, so the card of one is rendered from a summary shaped as
    `load_user_data` describes a Hub dataset (`info`): the id goes into the metadata and the text."""
    from huggingface_hub import ModelCard
    from test_publishing_card import write_synthetic

    from labelwise.publishing.model_card import write_model_card

    dataset = {"name": "someone/notes", "hub_id": "someone/notes", "config": {"dataset_config_name": "en"},
               "splits": {"train": "someone/notes [train] (900 rows after the split-off)",
                          "validation": "10% of someone/notes [train] split off with seed 42 (100 rows)",
                          "test": "someone/notes [test] (50 rows)"}}
    card = ModelCard.load(write_model_card(write_synthetic(tmp_path / "model", "lame", dataset=dataset)))
    assert card.data.datasets == ["someone/notes"]
    assert "[someone/notes](https://huggingface.co/datasets/someone/notes)" in card.text
    assert "validation: 10% of someone/notes [train] split off with seed 42 (100 rows)" in card.text


def test_parquet_written_by_datasets_keeps_its_class_names(tmp_path):
    """`Dataset.to_parquet` stores ClassLabel ids, and the names in the file's schema metadata."""
    names = sorted(DESCRIPTIONS)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    rows = {"text": [t for t, _ in ROWS], "label": [names.index(ls[-1]) for _, ls in ROWS]}
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(tmp_path / "train.parquet"))
    user = load_user_data(str(tmp_path / "train.parquet"))
    assert user.space.task == "multi_class" and user.space.names == names
    train = user.corpus["train"]
    assert [train.features["labels"].int2str(i) for i in train["labels"]] == [
        ls[-1] for t, ls in ROWS if t in set(train["text"])]
    tags = ["O", "B-ADR", "I-ADR"]
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=tags))})
    datasets.Dataset.from_dict({"tokens": [["a", "rash"], ["severe", "fever"]], "ner_tags": [[0, 1], [1, 2]]},
                               features=features).to_parquet(str(tmp_path / "ner.parquet"))
    tokens, gold = read_user_examples(str(tmp_path / "ner.parquet"))
    assert tokens == [["a", "rash"], ["severe", "fever"]] and gold == [["O", "B-ADR"], ["B-ADR", "I-ADR"]]
