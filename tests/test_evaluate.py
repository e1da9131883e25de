"""`labelwise.evaluate` (scoring a saved model) and `labelwise.training.train` (train.py from Python), tiny models."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from demo_models import LAME_DESCRIPTIONS, save_classifier, save_lame, save_layerwise, save_ner
from helpers import tiny_bert_checkpoint

from labelwise.evaluate import evaluate, load_model, main, predict_probabilities, read_examples

TEXTS = ["cancer cell growth signals in the tumour", "immune reaction and fever", "blood vessel growth", "rash"]
GOLD = [["growth"], ["immune"], ["vessel", "growth"], []]


@pytest.fixture(scope="module")
def lame(tmp_path_factory):
    return save_lame(tmp_path_factory.mktemp("lame") / "model")


def test_probabilities_are_the_models_own(lame):
    loaded = load_model(lame)
    assert loaded.view == "lame" and loaded.multi_label and loaded.label_names == list(LAME_DESCRIPTIONS)
    batched = predict_probabilities(loaded, TEXTS, batch_size=3)
    with torch.no_grad():  # one text at a time, no padding: what the batched, length-sorted pass must give back
        for row, text in enumerate(TEXTS):
            encoded = loaded.tokenizer(text, return_tensors="pt")
            expected = torch.sigmoid(loaded.network(**encoded).logits[0]).numpy()
            np.testing.assert_allclose(batched[row], expected, atol=1e-5)


def test_metrics_at_the_threshold_and_tuned(lame):
    result = evaluate(lame, texts=TEXTS, labels=GOLD, threshold=0.5)
    scores = predict_probabilities(load_model(lame), TEXTS)
    predicted = scores >= 0.5
    gold = np.array([[name in row for name in LAME_DESCRIPTIONS] for row in GOLD])
    true_positives = (predicted & gold).sum()
    assert result.metrics["micro_precision"] == pytest.approx(true_positives / max(predicted.sum(), 1))
    assert result.metrics["micro_recall"] == pytest.approx(true_positives / gold.sum())
    assert {"r_precision", "p_at_5", "ndcg_at_5"} <= set(result.metrics)
    # Tuned on the split it scores, a threshold does at least as well there as 0.5 does.
    tuned = evaluate(lame, texts=TEXTS, labels=GOLD, tune_on=_dataset(TEXTS, GOLD))
    assert tuned.tuned["global"]["metrics"]["micro_f1"] >= result.metrics["micro_f1"]
    assert len(tuned.tuned["per_label"]["thresholds"]) == 3


def _dataset(texts, labels):
    from datasets import ClassLabel, Dataset, Features, List, Value

    names = list(LAME_DESCRIPTIONS)
    features = Features({"text": Value("string"), "labels": List(ClassLabel(names=names))})
    return Dataset.from_dict({"text": texts, "labels": [[names.index(n) for n in row] for row in labels]}, features=features)


def test_a_split_a_file_and_texts_give_the_same_scores(lame, tmp_path):
    by_texts = evaluate(lame, texts=TEXTS, labels=GOLD).metrics
    assert evaluate(lame, dataset=_dataset(TEXTS, GOLD)).metrics == by_texts
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "labels": g}) + "\n" for t, g in zip(TEXTS, GOLD)), encoding="utf-8")
    assert evaluate(lame, file=str(jsonl)).metrics == by_texts
    with open(tmp_path / "docs.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "labels"])
        writer.writerows([t, ";".join(g)] for t, g in zip(TEXTS, GOLD))
    assert evaluate(lame, file=str(tmp_path / "docs.csv")).metrics == by_texts


def test_unknown_gold_labels_are_named_or_dropped(lame, tmp_path):
    with pytest.raises(ValueError, match="Row 1: gold label 'fever'"):
        evaluate(lame, texts=TEXTS[:2], labels=[["growth"], ["fever"]])
    result = evaluate(lame, texts=TEXTS[:2], labels=[["growth"], ["fever"]], ignore_unknown_labels=True)
    assert result.unknown_labels == {"fever": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "labels": []}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl, line 2"):
        read_examples(str(bad))


def test_texts_without_labels_give_predictions(tmp_path):
    layerwise = save_layerwise(tmp_path / "layerwise")
    result = evaluate(layerwise, texts=TEXTS, threshold=0.0)
    assert result.view == "layerwise" and result.metrics == {}
    assert [len(row) for row in result.predictions] == [5] * len(TEXTS)  # every label passes threshold 0
    classifier = save_classifier(tmp_path / "classifier")
    assert evaluate(classifier, texts=TEXTS, threshold=1.01).predictions == [[] for _ in TEXTS]


def test_tagger_is_scored_on_entities(tmp_path):
    from datasets import ClassLabel, Dataset, Features, List, Value

    from labelwise.ner.tagger import predict_tags

    folder = save_ner(tmp_path / "ner")
    tokens = [["severe", "rash", "after", "the", "drug"], ["fever", "and", "pain"]]
    loaded = load_model(folder)
    predicted = predict_tags(loaded.network, loaded.tokenizer, tokens, max_length=loaded.max_length)
    names = ["O", "B-ADR", "I-ADR"]
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
    rows = Dataset.from_dict({"tokens": tokens, "ner_tags": [[names.index(t) for t in row] for row in predicted]},
                             features=features)
    assert any(tag != "O" for row in predicted for tag in row)
    assert evaluate(folder, dataset=rows).metrics["f1"] == pytest.approx(1.0)
    all_outside = rows.map(lambda row: {"ner_tags": [0] * len(row["tokens"])})
    assert evaluate(folder, dataset=all_outside).metrics["precision"] == 0.0
    spans = evaluate(folder, texts=["severe rash after the drug."]).predictions
    assert isinstance(spans[0], list)


def test_train_then_evaluate_matches_the_training_summary(tmp_path):
    """train() from Python, then the evaluation entry point on the same test rows: the same scores."""
    from labelwise.data_scripts import load_corpus, subsample
    from labelwise.training import train

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    summary = train(
        str(tmp_path / "run"), model="vanilla", corpus="demo", model_name_or_path=checkpoint, max_train_samples=16,
        max_eval_samples=8, num_train_epochs=1, per_device_train_batch_size=8, max_length=64, disable_tqdm=True,
        report_to=["none"],
    )
    test = subsample(load_corpus("demo")["test"], 8, 42)  # train.py's --max_eval_samples draw with its seed
    result = evaluate(str(tmp_path / "run" / "model"), dataset=test, threshold=0.5)
    for key in ("micro_f1", "micro_precision", "micro_recall", "macro_f1"):
        assert result.metrics[key] == pytest.approx(summary["metrics"]["test"][key], abs=1e-6)
    with pytest.raises(TypeError, match="no_such_option"):
        train(str(tmp_path / "other"), no_such_option=1)


def test_command_writes_the_result_and_names_bad_input(tmp_path, capsys, lame):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t, "labels": g}) + "\n" for t, g in zip(TEXTS, GOLD)), encoding="utf-8")
    main([lame, "--file", str(path), "--output", str(tmp_path / "out.json")])
    written = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert written["metrics"] == evaluate(lame, file=str(path)).metrics and written["documents"] == 4
    with pytest.raises(SystemExit) as stop:
        main([lame, "--corpus", "demo", "--split", "dev"])
    assert stop.value.code == 2
    assert "no 'dev' split" in capsys.readouterr().err
