"""Labels unseen in training: the label-agnostic LAME head, add_labels, new label sets, candidate_labels."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import run_python_without_labelwise, tiny_bert_checkpoint
from transformers import AutoTokenizer, pipeline

from labelwise.modeling import LameConfig, LameForSequenceClassification

DESCRIPTIONS = {
    "growth": "cancer cell growth signals",
    "immune": "immune reaction and inflammation",
    "vessel": "blood vessel angiogenesis",
}
NEW = {"rash": "severe rash on the skin", "fever": "fever after the drug"}
TEXTS = ["The tumor showed growth after the drug.", "Patients showed severe rash and fever."]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def tokenizer(checkpoint):
    return AutoTokenizer.from_pretrained(checkpoint)


def agnostic(checkpoint, seed: int = 0, **kwargs) -> LameForSequenceClassification:
    """A label-agnostic LAME whose head weights are spread out, so labels get visibly different scores
    (a fresh head's logits differ by about 1e-3)."""
    kwargs.setdefault("label_descriptions", DESCRIPTIONS)
    kwargs.setdefault("problem_type", "multi_label_classification")
    torch.manual_seed(seed)  # the same head for every call with the same seed
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_attention_heads=4, label_scoring="label_agnostic", **kwargs
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.classifier.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model.eval()


def logits(model, tokenizer, texts=TEXTS) -> torch.Tensor:
    with torch.no_grad():
        return model(**tokenizer(texts, return_tensors="pt", padding=True)).logits


# ----------------------------------------------------------------------------- the head
def test_label_scoring_is_validated():
    with pytest.raises(ValueError, match="label_scoring must be one of"):
        LameConfig(label_descriptions=["a"], hidden_size=32, num_attention_heads=4, label_attention_heads=4,
                   label_scoring="per_label")


def test_agnostic_head_has_no_parameter_with_a_label_dimension(checkpoint):
    model = agnostic(checkpoint, first_stage="bilinear")
    head = {name: p.shape for name, p in model.named_parameters() if not name.startswith("backbone.")}
    assert head and all(len(DESCRIPTIONS) not in shape for shape in head.values()), head
    # The label-specific head has one row per label: the difference the option makes.
    specific = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=DESCRIPTIONS, label_attention_heads=4, first_stage="bilinear"
    )
    assert specific.classifier.weight.shape[0] == len(DESCRIPTIONS) and specific.first_stage.bias.shape == (3,)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"light_label_head": True, "label_chunk_size": 1},
        {"first_stage": "bilinear", "label_embedding_mode": "static", "num_label_attention_blocks": 2},
        {"similarity_term": True, "description_pooling": "mean", "label_chunk_size": 2},
    ],
    ids=["full", "light-chunked", "first-stage-static-2blocks", "similarity-mean"],
)
def test_adding_labels_keeps_the_scores_of_existing_labels(checkpoint, tokenizer, options):
    model = agnostic(checkpoint, **options)
    before = logits(model, tokenizer)
    model.add_labels(NEW, tokenizer)
    assert model.config.labels == [*DESCRIPTIONS, *NEW] and model.config.num_labels == 5
    after = logits(model, tokenizer)  # the eval cache was extended, not re-encoded
    assert after.shape == (2, 5)
    torch.testing.assert_close(after[:, :3], before, rtol=0, atol=1e-5)
    model.clear_label_cache()
    torch.testing.assert_close(logits(model, tokenizer), after, rtol=0, atol=1e-5)
    # The new labels are scored from their descriptions: the same labels set from scratch agree.
    fresh = agnostic(checkpoint, label_descriptions=NEW, **options)
    torch.testing.assert_close(logits(fresh, tokenizer), after[:, 3:], rtol=0, atol=1e-5)


def test_new_label_set_replaces_every_label_field(checkpoint, tokenizer):
    model = agnostic(checkpoint, label_thresholds=[0.2, 0.3, 0.4], pos_weight=[2.0, 3.0, 4.0])
    old_vessel = logits(model, tokenizer)[:, 2]
    model.set_label_descriptions({"vessel": DESCRIPTIONS["vessel"], **NEW}, tokenizer)
    config = model.config
    assert config.id2label == {0: "vessel", 1: "rash", 2: "fever"}
    assert config.label2id == {"vessel": 0, "rash": 1, "fever": 2} and config.num_labels == 3
    assert config.label_descriptions == [DESCRIPTIONS["vessel"], *NEW.values()]
    assert len(config.label_description_token_ids) == 3
    # Per-label fields follow the labels by name; a new label gets the global threshold and weight 1.
    assert config.label_thresholds == [0.4, 0.5, 0.5] and config.pos_weight == [4.0, 1.0, 1.0]
    scores = logits(model, tokenizer)
    assert scores.shape == (2, 3)
    torch.testing.assert_close(scores[:, 0], old_vessel, rtol=0, atol=1e-5)
    # A different count as well.
    model.set_label_descriptions({"only": "a single label about drugs"}, tokenizer)
    assert logits(model, tokenizer).shape == (2, 1) and config.label_thresholds == [0.5]


def test_label_specific_head_refuses_a_new_label_set(checkpoint, tokenizer):
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=DESCRIPTIONS, label_attention_heads=4
    )
    with pytest.raises(ValueError, match="label_scoring='label_specific'.*--label_scoring label_agnostic"):
        model.add_labels(NEW, tokenizer)
    with pytest.raises(ValueError, match="add_labels.*label_scoring='label_specific'"):
        model.add_labels(NEW, tokenizer)
    with pytest.raises(ValueError, match="set_label_descriptions.*'rash'"):
        model.set_label_descriptions({"growth": "x", "rash": "y", "vessel": "z"}, tokenizer)
    assert model.config.labels == list(DESCRIPTIONS)
    # Rewording its own labels' descriptions is still allowed.
    model.set_label_descriptions(["cell growth", "immune response", "new vessels"], tokenizer)
    assert model.config.label_descriptions[0] == "cell growth"


def test_add_labels_errors_name_the_label(checkpoint, tokenizer):
    model = agnostic(checkpoint)
    with pytest.raises(ValueError, match="'immune' is already in the label set"):
        model.add_labels({"immune": "again"}, tokenizer)
    with pytest.raises(ValueError, match="description of label 'rash' is empty"):
        model.add_labels({"rash": "  "}, tokenizer)
    with pytest.raises(ValueError, match="label set is empty"):
        model.add_labels({}, tokenizer)
    assert model.config.labels == list(DESCRIPTIONS)  # a refused call changes nothing


def test_agnostic_head_trains_with_sampling_first_stage_and_shortlist(checkpoint, tokenizer):
    """Sampled label training (random and hard negatives), the first stage and its shortlist all run
    with the label-agnostic head; a label added after training is then scored through the shortlist."""
    descriptions = {f"label{i}": f"label number {i} about {word}" for i, word in
                    enumerate(["rash", "fever", "tumor", "drug", "growth", "skin", "blood", "cell"])}
    model = agnostic(
        checkpoint, label_descriptions=descriptions, label_sampling="sampled", label_sample_negatives=3,
        first_stage="bilinear", shortlist_size=4, label_chunk_size=3, similarity_term=True,
    ).train()
    encoded = tokenizer(TEXTS, return_tensors="pt", padding=True)
    targets = torch.zeros(2, 8)
    targets[0, 2] = targets[1, 0] = 1
    output = model(**encoded, labels=targets)
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert model.classifier.label_weight.weight.grad.abs().sum() > 0
    assert model.first_stage.label_bias.weight.grad.abs().sum() > 0
    assert model.classifier.similarity_scale.grad.abs() > 0
    model.eval()
    model.add_labels({"new": "a new label about the skin"}, tokenizer)
    assert logits(model, tokenizer).shape == (2, 9)


def test_similarity_term_adds_the_scaled_document_description_cosine(checkpoint, tokenizer):
    model = agnostic(checkpoint, similarity_term=True, description_pooling="mean")
    with torch.no_grad():
        model.classifier.similarity_scale.fill_(7.0)
        with_term = logits(model, tokenizer)
        model.classifier.similarity_scale.zero_()
        without = logits(model, tokenizer)
        documents = tokenizer(TEXTS, return_tensors="pt", padding=True)
        states = model.backbone(**documents).last_hidden_state
        mask = documents["attention_mask"].unsqueeze(-1).float()
        document_means = (states * mask).sum(1) / mask.sum(1)
        cosines = torch.stack([
            torch.nn.functional.cosine_similarity(
                document_means, model.backbone(**tokenizer(text, return_tensors="pt")).last_hidden_state[0].mean(0)[None], dim=-1
            )
            for text in DESCRIPTIONS.values()
        ], dim=1)
    torch.testing.assert_close(with_term - without, 7.0 * cosines, rtol=0, atol=1e-4)


def test_similarity_scale_starts_at_its_config_value_and_is_saved(checkpoint, tmp_path):
    torch.manual_seed(0)
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=DESCRIPTIONS, label_attention_heads=4, label_scoring="label_agnostic",
        similarity_term=True, similarity_scale=4.0, problem_type="multi_label_classification",
    )
    assert model.classifier.similarity_scale.item() == 4.0  # not left uninitialised by the meta-device build
    with torch.no_grad():
        model.classifier.similarity_scale.fill_(2.5)  # as if trained
    model.save_pretrained(str(tmp_path))
    assert LameForSequenceClassification.from_pretrained(str(tmp_path)).classifier.similarity_scale.item() == 2.5
    with pytest.raises(ValueError, match="similarity_term=True needs label_scoring='label_agnostic'"):
        LameConfig(label_descriptions=["a"], hidden_size=32, num_attention_heads=4, label_attention_heads=4,
                   similarity_term=True)


@pytest.mark.parametrize("batch_size", [64, 2])
def test_mean_description_pooling_is_the_masked_mean_of_each_description_alone(checkpoint, tokenizer, batch_size):
    assert len({len(tokenizer(text)["input_ids"]) for text in DESCRIPTIONS.values()}) > 1  # padding happens
    model = agnostic(checkpoint, description_pooling="mean", description_batch_size=batch_size)
    with torch.no_grad():
        pooled = model.encode_label_descriptions()
        for row, text in enumerate(DESCRIPTIONS.values()):
            alone = tokenizer(text, return_tensors="pt")  # no padding: every position is a real token
            states = model.backbone(**alone).last_hidden_state[0]
            torch.testing.assert_close(pooled[row], states.mean(0), rtol=0, atol=1e-5)
            assert not torch.allclose(pooled[row], states[0], atol=1e-3)  # not the [CLS] state
    cls = agnostic(checkpoint, description_pooling="cls", description_batch_size=batch_size)
    with torch.no_grad():
        first = cls.backbone(**tokenizer(list(DESCRIPTIONS.values()), return_tensors="pt", padding=True)).last_hidden_state[:, 0]
        torch.testing.assert_close(cls.encode_label_descriptions(), first, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="description_pooling must be one of"):
        LameConfig(label_descriptions=["a"], hidden_size=32, num_attention_heads=4, label_attention_heads=4,
                   description_pooling="max")


def test_label_agnostic_heads_default_to_mean_pooling_and_the_similarity_term(checkpoint, tmp_path):
    small = dict(label_descriptions=["a"], hidden_size=32, num_attention_heads=4, label_attention_heads=4)
    specific, free = LameConfig(**small), LameConfig(**small, label_scoring="label_agnostic")
    assert (specific.description_pooling, specific.similarity_term) == ("cls", False)  # "auto" resolved once
    assert (specific.pools_descriptions, specific.uses_similarity_term) == ("cls", False)
    assert (free.pools_descriptions, free.uses_similarity_term) == ("mean", True)
    chosen = LameConfig(**small, label_scoring="label_agnostic", description_pooling="cls", similarity_term=False)
    assert (chosen.pools_descriptions, chosen.uses_similarity_term) == ("cls", False)
    assert LameConfig(**small, label_scoring="label_agnostic", similarity_term=None).uses_similarity_term  # train.py's unset
    with pytest.raises(ValueError, match="similarity_term must be True, False or 'auto'"):
        LameConfig(**small, label_scoring="label_agnostic", similarity_term="yes")
    model = agnostic(checkpoint)
    assert model.classifier.similarity_scale is not None
    model.save_pretrained(str(tmp_path / "auto"))
    saved = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert (saved["description_pooling"], saved["similarity_term"]) == ("mean", True)  # stored resolved
    reloaded = LameForSequenceClassification.from_pretrained(str(tmp_path / "auto"))
    assert reloaded.config.uses_similarity_term and reloaded.config.pools_descriptions == "mean"
    # A label-agnostic checkpoint saved before the two fields existed keeps the head it was built with.
    plain = agnostic(checkpoint, description_pooling="cls", similarity_term=False)
    plain.save_pretrained(str(tmp_path / "old"))
    legacy = json.loads((tmp_path / "old" / "config.json").read_text())
    del legacy["description_pooling"], legacy["similarity_term"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(legacy))
    old = LameForSequenceClassification.from_pretrained(str(tmp_path / "old"))
    assert (old.config.pools_descriptions, old.config.uses_similarity_term) == ("cls", False)
    assert old.classifier.similarity_scale is None


# ------------------------------------------------------------------- saving and loading
@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_new_label_set_saves_and_reloads_without_labelwise(checkpoint, tokenizer, tmp_path, pooling):
    model = agnostic(checkpoint, description_pooling=pooling)
    model.set_label_descriptions({"vessel": DESCRIPTIONS["vessel"], "rash": NEW["rash"]}, tokenizer)
    model.add_labels({"fever": NEW["fever"]}, tokenizer)
    pipe = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    pipe.save_pretrained(str(tmp_path))
    expected = logits(model, tokenizer).tolist()
    candidates = {"tumor": "tumor growth"}
    expected_candidate = pipe(TEXTS[0], candidate_labels=candidates)["labels"][0]["score"]
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
folder = {str(tmp_path)!r}
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
with torch.no_grad():
    logits = model(**tokenizer({TEXTS!r}, return_tensors="pt", padding=True)).logits.tolist()
classify = pipeline(model=folder, trust_remote_code=True)
candidate = classify({TEXTS[0]!r}, candidate_labels={candidates!r})["labels"]
print(json.dumps({{"logits": logits, "labels": model.config.id2label, "candidate": candidate}}))
"""
    completed = run_python_without_labelwise(code, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["labels"] == {"0": "vessel", "1": "rash", "2": "fever"}
    assert json.loads((tmp_path / "config.json").read_text())["description_pooling"] == pooling
    torch.testing.assert_close(torch.tensor(result["logits"]), torch.tensor(expected), rtol=0, atol=1e-5)
    assert [entry["label"] for entry in result["candidate"]] == ["tumor"]
    assert result["candidate"][0]["score"] == pytest.approx(expected_candidate, abs=1e-6)


# ------------------------------------------------------------------------- the pipeline
def test_pipeline_candidate_labels_returns_exactly_those_labels(checkpoint, tokenizer):
    model = agnostic(checkpoint, label_thresholds=[0.1, 0.9, 0.5])
    classify = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    own = classify(TEXTS[1])
    config_before = model.config.to_dict()

    result = classify(TEXTS[1], candidate_labels=NEW, threshold=0.0, top_k_evidence=2)
    assert sorted(entry["label"] for entry in result["labels"]) == sorted(NEW)
    assert set(result["word_weights"]) == set(NEW)
    for entry in result["labels"]:
        assert entry["description"] == NEW[entry["label"]] and len(entry["evidence"]) == 2
    # A list of names with their descriptions, and a batch: the same scores.
    listed = classify(TEXTS, candidate_labels=list(NEW), candidate_descriptions=list(NEW.values()), batch_size=2)
    scores = {entry["label"]: entry["score"] for entry in result["labels"]}
    assert {entry["label"]: pytest.approx(entry["score"], abs=1e-6) for entry in listed[1]["labels"]} == scores
    # The scores are those of the model with these labels added.
    model_scores = torch.sigmoid(logits(model_with(checkpoint, tokenizer, NEW), tokenizer, [TEXTS[1]])[0, 3:])
    assert [scores[name] for name in NEW] == pytest.approx(model_scores.tolist(), abs=1e-5)
    # The model's own names: their stored descriptions and their own thresholds.
    subset = classify(TEXTS[1], candidate_labels=["immune", "growth"])
    assert sorted(entry["label"] for entry in subset["labels"]) == ["growth", "immune"]
    own_scores = {entry["label"]: entry for entry in own["labels"]}
    for entry in subset["labels"]:
        assert entry["score"] == pytest.approx(own_scores[entry["label"]]["score"], abs=1e-6)
        assert entry["predicted"] == own_scores[entry["label"]]["predicted"]
    # Nothing of the model changed.
    assert model.config.to_dict() == config_before
    assert [entry["label"] for entry in classify(TEXTS[1])["labels"]] == [entry["label"] for entry in own["labels"]]


def model_with(checkpoint, tokenizer, extra: dict) -> LameForSequenceClassification:
    model = agnostic(checkpoint, label_thresholds=[0.1, 0.9, 0.5])
    model.add_labels(extra, tokenizer)
    return model


@pytest.mark.parametrize(
    "call, message",
    [
        ({"candidate_labels": {}}, "candidate_labels.*empty"),
        ({"candidate_labels": []}, "candidate_labels is empty"),
        ({"candidate_labels": ["rash", "fever", "rash"], "candidate_descriptions": ["a", "b", "c"]},
         "candidate label 'rash' is given twice"),
        ({"candidate_labels": ["rash", " rash"], "candidate_descriptions": ["a", "b"]}, "candidate label ' rash' is given twice"),
        ({"candidate_labels": {"rash": "skin", "fever": ""}}, "description of label 'fever' is empty"),
        ({"candidate_labels": {"": "skin"}}, "label name '' is empty"),
        ({"candidate_labels": ["immune", "rash"]}, "candidate label 'rash' is not one of the model's labels"),
        ({"candidate_labels": ["rash"], "candidate_descriptions": ["a", "b"]}, "1 candidate_labels but 2"),
    ],
    ids=["empty-dict", "empty-list", "duplicate", "duplicate-spaces", "empty-description", "empty-name",
         "unknown-name", "count-mismatch"],
)
def test_pipeline_candidate_errors_name_the_label(checkpoint, tokenizer, call, message):
    classify = pipeline("label-attention-classification", model=agnostic(checkpoint), tokenizer=tokenizer)
    with pytest.raises(ValueError, match=message):
        classify(TEXTS[0], **call)


def test_pipeline_candidate_labels_need_a_label_agnostic_head(checkpoint, tokenizer):
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=DESCRIPTIONS, label_attention_heads=4
    ).eval()
    classify = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="candidate_labels needs a model trained with label_scoring='label_agnostic'"):
        classify(TEXTS[0], candidate_labels=NEW)
    with pytest.raises(ValueError, match="label_scoring='label_specific'"):
        model(**tokenizer(TEXTS[0], return_tensors="pt"), description_embeddings=torch.zeros(2, 32))


def test_from_pretrained_with_new_descriptions_tokenizes_them(checkpoint, tokenizer, tmp_path):
    """A saved label-agnostic model warm-started with another label set of the same size scores the
    new descriptions (the checkpoint's description token ids are not reused)."""
    model = agnostic(checkpoint)
    model.save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    other = {"rash": NEW["rash"], "fever": NEW["fever"], "skin": "skin and hair"}
    reloaded = LameForSequenceClassification.from_pretrained(str(tmp_path), label_descriptions=other).eval()
    assert reloaded.config.labels == list(other)
    model.set_label_descriptions(other, tokenizer)
    assert reloaded.config.label_description_token_ids == model.config.label_description_token_ids
    torch.testing.assert_close(logits(reloaded, tokenizer), logits(model, tokenizer), rtol=0, atol=1e-5)


def test_multi_class_candidates_are_one_softmax_over_the_candidates(checkpoint, tokenizer):
    model = agnostic(checkpoint, problem_type="single_label_classification")
    classify = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    result = classify(TEXTS[0], candidate_labels={**NEW, "tumor": "tumor growth"})
    assert sorted(entry["label"] for entry in result["labels"]) == sorted([*NEW, "tumor"])
    assert sum(entry["score"] for entry in result["labels"]) == pytest.approx(1.0, abs=1e-6)
    assert [entry["predicted"] for entry in result["labels"]] == [True, False, False]  # the arg-max, sorted first
