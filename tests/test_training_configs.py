"""The shipped corpus configs (issue 12 part 5): lame_eurlex57k and lame_mimic3 load, merge the user's
corpus options, choose the label-scaling options by label count, and train one step on fixtures."""

import json
from pathlib import Path

import pytest
from helpers import quick_train_argv, tiny_bert_checkpoint
from test_data_classification import write_eurlex
from test_data_mimic import write_mimic

from labelwise.training.arguments import parse_arguments
from labelwise.training.cli import run


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny_bert"))


def eurlex_fixture(root: Path, n_concepts: int) -> Path:
    """A EURLEX57K folder whose 16 training documents use all `n_concepts` concepts (ids c0, c1, ...);
    dev and test documents carry some of them and, in dev, one concept never seen in training."""
    root = write_eurlex(root, {"train": [], "dev": [], "test": []})
    concepts = {f"c{i}": {"concept_id": f"c{i}", "label": f"concept {i} fish", "alt_labels": [f"alias {i}"],
                          "parents": [] if i < 3 else [f"c{i % 3}"]} for i in range(n_concepts + 1)}
    (root / "EURLEX57K.json").write_text(json.dumps(concepts))
    per_doc = -(-n_concepts // 16)
    documents = {"train": [(f"T{d}", [f"c{i}" for i in range(d * per_doc, min(n_concepts, (d + 1) * per_doc))])
                           for d in range(16)],
                 "dev": [(f"V{d}", ["c0", f"c{d}", f"c{n_concepts}"]) for d in range(4)],
                 "test": [(f"S{d}", ["c1", f"c{(d + 3) % n_concepts}"]) for d in range(4)]}
    for split, docs in documents.items():
        for celex, ids in docs:
            doc = {"celex_id": celex, "uri": "u", "type": "Regulation", "concepts": ids, "title": f"Regulation {celex} on fish",
                   "header": "HEADER", "recitals": "Whereas trade.", "main_body": ["Article 1 imports."], "attachments": ""}
            (root / split / f"{celex}.json").write_text(json.dumps(doc))
    return root


def test_eurlex_config_loads_and_user_corpus_options_are_merged(tmp_path):
    args, training = parse_arguments(["--config", "lame_eurlex57k", "--output_dir", str(tmp_path)])
    assert (args.model, args.corpus, args.max_length) == ("lame", "eurlex57k", 512)
    assert args.corpus_config() == {"descriptions": "label+alt", "label_set": "train"}
    # The scale options are left to the label-count rule (scale_defaults), as in Python.
    assert (args.label_sampling, args.first_stage, args.shortlist_size, args.all_label_loss, args.label_scoring,
            args.label_sample_negatives) == ("auto", "auto", None, None, "auto", None)
    assert args.early_stopping_patience == 3 and training.per_device_train_batch_size == 8
    # Early stopping reads dev R-Precision: at thousands of labels the dev loss rose while the ranking formed.
    assert (training.metric_for_best_model, training.greater_is_better) == ("r_precision", True)
    # A flag adds keys to the config's corpus options and overrides the ones it names.
    args, _ = parse_arguments(["--config", "lame_eurlex57k", "--output_dir", str(tmp_path),
                               "--corpus_options", '{"label_set": "used", "max_level": 3}'])
    assert args.corpus_config() == {"descriptions": "label+alt", "label_set": "used", "max_level": 3}
    args, _ = parse_arguments(["--config", "lame_mimic3", "--output_dir", str(tmp_path),
                               '--corpus_options={"icd9_descriptions": "/x/ICD9_descriptions"}'])
    assert args.corpus_config() == {"caml_setting": "full", "label_set": "used", "icd9_descriptions": "/x/ICD9_descriptions"}


def test_config_errors_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "mine.json"
    bad.write_text('{"model": "lame", "shortlist": 128}')
    with pytest.raises(ValueError, match=r"Unknown option\(s\) in the config .*mine\.json: shortlist"):
        parse_arguments(["--config", str(bad), "--output_dir", str(tmp_path)])
    bad.write_text('["model", "lame"]')
    with pytest.raises(ValueError, match=r"mine\.json: expected a JSON object"):
        parse_arguments(["--config", str(bad), "--output_dir", str(tmp_path)])
    bad.write_text('{"model": "lame", "corpus_options": 3}')
    with pytest.raises(ValueError, match=r"mine\.json: corpus_options must be a JSON object"):
        parse_arguments(["--config", str(bad), "--output_dir", str(tmp_path), "--corpus_options", "{}"])


@pytest.mark.parametrize("n_concepts, scaled", [(5, False), (300, True)])
def test_eurlex_config_trains_one_step_with_options_chosen_by_label_count(tmp_path, checkpoint, n_concepts, scaled):
    root = eurlex_fixture(tmp_path / "eurlex", n_concepts)
    argv = ["--config", "lame_eurlex57k", "--data_dir", str(root), "--max_steps", "1"]
    summary = run(argv + quick_train_argv(checkpoint, tmp_path / "out"))
    hyper = summary["hyperparameters"]
    # label_set=train: exactly the concepts of the training documents (not the dev-only one).
    assert len(summary["label_descriptions"]) == n_concepts
    assert summary["label_descriptions"]["c0"] == "concept 0 fish (alias 0)"  # label + alternative labels
    if scaled:
        assert hyper["label_sampling"] == "sampled" and hyper["label_sample_negatives"] == 128
        assert hyper["first_stage"] == "bilinear" and hyper["shortlist_size"] == 256
    else:
        assert "label_sampling" not in hyper and "first_stage" not in hyper
    config = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert config["shortlist_size"] == (256 if scaled else 0)
    # Above 256 labels the label-agnostic head with descriptions encoded without gradient (issue 29).
    assert (config["label_scoring"], config["label_embedding_mode"]) == (
        ("label_agnostic", "static") if scaled else ("label_specific", "joint"))
    assert summary["metrics"]["test"]["micro_f1"] >= 0.0


def test_mimic_config_trains_one_step_on_the_fixture(tmp_path, checkpoint):
    root = write_mimic(tmp_path / "mimic", n=20)
    summary = run(["--config", "lame_mimic3", "--data_dir", str(root), "--max_steps", "1"]
                  + quick_train_argv(checkpoint, tmp_path / "out"))
    assert summary["dataset"]["name"] == "mimic3"
    assert summary["dataset"]["config"] == {"caml_setting": "full", "label_set": "used"}
    # ICD-9 descriptions from ICD9_descriptions: the codes of the fixture's admissions.
    assert summary["label_descriptions"]["401.9"] == "Unspecified essential hypertension"
    assert summary["hyperparameters"]["max_length"] == 64  # the flag overrides the config's 512
