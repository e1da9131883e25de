"""LAME with plain fine-tuning's classifier beside the head (`document_classifier`, issue 29): free
per-label rows on the document's mean token state, their logit added to the head's."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_bert_checkpoint
from test_lame_scale import DESCRIPTIONS, NUM_LABELS, batch, lame, targets
from transformers import AutoTokenizer

from labelwise.modeling.segments import masked_mean

AGNOSTIC = dict(label_scoring="label_agnostic", document_classifier=True, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, classifier_dropout=0.0, label_attention_dropout=0.0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def document_logits(model, inputs) -> torch.Tensor:
    _, tokens, mask, _ = model.encode_documents(**inputs)
    return model.document_classifier(masked_mean(tokens, mask))


@pytest.mark.parametrize("label_scoring", ["label_specific", "label_agnostic"])
def test_the_logit_is_the_heads_plus_the_document_classifiers(checkpoint, label_scoring):
    model = lame(checkpoint, **{**AGNOSTIC, "label_scoring": label_scoring}).eval()
    inputs = batch()
    with torch.no_grad():
        torch.nn.init.normal_(model.document_classifier.linear.bias)
        both = model(**inputs).logits
        rows = document_logits(model, inputs)
        model.document_classifier.linear.weight.zero_()
        model.document_classifier.linear.bias.zero_()
        head = model(**inputs).logits
    assert rows.shape == (4, NUM_LABELS) and rows.abs().min() > 0
    torch.testing.assert_close(both, head + rows, rtol=1e-5, atol=1e-5)


def test_a_sampled_step_trains_the_rows_of_the_sampled_labels_through_the_sum(checkpoint):
    # No loss of its own: alone-calibrated rows added to the head would count the label prior twice.
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=2,
                 label_embedding_mode="static", **AGNOSTIC).train()
    sampled = []
    sample = model._sample_labels
    model._sample_labels = lambda *args: sampled.append(sample(*args)) or sampled[-1]
    labels = targets()
    model(**batch(), labels=labels).loss.backward()
    trained = model.document_classifier.linear.weight.grad.abs().sum(1) > 0
    assert trained.nonzero().squeeze(1).tolist() == sorted(sampled[0][0].tolist())
    assert trained[[1, 4, 7]].all() and trained.sum() == 5  # the 3 positive labels and 2 negatives


def test_label_priors_are_split_between_the_head_and_the_rows(checkpoint):
    model = lame(checkpoint, **AGNOSTIC)
    log_odds = torch.linspace(-6.0, -1.0, NUM_LABELS)
    model.initialize_label_biases(log_odds)
    intercept = model.classifier.label_bias.bias.item()
    assert intercept == pytest.approx(log_odds.mean().item())
    torch.testing.assert_close(model.document_classifier.linear.bias + intercept, log_odds)


def test_rows_follow_their_labels_when_the_label_set_changes_and_survive_saving(checkpoint, tmp_path):
    model = lame(checkpoint, **AGNOSTIC).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    before = model.document_classifier.linear.weight.detach().clone()
    model.add_labels({"new": "fresh words here"}, tokenizer)
    weight = model.document_classifier.linear.weight
    assert weight.shape == (NUM_LABELS + 1, before.shape[1])
    torch.testing.assert_close(weight[:NUM_LABELS], before)
    assert weight[NUM_LABELS].abs().sum() == 0 and model.document_classifier.linear.bias[NUM_LABELS] == 0
    reordered = {name: DESCRIPTIONS[name] for name in ["L3", "L0"]} | {"other": "another label"}
    model.set_label_descriptions(reordered, tokenizer)
    weight = model.document_classifier.linear.weight
    torch.testing.assert_close(weight[0], before[3])
    torch.testing.assert_close(weight[1], before[0])
    assert weight[2].abs().sum() == 0
    model.save_pretrained(tmp_path / "saved")
    reloaded = type(model).from_pretrained(tmp_path / "saved").eval()
    inputs = batch()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits, rtol=1e-5, atol=1e-5)


def test_call_time_descriptions_are_scored_by_the_head_alone(checkpoint):
    model = lame(checkpoint, **AGNOSTIC).eval()
    inputs = batch()
    with torch.no_grad():
        embeddings = model.encode_label_descriptions()
        given = model(**inputs, description_embeddings=embeddings).logits
        own = model(**inputs).logits
        torch.testing.assert_close(given, own - document_logits(model, inputs), rtol=1e-5, atol=1e-5)


def test_the_option_is_validated():
    # ONNX export of the option: the label-agnostic model of tests/test_export.py carries it.
    from labelwise.modeling import LameConfig

    with pytest.raises(ValueError, match=r"document_classifier must be one of \['auto', True, False\]"):
        LameConfig(label_descriptions=["a", "b"], document_classifier="yes")


def test_train_py_builds_it_from_its_option(checkpoint, tmp_path):
    from labelwise.kinds.lame import lame_model, summary_hyperparameters
    from labelwise.training.arguments import parse_arguments

    args, _ = parse_arguments(["--model", "lame", "--output_dir", str(tmp_path), "--label_attention_heads", "4",
                               "--document_classifier", "true"])
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = lame_model(args, checkpoint, tokenizer, list(DESCRIPTIONS), list(DESCRIPTIONS.values()),
                       "multi_label_classification")
    assert model.config.document_classifier and model.document_classifier.linear.out_features == NUM_LABELS
    assert summary_hyperparameters(args, model)["document_classifier"] is True
