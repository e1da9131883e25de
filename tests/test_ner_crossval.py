"""Cross-validation protocol: document-grouped folds, paper data filters, t intervals, resumable runs."""

import json

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

import labelwise.data_scripts
from labelwise.experiments import crossval
from labelwise.experiments.crossval import (
    examples_from_dataset,
    filter_examples,
    format_table,
    group_folds,
    run_crossval,
    summarize,
    t_confidence_interval,
)


def _examples(n_documents=12, per_document=3):
    examples = []
    for doc in range(n_documents):
        for sentence in range(per_document):
            tokens = ["drug", f"d{doc}s{sentence}", "caused", "rash", "."]
            examples.append({
                "id": f"{doc}-{sentence}",
                "document_id": f"PMID{doc}",
                "tokens": tokens,
                "tags": ["O", "O", "O", "B-ADR", "O"],
            })
    return examples


def test_t_confidence_interval_against_known_values():
    # t(0.975, df=4) = 2.776445 (tables); sd of 1..5 = sqrt(2.5).
    mean, half = t_confidence_interval([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert half == pytest.approx(2.776445 * 2.5 ** 0.5 / 5 ** 0.5, rel=1e-6)
    assert t_confidence_interval([0.5, 0.5, 0.5])[1] == 0.0
    assert t_confidence_interval([0.7])[1] != t_confidence_interval([0.7])[1]  # NaN: no spread from one fold


def test_group_folds_never_split_a_document():
    examples = _examples()
    groups = [e["document_id"] for e in examples]
    folds = group_folds(groups, n_folds=5, seed=1)
    assert sorted(i for fold in folds for i in fold) == list(range(len(examples)))
    documents = [{groups[i] for i in fold} for fold in folds]
    for a in range(5):
        for b in range(a + 1, 5):
            assert not documents[a] & documents[b]
    assert max(map(len, folds)) - min(map(len, folds)) <= 3  # one document of 3 sentences at most
    assert group_folds(groups, 5, seed=1) == folds and group_folds(groups, 5, seed=2) != folds
    with pytest.raises(ValueError, match="documents"):
        group_folds(["a", "a", "b"], n_folds=5)


def test_filter_examples_paper_options():
    examples = _examples(2, 2)
    examples.append(dict(examples[0], id="dup"))  # same words as the first sentence
    examples.append({"id": "long", "document_id": "x", "tokens": ["w"] * 130, "tags": ["O"] * 130})
    examples.append({"id": "129", "document_id": "x", "tokens": ["v"] * 129, "tags": ["O"] * 129})
    kept, counts = filter_examples(examples, max_words=130, drop_duplicates=True)
    assert [e["id"] for e in kept] == ["0-0", "0-1", "1-0", "1-1", "129"]
    assert counts == {"input": 7, "too_long": 1, "duplicate": 1, "without_entities": 0, "kept": 5}
    kept, counts = filter_examples(examples, max_words=None, drop_duplicates=False, only_with_entities=True)
    assert counts["without_entities"] == 2 and counts["kept"] == 5


def test_examples_from_datasetdict_names_tags_and_concatenates_splits():
    features = Features({
        "id": Value("string"), "document_id": Value("string"),
        "tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=["O", "B-ADR", "I-ADR"])),
    })
    split = lambda i: Dataset.from_dict(  # noqa: E731
        {"id": [f"s{i}"], "document_id": [f"d{i}"], "tokens": [["rash", "."]], "ner_tags": [[1, 0]]}, features=features
    )
    examples = examples_from_dataset(DatasetDict(train=split(0), test=split(1)))
    assert [(e["id"], e["document_id"], e["tags"]) for e in examples] == [("s0", "d0", ["B-ADR", "O"]), ("s1", "d1", ["B-ADR", "O"])]


def test_run_crossval_scores_saves_and_resumes(tmp_path, monkeypatch):
    examples = _examples()
    records = run_crossval(examples, ["dictionary", "crf"], str(tmp_path), n_folds=3, seed=0, method_options={"crf": {"max_iterations": 20}})
    assert len(records) == 6 and len(list(tmp_path.glob("*_fold*.json"))) == 6
    for record in records:
        assert record["f1"] == 1.0  # "rash" is always an ADR: both baselines learn it
        assert record["n_train"] + record["n_test"] == len(examples)
    saved = json.loads((tmp_path / "crf_fold2.json").read_text())
    assert saved["signature"]["options"] == {"max_iterations": 20}

    # A second run trains nothing: every (method, fold) file exists.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(crossval, "make_tagger", no_training)
    again = run_crossval(examples, ["dictionary", "crf"], str(tmp_path), n_folds=3, seed=0, method_options={"crf": {"max_iterations": 20}})
    assert [r["f1"] for r in again] == [r["f1"] for r in records]
    # Other settings against the same folder are refused instead of mixed into one table.
    with pytest.raises(ValueError, match="crf_fold0.json"):
        run_crossval(examples, ["crf"], str(tmp_path), n_folds=3, seed=0, method_options={"crf": {"max_iterations": 5}})

    # So is a folder made from other sentences or tags with the same ids (e.g. a changed builder).
    changed = [dict(e, tags=["O"] * 5) if i == 0 else e for i, e in enumerate(examples)]
    with pytest.raises(ValueError, match="fingerprint"):
        run_crossval(changed, ["dictionary"], str(tmp_path), n_folds=3, seed=0)

    summary = summarize(records)
    assert summary["crf"]["folds"] == 3 and summary["crf"]["f1"] == (1.0, 0.0)
    table = format_table(summary, "fixture")
    assert table.splitlines()[0] == "| Dataset | Metric | Dictionary | CRF |"
    assert "| fixture | P | 100.00 (±0.00) | 100.00 (±0.00) |" in table
    assert "|  | F | **100.00 (±0.00)** | **100.00 (±0.00)** |" in table


def test_command_prints_and_writes_the_table(tmp_path, monkeypatch, capsys):
    features = Features({
        "id": Value("string"), "document_id": Value("string"),
        "tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=["O", "B-ADR", "I-ADR"])),
    })
    examples = _examples(10, 2)
    data = Dataset.from_dict({
        "id": [e["id"] for e in examples], "document_id": [e["document_id"] for e in examples],
        "tokens": [e["tokens"] for e in examples], "ner_tags": [[0, 0, 0, 1, 0] for _ in examples],
    }, features=features)
    monkeypatch.setattr(labelwise.data_scripts, "load_corpus", lambda name, **kw: seen.update(kw) or DatasetDict(train=data))
    seen = {}
    table = crossval.main(["--corpus", "fixture", "--output_dir", str(tmp_path), "--methods", "dictionary", "--n_folds", "2", "--folds", "1", "--corpus_option", "include_negative=false"])
    assert seen == {"data_dir": None, "include_negative": False}
    assert (tmp_path / "table.md").read_text() == table
    assert "Dictionary (1 folds)" not in table and "|  | R | 100.00 (n/a) |" in table  # one fold: no interval
    assert "data: {'input': 20" in capsys.readouterr().out
    saved = json.loads((tmp_path / "dictionary_fold1.json").read_text())
    assert saved["signature"]["data"]["corpus_options"] == {"include_negative": False} and saved["n_test"] == 10


def test_transformer_method_is_the_training_layers_tagger(tmp_path):
    # The tagger that trains lives in labelwise.training.tagger (it reads the kinds and the Trainer setup);
    # cross-validation imports it from there when the transformer method is asked for.
    from labelwise.training.tagger import TransformerTagger

    tagger = crossval.make_tagger("transformer", {"backbone": "default", "num_train_epochs": 2}, str(tmp_path))
    assert isinstance(tagger, TransformerTagger) and tagger.output_dir == str(tmp_path)
    assert tagger.training_args == {"num_train_epochs": 2, "head_learning_rate": None}
