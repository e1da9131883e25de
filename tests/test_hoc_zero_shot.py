"""`exclude_labels` behind `train.py --exclude_labels` (the held-out protocol of docs/RESULTS.md), the similarity baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_bert_checkpoint

from labelwise.data_scripts import exclude_labels, load_corpus, load_label_space
from labelwise.data_scripts.hoc import HALLMARKS

INVASION, IMMUNE = "Activating invasion and metastasis", "Avoiding immune destruction"  # rotation pair 0
PROLIF, DEATH = "Sustaining proliferative signaling", "Resisting cell death"
WORDS_OF = {INVASION: "tumor cell growth", IMMUNE: "immune reaction", PROLIF: "cell growth signals", DEATH: "apoptosis"}


def write_hoc(root: Path, n: int = 40) -> Path:
    """n abstracts cycling through four label sets (pair 0 alone, pair 0 with others, others), BLUE-style split."""
    (root / "raw" / "text").mkdir(parents=True)
    (root / "raw" / "labels").mkdir(parents=True)
    cycle = [[INVASION], [IMMUNE, PROLIF], [PROLIF, DEATH], [DEATH], [INVASION, IMMUNE]]
    for i in range(n):
        pmid, labels = str(2000 + i), cycle[i % len(cycle)]
        words = " ".join(WORDS_OF[label] for label in labels)
        (root / "raw" / "text" / f"{pmid}.txt").write_text(f"Patients showed {words} .\nStudy {i} of the drug .\n")
        (root / "raw" / "labels" / f"{pmid}.txt").write_text("< <" + " AND".join(f"{label}--x" for label in labels))
    (root / "blue_split").mkdir()
    ids = [str(2000 + i) for i in range(n)]
    (root / "blue_split" / "train_docid.txt").write_text("\n".join(ids[: n // 2]) + "\n")
    (root / "blue_split" / "dev_docid.txt").write_text("\n".join(ids[n // 2 : 3 * n // 4]) + "\n")
    (root / "blue_split" / "test_docid.txt").write_text("\n".join(ids[3 * n // 4 :]) + "\n")
    return root


def test_exclude_labels_keeps_documents_and_their_other_labels(tmp_path):
    root = write_hoc(tmp_path / "hoc")
    options = {"split_dir": str(root / "blue_split")}
    space = load_label_space("hoc", data_dir=str(root), **options)
    corpus = load_corpus("hoc", data_dir=str(root), cache_dir=str(tmp_path / "cache"), **options)
    reduced, kept = exclude_labels(space, corpus, [INVASION, IMMUNE])
    assert reduced.names == [name for name in HALLMARKS if name not in (INVASION, IMMUNE)]
    assert reduced.descriptions == [d for n, d in zip(space.names, space.descriptions) if n in reduced.names]
    assert {split: len(ds) for split, ds in kept.items()} == {split: len(ds) for split, ds in corpus.items()}
    names = kept["train"].features["labels"].feature.names
    assert names == reduced.names
    for before, after in zip(corpus["train"], kept["train"]):
        expected = [space.names[i] for i in before["labels"] if space.names[i] not in (INVASION, IMMUNE)]
        assert [names[i] for i in after["labels"]] == expected
    assert any(row["labels"] == [] for row in kept["train"])  # a document of the pair alone stays, as a negative
    with pytest.raises(ValueError, match=r"\['Nope'\] not among the corpus labels"):
        exclude_labels(space, corpus, ["Nope"])



def test_exclude_labels_can_drop_the_training_documents_of_held_out_labels(tmp_path):
    root = write_hoc(tmp_path / "hoc")
    options = {"split_dir": str(root / "blue_split")}
    space = load_label_space("hoc", data_dir=str(root), **options)
    corpus = load_corpus("hoc", data_dir=str(root), cache_dir=str(tmp_path / "cache"), **options)
    held = {space.names.index(INVASION), space.names.index(IMMUNE)}
    reduced, dropped = exclude_labels(space, corpus, [INVASION, IMMUNE], held_out_documents="drop")
    survivors = [row for row in corpus["train"] if not held & set(row["labels"])]
    assert 0 < len(survivors) < len(corpus["train"])  # the fixture has documents of both sorts
    names = dropped["train"].features["labels"].feature.names
    assert [row["text"] for row in dropped["train"]] == [row["text"] for row in survivors]
    for before, after in zip(survivors, dropped["train"]):
        assert [names[i] for i in after["labels"]] == [space.names[i] for i in before["labels"]]
    # Evaluation splits keep every document: the held-out labels are scored on them.
    assert {s: len(dropped[s]) for s in ("validation", "test")} == {s: len(corpus[s]) for s in ("validation", "test")}
    with pytest.raises(ValueError, match="held_out_documents must be one of"):
        exclude_labels(space, corpus, [INVASION], held_out_documents="remove")


def test_train_py_rejects_an_unknown_held_out_documents_value():
    from labelwise.training.arguments import LabelwiseArguments

    with pytest.raises(ValueError, match="--held_out_documents must be one of"):
        LabelwiseArguments(model="lame", exclude_labels=INVASION, held_out_documents="remove")

@pytest.mark.slow
def test_a_model_trained_without_held_out_labels_says_so(tmp_path):
    """The label set, the training summary and the card of a run with held-out labels, kept or dropped."""
    from labelwise.training import train

    write_hoc(tmp_path / "hoc")
    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    for mode in ("keep", "drop"):
        train(str(tmp_path / mode), model="lame", label_scoring="label_agnostic", corpus="hoc",
              data_dir=str(tmp_path / "hoc"), corpus_options={"split_dir": str(tmp_path / "hoc" / "blue_split")},
              exclude_labels=json.dumps([INVASION, IMMUNE]), held_out_documents=mode, model_name_or_path=checkpoint,
              label_attention_heads=4, max_steps=2, per_device_train_batch_size=4, max_length=32, report_to=["none"],
              disable_tqdm=True)
        model = tmp_path / mode / "model"
        config = json.loads((model / "config.json").read_text())
        assert config["label_scoring"] == "label_agnostic" and len(config["id2label"]) == 8
        assert not {INVASION, IMMUNE} & set(config["id2label"].values())
        summary = json.loads((model / "training_summary.json").read_text())
        assert summary["dataset"]["excluded_labels"] == [INVASION, IMMUNE]
        assert summary["dataset"]["held_out_documents"] == mode
        card = (model / "README.md").read_text()
        assert f"Labels held out of training:** {INVASION}, {IMMUNE}" in card
        assert ("their training documents were dropped" in card) == (mode == "drop")


def test_similarity_baseline_scores_are_cosines(tmp_path):
    from labelwise.analysis.similarity_baseline import similarity_scores

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    documents = ["tumor cell growth", "immune reaction and fever", "tumor cell growth"]
    scores = similarity_scores(documents, ["tumor cell growth", "immune reaction"], checkpoint, batch_size=2)
    assert scores.shape == (3, 2) and np.all(np.abs(scores) <= 1 + 1e-6)
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)  # a text and its own copy as description
    np.testing.assert_allclose(scores[0], scores[2], atol=1e-6)  # batch position and padding do not matter
    with pytest.raises(ValueError, match="description 1 is empty"):
        similarity_scores(documents, ["tumor", " "], checkpoint)


def test_similarity_baseline_cls_pooling_is_the_normalised_cls_state(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from labelwise.analysis.similarity_baseline import mean_pooled_embeddings

    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    tokenizer, model = AutoTokenizer.from_pretrained(checkpoint), AutoModel.from_pretrained(checkpoint)
    texts = ["tumor cell growth in mice", "immune reaction"]
    pooled = mean_pooled_embeddings(texts, model, tokenizer, pooling="cls")
    with torch.no_grad():
        states = model(**tokenizer(texts, padding=True, return_tensors="pt")).last_hidden_state[:, 0]
    np.testing.assert_allclose(pooled, torch.nn.functional.normalize(states, dim=-1).numpy(), atol=1e-5)
    assert not np.allclose(pooled, mean_pooled_embeddings(texts, model, tokenizer, pooling="mean"))
    with pytest.raises(ValueError, match="pooling must be 'mean' or 'cls'"):
        mean_pooled_embeddings(texts, model, tokenizer, pooling="max")
