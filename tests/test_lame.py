"""LameConfig / LameForSequenceClassification / LameClassificationPipeline on a tiny random BERT."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import run_python_without_labelwise, tiny_bert_checkpoint, tiny_bert_config
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer, BertModel, pipeline

from labelwise.modeling import LameConfig, LameForSequenceClassification, f_measure_loss, merge_pieces_into_words

DESCRIPTIONS = {
    "growth": "cancer cell growth signals",
    "immune": "immune reaction and inflammation",
    "vessel": "blood vessel angiogenesis",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def lame(checkpoint, **kwargs) -> LameForSequenceClassification:
    kwargs.setdefault("label_descriptions", DESCRIPTIONS)
    kwargs.setdefault("label_attention_heads", 4)
    return LameForSequenceClassification.from_pretrained(checkpoint, **kwargs)


def batch(size: int = 3, length: int = 10, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 90, (size, length), generator=generator)
    input_ids[:, 0] = 2  # [CLS]
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, length // 2 :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


# ------------------------------------------------------------------------------ config
def test_config_rejects_description_count_mismatch():
    with pytest.raises(ValueError, match="2 label descriptions for 3 labels"):
        LameConfig(label_descriptions=["a", "b"], id2label={0: "x", 1: "y", 2: "z"}, **_small())


def test_config_rejects_empty_description():
    with pytest.raises(ValueError, match="description of label 'y'"):
        LameConfig(label_descriptions={"x": "fine", "y": "   "}, **_small())


def test_config_rejects_duplicate_labels():
    with pytest.raises(ValueError, match="appears twice"):
        LameConfig(label_descriptions=["a", "b"], id2label={0: "x", 1: "x"}, **_small())


def test_config_rejects_heads_not_dividing_hidden_size():
    with pytest.raises(ValueError, match="must divide hidden_size=32"):
        LameConfig(label_descriptions=["a"], **_small(label_attention_heads=5))


def test_config_rejects_unknown_loss():
    with pytest.raises(ValueError, match="loss must be one of"):
        LameConfig(label_descriptions=["a"], loss="focal", **_small())


def test_dict_descriptions_name_the_labels():
    config = LameConfig(label_descriptions=DESCRIPTIONS, **_small())
    assert config.labels == list(DESCRIPTIONS)
    assert config.label2id == {"growth": 0, "immune": 1, "vessel": 2}


def _small(**extra):
    values = tiny_bert_config().to_dict()
    values = {k: values[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")}
    values["label_attention_heads"] = 4
    values.update(extra)
    return values


# ------------------------------------------------------------------------ warm start
def test_warm_start_loads_encoder_bit_identical_and_initialises_head(checkpoint):
    model = lame(checkpoint)
    reference = BertModel.from_pretrained(checkpoint, add_pooling_layer=False)
    ours = model.backbone.state_dict()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    for name, parameter in model.named_parameters():
        assert torch.isfinite(parameter).all(), name
    assert model.classifier.weight.abs().sum() > 0  # initialised, not left empty
    assert model.config.label_description_token_ids[0][0] == 2  # tokenized with [CLS]
    # the checkpoint's "model_type": "bert" must not shadow LAME's (saving would then write "bert")
    assert model.config.model_type == "lame" and model.config.to_dict()["model_type"] == "lame"


# ------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("problem_type", ["single_label_classification", "multi_label_classification"])
def test_output_shapes(checkpoint, problem_type):
    model = lame(checkpoint, problem_type=problem_type, num_label_attention_blocks=2)
    out = model(**batch(), output_cross_attentions=True)
    assert out.logits.shape == (3, 3)
    assert len(out.cross_attentions) == 2
    weights = out.cross_attentions[-1]
    assert weights.shape == (3, 4, 3, 10)  # (batch, heads, labels, tokens)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 3))
    assert weights[0, :, :, 5:].abs().max() == 0  # padding receives no attention


# -------------------------------------------------------------------------------- loss
def test_cross_entropy_loss_matches_hand_computation(checkpoint):
    model = lame(checkpoint, problem_type="single_label_classification").eval()
    labels = torch.tensor([0, 2, 1])
    out = model(**batch(), labels=labels)
    log_probs = out.logits.log_softmax(-1)
    expected = -(log_probs[0, 0] + log_probs[1, 2] + log_probs[2, 1]) / 3
    torch.testing.assert_close(out.loss, expected)


def test_bce_loss_with_pos_weight_matches_hand_computation(checkpoint):
    model = lame(checkpoint, problem_type="multi_label_classification", pos_weight=[1.0, 2.0, 3.0]).eval()
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0]])
    out = model(**batch(), labels=labels)
    p = torch.sigmoid(out.logits)
    w = torch.tensor([1.0, 2.0, 3.0])
    expected = -(w * labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    torch.testing.assert_close(out.loss, expected)


def test_f_measure_loss_hand_computed():
    p = torch.tensor([[0.9, 0.2], [0.4, 0.7]])
    y = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    tp = 0.9 + 0.4 + 0.7
    fp = 0.2
    fn = 0.1 + 0.6 + 0.3
    tn = 0.8
    expected = 1 - 0.5 * (2 * tp / (2 * tp + fp + fn) + 2 * tn / (2 * tn + fp + fn))
    assert f_measure_loss(p, y).item() == pytest.approx(expected, rel=1e-6)


def test_f_measure_loss_is_finite_without_positives_or_negatives():
    p = torch.tensor([[0.3, 0.6]], requires_grad=True)
    no_positives = f_measure_loss(p, torch.zeros(1, 2))
    no_positives.backward()
    # F_pos = 0 exactly, F_neg = 2*1.1 / (2*1.1 + 0.9)
    assert no_positives.item() == pytest.approx(1 - 0.5 * (2.2 / 3.1), rel=1e-6)
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    no_negatives = f_measure_loss(torch.tensor([[0.3, 0.6]]), torch.ones(1, 2))
    assert math.isfinite(no_negatives.item())
    perfect = f_measure_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
    assert perfect.item() == pytest.approx(0.0, abs=1e-6)


def test_macro_f_measure_loss_hand_computed_with_a_label_without_positives():
    # Label 0: positives in both rows; label 1: no positive in the batch (its F+ is 0 by definition).
    p = torch.tensor([[0.9, 0.2], [0.4, 0.7]])
    y = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # label 0: tp = 1.3, fp = 0, fn = 0.1 + 0.6 = 0.7, tn = 0
    f_pos_0, f_neg_0 = 2 * 1.3 / (2 * 1.3 + 0.7), 0.0
    # label 1: tp = 0, fp = 0.9, fn = 0, tn = 0.8 + 0.3 = 1.1
    f_pos_1, f_neg_1 = 0.0, 2 * 1.1 / (2 * 1.1 + 0.9)
    expected = 1 - ((f_pos_0 + f_neg_0) / 2 + (f_pos_1 + f_neg_1) / 2) / 2
    assert f_measure_loss(p, y, average="macro").item() == pytest.approx(expected, rel=1e-6)
    # The micro reading of the same batch differs: one pooled count for all four cells.
    tp, fp, fn, tn = 1.3, 0.9, 0.7, 1.1
    micro = 1 - 0.5 * (2 * tp / (2 * tp + fp + fn) + 2 * tn / (2 * tn + fp + fn))
    assert f_measure_loss(p, y, average="micro").item() == pytest.approx(micro, rel=1e-6)
    assert abs(micro - expected) > 1e-3


def test_f_measure_loss_rejects_unknown_average():
    with pytest.raises(ValueError, match="average must be 'micro' or 'macro'"):
        f_measure_loss(torch.zeros(1, 1), torch.zeros(1, 1), average="weighted")


def test_model_uses_macro_f_measure_when_configured(checkpoint):
    model = lame(checkpoint, problem_type="multi_label_classification", loss="f_measure", f_measure_average="macro").eval()
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0]])
    out = model(**batch(), labels=labels)
    torch.testing.assert_close(out.loss, f_measure_loss(torch.sigmoid(out.logits), labels, average="macro"))
    with pytest.raises(ValueError, match="f_measure_average must be one of"):
        LameConfig(label_descriptions=["a"], f_measure_average="weighted", **_small())


def test_model_uses_f_measure_loss_when_configured(checkpoint):
    model = lame(checkpoint, problem_type="multi_label_classification", loss="f_measure").eval()
    labels = torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0]])
    out = model(**batch(), labels=labels)
    torch.testing.assert_close(out.loss, f_measure_loss(torch.sigmoid(out.logits), labels))


# ------------------------------------------------------------------- label embeddings
def test_gradient_reaches_encoder_through_descriptions(checkpoint):
    model = lame(checkpoint, problem_type="multi_label_classification").train()
    labels_embedding = model.encode_label_descriptions()
    # A random projection: a plain sum of LayerNorm outputs is constant and has no gradient.
    (labels_embedding * torch.randn(labels_embedding.shape, generator=torch.Generator().manual_seed(0))).sum().backward()
    # The word embeddings of description tokens received gradient from the label side alone.
    grad = model.backbone.embeddings.word_embeddings.weight.grad
    description_tokens = {t for ids in model.config.label_description_token_ids for t in ids}
    assert all(grad[t].abs().sum() > 0 for t in description_tokens)


def test_static_mode_and_frozen_encoder_give_no_gradient(checkpoint):
    static = lame(checkpoint, label_embedding_mode="static").train()
    assert not static.encode_label_descriptions().requires_grad
    frozen = lame(checkpoint, freeze_encoder=True, feature_head="cnn").train()
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    assert not frozen.backbone.training  # a frozen encoder stays in eval mode (no dropout)
    out = frozen(**batch(), labels=torch.tensor([[1.0, 0, 0]] * 3))
    out.loss.backward()
    assert frozen.feature_head.conv.weight.grad is not None


def test_eval_cache_is_reused_and_invalidated_when_weights_change(checkpoint):
    model = lame(checkpoint).eval()
    first = model.encode_label_descriptions()
    assert model.encode_label_descriptions() is first  # cached
    with torch.no_grad():
        model.backbone.embeddings.word_embeddings.weight.add_(0.5)  # in-place change, as an optimizer step
    second = model.encode_label_descriptions()
    assert second is not first and not torch.allclose(second, first)
    fresh = lame(checkpoint).eval()
    with torch.no_grad():
        fresh.backbone.embeddings.word_embeddings.weight.add_(0.5)
    torch.testing.assert_close(second, fresh.encode_label_descriptions())


def test_cache_is_never_stale_after_load_state_dict_or_train_step(checkpoint):
    model = lame(checkpoint).eval()
    inputs = batch()
    stale = model(**inputs).logits
    other = lame(checkpoint)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.mul_(1.1)
    model.load_state_dict(other.state_dict())
    torch.testing.assert_close(model(**inputs).logits, other.eval()(**inputs).logits)
    assert not torch.allclose(model(**inputs).logits, stale)

    # one optimizer step in train mode, then eval again: the embeddings are recomputed
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model(**inputs, labels=torch.ones(3, 3)).loss.backward()
    optimizer.step()
    model.eval()
    reference = lame(checkpoint)
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(**inputs).logits, reference.eval()(**inputs).logits)


def test_batched_label_encoding_equals_per_document_encoding(checkpoint):
    """Sharing one label matrix across the batch equals encoding descriptions per document."""
    model = lame(checkpoint).eval()
    inputs = batch(size=3)
    together = model(**inputs).logits
    separately = torch.cat(
        [model(**{k: v[i : i + 1] for k, v in inputs.items()}).logits for i in range(3)]
    )
    torch.testing.assert_close(together, separately, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------ explanations
def test_merge_pieces_into_words_sums_pieces_and_drops_special_tokens():
    text = "rashes appeared"
    # [CLS] rash ##es appeared [SEP] [PAD]
    word_ids = [None, 0, 0, 1, None, None]
    offsets = [(0, 0), (0, 4), (4, 6), (7, 15), (0, 0), (0, 0)]
    weights = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.0, 0.0]])
    words, merged = merge_pieces_into_words(weights, word_ids, offsets, text)
    assert words == [{"word": "rashes", "start": 0, "end": 6}, {"word": "appeared", "start": 7, "end": 15}]
    torch.testing.assert_close(merged, torch.tensor([[0.5, 0.4]]))


def test_pipeline_returns_probabilities_and_word_evidence(checkpoint):
    model = lame(checkpoint, problem_type="multi_label_classification")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    classify = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    text = "Patients showed severe rash after the drug."
    result = classify(text, threshold=0.0, top_k_evidence=3)
    assert [entry["label"] for entry in result["labels"]] != []
    assert {entry["label"] for entry in result["labels"]} == set(DESCRIPTIONS)
    scores = [entry["score"] for entry in result["labels"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    for entry in result["labels"]:
        assert entry["predicted"] and len(entry["evidence"]) == 3
        assert entry["description"] == DESCRIPTIONS[entry["label"]]
        for word in entry["evidence"]:
            assert text[word["start"] : word["end"]] == word["word"]
    assert [w["word"] for w in result["words"]] == ["Patients", "showed", "severe", "rash", "after", "the", "drug", "."]
    for weights in result["word_weights"].values():
        # [CLS] and [SEP] take some attention mass, which is dropped with them
        assert len(weights) == len(result["words"]) and 0.5 < sum(weights) < 1.0


# ------------------------------------------------------------------ saving and loading
def test_auto_classes_resolve_lame_in_process(checkpoint, tmp_path):
    model = lame(checkpoint, problem_type="multi_label_classification")
    model.save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)).__name__ == "LameConfig"
    assert isinstance(AutoModel.from_pretrained(tmp_path), LameForSequenceClassification)
    assert isinstance(AutoModelForSequenceClassification.from_pretrained(tmp_path), LameForSequenceClassification)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["auto_map"]["AutoModelForSequenceClassification"] == "modeling_lame.LameForSequenceClassification"
    assert saved["label_descriptions"] == list(DESCRIPTIONS.values())
    # Every sibling the model file imports travels with it (remote code), however the model is split.
    siblings = {"configuration_lame.py", "decision_thresholds.py", "encoders.py", "head_lame.py", "labels_lame.py", "large_labels_lame.py",
                "modeling_lame.py", "saved_folder.py", "segments.py", "pipeline_lame.py"}
    assert siblings | {"model.safetensors"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
def test_remote_code_loads_in_fresh_process_without_labelwise(checkpoint, tmp_path):
    model = lame(checkpoint, problem_type="multi_label_classification").eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    pipe = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    pipe.save_pretrained(str(tmp_path))
    text = "Severe rash and fever after the drug."
    with torch.no_grad():
        expected = model(**tokenizer(text, return_tensors="pt")).logits[0].tolist()
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
folder = {str(tmp_path)!r}
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
with torch.no_grad():
    logits = model(**tokenizer({text!r}, return_tensors="pt")).logits[0].tolist()
standard = pipeline("text-classification", model=folder, trust_remote_code=True, top_k=None)({text!r})
custom = pipeline(model=folder, trust_remote_code=True)({text!r})
print(json.dumps({{"logits": logits, "standard": standard, "custom": custom}}))
"""
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["logits"] == pytest.approx(expected, abs=1e-6)
    # transformers 5 answers one string with top_k=None as a list holding one list of all labels
    standard = {entry["label"]: entry["score"] for entry in payload["standard"][0]}
    sigmoid = {model.config.id2label[i]: 1 / (1 + math.exp(-v)) for i, v in enumerate(expected)}
    assert standard == pytest.approx(sigmoid, abs=1e-5)  # sigmoid, all labels, for multi-label
    assert {entry["label"] for entry in payload["custom"]["labels"]} == set(DESCRIPTIONS)
