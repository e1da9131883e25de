"""LAME at thousands of labels (issue 12): sampled label training, the training cache, the first
stage and shortlists, label chunks, the fused attention path and the light head, on a tiny BERT."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import WORDS, run_python_without_labelwise, tiny_bert_checkpoint, tiny_bert_config
from transformers import AutoTokenizer

from labelwise.modeling import LameConfig, LameForSequenceClassification, f_measure_loss, shortlist_recall
from labelwise.modeling.modeling_lame import length_chunks
from labelwise.modeling.segments import masked_mean

NUM_LABELS = 12
TERMS = [w for w in WORDS if w.isalpha()]
DESCRIPTIONS = {f"L{i}": " ".join(TERMS[(5 * i + j) % len(TERMS)] for j in range(2 + i % 4)) for i in range(NUM_LABELS)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def lame(checkpoint, seed: int = 0, **kwargs) -> LameForSequenceClassification:
    kwargs.setdefault("label_descriptions", DESCRIPTIONS)
    kwargs.setdefault("label_attention_heads", 4)
    kwargs.setdefault("problem_type", "multi_label_classification")
    torch.manual_seed(seed)  # the head is initialised from the global generator
    return LameForSequenceClassification.from_pretrained(checkpoint, **kwargs)


def batch(size: int = 4, length: int = 12, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 90, (size, length), generator=generator)
    input_ids[:, 0] = 2  # [CLS]
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, length // 2 :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def targets(size: int = 4, seed: int = 0) -> torch.Tensor:
    labels = torch.zeros(size, NUM_LABELS)
    labels[0, 1] = labels[1, 1] = labels[1, 4] = labels[3, 7] = 1.0
    return labels


def _small(**extra):
    values = tiny_bert_config().to_dict()
    values = {k: values[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")}
    values["label_attention_heads"] = 4
    values.update(extra)
    return values


# ------------------------------------------------------------------------------ config
def test_auto_options_follow_the_label_count():
    small = LameConfig(label_descriptions=[f"label {i}" for i in range(256)], **_small())
    large = LameConfig(label_descriptions=[f"label {i}" for i in range(257)], **_small())
    assert not small.uses_label_sampling and not small.uses_first_stage
    assert large.uses_label_sampling and large.uses_first_stage
    single = LameConfig(
        label_descriptions=[f"label {i}" for i in range(257)], problem_type="single_label_classification", **_small()
    )
    assert not single.uses_label_sampling and single.uses_first_stage  # a softmax is never sampled
    forced = LameConfig(label_descriptions=["a", "b"], label_sampling="sampled", first_stage="bilinear", **_small())
    assert forced.uses_label_sampling and forced.uses_first_stage


@pytest.mark.parametrize(
    "options, message",
    [
        ({"label_sampling": "some"}, "label_sampling must be one of"),
        ({"first_stage": "mlp"}, "first_stage must be one of"),
        ({"label_sample_negatives": -1}, "label_sample_negatives must be a non-negative integer"),
        ({"label_cache_refresh_steps": 0}, "label_cache_refresh_steps must be a positive integer"),
        ({"label_chunk_size": 2.5}, "label_chunk_size must be a non-negative integer"),
        ({"description_batch_size": 0}, "description_batch_size must be a positive integer"),
        ({"hard_negative_fraction": 1.5}, r"hard_negative_fraction must lie in \[0, 1\]"),
        ({"shortlist_size": 3}, "shortlist_size=3 needs a first stage"),
        (
            {"label_sampling": "sampled", "problem_type": "single_label_classification"},
            "label_sampling='sampled' needs a multi-label problem",
        ),
    ],
)
def test_config_rejects_bad_scale_options(options, message):
    with pytest.raises(ValueError, match=message):
        LameConfig(label_descriptions=["a", "b", "c"], **_small(**options))


@pytest.mark.parametrize("num_labels", [10, 257, 4271])
@pytest.mark.parametrize("train_py", [["--model", "lame"], ["--config", "lame_eurlex57k"]])
def test_one_rule_builds_the_same_lame_in_python_and_in_train_py(checkpoint, tmp_path, num_labels, train_py):
    from labelwise.kinds.lame import lame_model
    from labelwise.modeling.configuration_lame import SCALE_OPTIONS, scale_defaults
    from labelwise.training.arguments import parse_arguments

    names = [f"L{i}" for i in range(num_labels)]
    descriptions = {name: f"{TERMS[i % len(TERMS)]} {TERMS[(i // len(TERMS)) % len(TERMS)]}" for i, name in enumerate(names)}
    python = LameForSequenceClassification.from_pretrained(checkpoint, label_descriptions=descriptions,
                                                           label_attention_heads=4)
    args, _ = parse_arguments(train_py + ["--output_dir", str(tmp_path), "--label_attention_heads", "4"])
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    trained = lame_model(args, checkpoint, tokenizer, names, list(descriptions.values()), "multi_label_classification")
    rule = scale_defaults(num_labels)
    assert python.config.resolved_scale_options() == trained.config.resolved_scale_options() == rule
    assert (python.first_stage is None) == (trained.first_stage is None) == (num_labels <= 256)
    assert (python.document_classifier is None) == (trained.document_classifier is None) == (num_labels <= 256)
    assert python.config.effective_shortlist_size == (256 if num_labels > 256 else 0)
    # The saved config.json states what the model does, and loads back to the same model.
    python.save_pretrained(tmp_path / "python")
    saved = json.loads((tmp_path / "python" / "config.json").read_text())
    assert {field: saved[field] for field in SCALE_OPTIONS} == rule
    reloaded = LameForSequenceClassification.from_pretrained(tmp_path / "python")
    assert reloaded.config.resolved_scale_options() == rule and (reloaded.first_stage is None) == (num_labels <= 256)


def test_above_the_large_label_set_a_multi_label_run_stops_on_r_precision_unless_told_otherwise():
    # Where sampling starts, micro-F1 at 0.5 stays near 0 for epochs: the default stopping metric follows the same bound.
    from labelwise.kinds.base import best_metric

    assert [best_metric(True, n) for n in (10, 256, 257, 4271)] == ["micro_f1", "micro_f1", "r_precision", "r_precision"]
    assert best_metric(False, 4271) == "accuracy"


def test_a_checkpoint_saved_before_options_became_scale_options_keeps_what_it_was_built_with(checkpoint, tmp_path,
                                                                                              monkeypatch):
    # label_scoring, description_gradients and label_embedding_mode "auto" resolve by the label-count rule; a
    # LAME config.json without the fields was built with a row per label and every sampled description
    # encoded with gradient, whatever the rule says now, and a plain encoder's config (no descriptions) keeps "auto".
    from labelwise.modeling import large_labels_lame

    lame(checkpoint).save_pretrained(tmp_path / "old")
    saved = json.loads((tmp_path / "old" / "config.json").read_text())
    before = (saved["label_scoring"], saved["description_gradients"], saved["label_embedding_mode"],
              saved["document_classifier"])
    assert before == ("label_specific", "sample", "joint", False)
    del saved["label_scoring"], saved["description_gradients"], saved["label_embedding_mode"], saved["document_classifier"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(saved))
    rule = large_labels_lame.scale_defaults
    monkeypatch.setattr(large_labels_lame, "scale_defaults", lambda *args: {
        **rule(*args), "label_scoring": "label_agnostic", "description_gradients": "positives",
        "label_embedding_mode": "static", "document_classifier": True})
    fresh = LameConfig(label_descriptions=list(DESCRIPTIONS.values()), **_small())
    assert (fresh.label_scoring, fresh.description_gradients, fresh.label_embedding_mode, fresh.document_classifier) == (
        "label_agnostic", "positives", "static", True)  # the rule decides
    old = LameConfig.from_pretrained(tmp_path / "old")
    assert (old.label_scoring, old.description_gradients, old.label_embedding_mode, old.document_classifier) == before
    bare = LameConfig(**_small())
    assert (bare.label_scoring, bare.description_pooling, bare.similarity_term, bare.description_gradients,
            bare.label_embedding_mode) == ("auto",) * 5


def test_an_explicit_scale_option_wins_over_the_rule(checkpoint):
    model = lame(checkpoint, first_stage="bilinear", shortlist_size=5, all_label_loss=True, label_sampling="sampled")
    assert model.config.resolved_scale_options() == {"label_sampling": "sampled", "first_stage": "bilinear",
                                                     "shortlist_size": 5, "all_label_loss": True,
                                                     "label_scoring": "label_specific", "description_gradients": "sample",
                                                     "label_embedding_mode": "joint", "label_sample_negatives": 32,
                                                     "document_classifier": False}
    with pytest.raises(ValueError, match=r"all_label_loss must be one of \['auto', True, False\]"):
        LameConfig(label_descriptions=["a", "b"], all_label_loss="yes", **_small())


@pytest.mark.parametrize("embedding_mode, negatives", [("auto", 128), ("static", 128), ("joint", 32)])
def test_the_negatives_follow_how_descriptions_are_encoded_unless_given(embedding_mode, negatives):
    # Without gradient a negative costs only its head pass, so the rule affords 128; each description
    # encoded with gradient costs far more, so joint training keeps 32 (docs/BENCHMARKS.md).
    descriptions = [f"label {i}" for i in range(300)]
    config = LameConfig(label_descriptions=descriptions, label_embedding_mode=embedding_mode, **_small())
    assert config.label_sample_negatives == negatives and config.resolved_scale_options()["label_sample_negatives"] == negatives
    given = LameConfig(label_descriptions=descriptions, label_embedding_mode=embedding_mode, label_sample_negatives=7,
                       **_small())
    assert given.label_sample_negatives == 7
    assert LameConfig(**_small()).label_sample_negatives == "auto"  # no label set yet: the rule waits for one


@pytest.mark.parametrize("options, expected", [({}, True), ({"label_scoring": "label_specific"}, False),
                                                ({"problem_type": "single_label_classification"}, False),
                                                ({"document_classifier": False}, False)])
def test_the_document_classifier_sits_beside_the_label_agnostic_head_above_the_large_label_set(options, expected):
    # It was measured beside the label-agnostic head only (docs/RESULTS.md, issue 29): the paper's head,
    # one option away, stays as the paper describes it.
    config = LameConfig(label_descriptions=[f"label {i}" for i in range(300)], **_small(**options))
    assert config.document_classifier is expected and config.uses_document_classifier is expected
    assert LameConfig(label_descriptions=["a", "b", "c"], **_small()).document_classifier is False
    assert LameConfig(**_small()).document_classifier == "auto"  # no label set yet: the rule waits for one


# ------------------------------------------------------------------- sampled training
@pytest.mark.parametrize("loss_options", [{}, {"pos_weight": [float(1 + i % 3) for i in range(NUM_LABELS)]},
                                          {"loss": "f_measure"}, {"loss": "f_measure", "f_measure_average": "macro"}])
def test_sampled_training_equals_joint_training_when_the_sample_covers_every_label(checkpoint, loss_options):
    joint = lame(checkpoint, label_sampling="none", first_stage="none", **loss_options).train()
    sampled = lame(checkpoint, label_sampling="sampled", first_stage="none", label_sample_negatives=NUM_LABELS,
                   **loss_options).train()
    sampled.load_state_dict(joint.state_dict())
    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-2) for m in (joint, sampled)]
    inputs, labels = batch(), targets()
    for step in range(3):
        losses = []
        for model, optimizer in zip((joint, sampled), optimizers):
            loss = model(**inputs, labels=labels).loss
            loss.backward()
            losses.append(loss)
        torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
        for (name, a), (_, b) in zip(joint.named_parameters(), sampled.named_parameters()):
            if a.grad is not None or b.grad is not None:
                torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad()
    joint.eval(), sampled.eval()
    torch.testing.assert_close(sampled(**inputs).logits, joint(**inputs).logits, rtol=1e-4, atol=1e-5)


def test_a_sampled_step_scores_positives_hard_and_random_negatives(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4,
                 hard_negative_fraction=0.5).train()
    labels = targets()
    first_stage = torch.arange(NUM_LABELS, dtype=torch.float32).repeat(4, 1)  # label 11 scores highest
    torch.manual_seed(1)
    ids, weights = model._sample_labels(labels, first_stage)
    positives = {1, 4, 7}
    assert set(ids[:3].tolist()) == positives
    assert ids[3:5].tolist() == [11, 10]  # the two hard negatives: highest first-stage scores
    assert len(set(ids.tolist())) == 7 and not set(ids[5:].tolist()) & (positives | {10, 11})
    # 12 labels - 3 positives - 2 hard = 7 remaining, 2 drawn: each stands for 3.5 labels
    torch.testing.assert_close(weights, torch.tensor([1.0] * 5 + [3.5, 3.5]))

    # Only the sampled descriptions are encoded with gradient in a step.
    out = model(**batch(), labels=labels)
    assert out.logits.shape == (4, NUM_LABELS)
    out.loss.backward()
    assert model.classifier.weight.grad.abs().sum(1).nonzero().numel() == 7


@pytest.mark.parametrize("hard", [0.0, 0.5])
def test_sampled_loss_is_an_unbiased_estimate_of_the_all_label_loss(checkpoint, hard):
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4,
                 hard_negative_fraction=hard)
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(4, NUM_LABELS, generator=generator) * 2
    first_stage = torch.randn(4, NUM_LABELS, generator=generator)
    labels = targets()
    full = model.compute_loss(logits, labels).item()
    torch.manual_seed(0)
    estimates = []
    for _ in range(3000):
        ids, weights = model._sample_labels(labels, first_stage)
        estimates.append(model.compute_loss(logits[:, ids], labels, label_ids=ids, label_weights=weights).item())
    mean = sum(estimates) / len(estimates)
    assert mean == pytest.approx(full, rel=0.02)
    assert max(estimates) - min(estimates) > 0.05 * full  # really random: the check could fail


NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, label_attention_dropout=0.0,
                  classifier_dropout=0.0)


def test_all_label_loss_puts_every_label_in_the_loss_and_encodes_only_the_sample_with_gradient(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4,
                 all_label_loss=True).train()
    with_gradient = []
    encode = model._encode_descriptions

    def recording(label_ids=None, token_ids=None):
        if torch.is_grad_enabled():
            with_gradient.append(list(label_ids))
        return encode(label_ids, token_ids)

    model._encode_descriptions = recording
    out = model(**batch(), labels=targets())
    out.loss.backward()
    # Every label's output row and bias take part in the loss ...
    assert (model.classifier.weight.grad.abs().sum(1) > 0).all()
    assert (model.classifier.bias.grad != 0).all()
    # ... while only the 3 positives and 4 negatives were encoded with gradient.
    assert len(with_gradient) == 1 and len(with_gradient[0]) == 7 and {1, 4, 7} <= set(with_gradient[0])
    assert out.logits.shape == (4, NUM_LABELS)


@pytest.mark.parametrize("first_stage", ["none", "bilinear"])
def test_all_label_loss_equals_the_joint_loss_while_the_cache_is_fresh(checkpoint, first_stage):
    joint = lame(checkpoint, label_sampling="none", first_stage=first_stage, **NO_DROPOUT).train()
    every = lame(checkpoint, label_sampling="sampled", first_stage=first_stage, label_sample_negatives=4,
                 all_label_loss=True, **NO_DROPOUT).train()
    every.load_state_dict(joint.state_dict())
    inputs, labels = batch(), targets()
    outputs = [model(**inputs, labels=labels) for model in (joint, every)]  # the cache is encoded in this step
    torch.testing.assert_close(outputs[1].loss, outputs[0].loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs[1].logits, outputs[0].logits, rtol=1e-5, atol=1e-5)
    for output in outputs:
        output.loss.backward()
    # The head sees the same loss, so its gradients are the joint path's; the encoder's differ, since
    # only the sampled descriptions pass theirs back.
    for (name, a), (_, b) in zip(joint.named_parameters(), every.named_parameters()):
        if name.startswith(("label_blocks.", "classifier.")):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6, msg=name)
    encoder = [(a.grad, b.grad) for (name, a), (_, b) in zip(joint.named_parameters(), every.named_parameters())
               if name == "backbone.embeddings.word_embeddings.weight"]
    assert not torch.allclose(*encoder[0])
    # Without the option the same sampled model's loss covers the sample only: another value.
    sampled = lame(checkpoint, label_sampling="sampled", first_stage=first_stage, label_sample_negatives=4,
                   **NO_DROPOUT).train()
    sampled.load_state_dict(joint.state_dict())
    assert not torch.allclose(sampled(**inputs, labels=labels).loss, outputs[0].loss)


@pytest.mark.parametrize("label_scoring", ["label_specific", "label_agnostic"])
def test_output_layer_gradient_gives_the_all_label_loss_and_trains_the_blocks_on_the_sample_only(checkpoint, label_scoring):
    """`all_label_loss_gradient="output_layer"`: the same all-label loss and logits as the full
    gradient, the same output-layer gradient, but the label-attention blocks learn from the sampled
    labels only (the other labels' states are computed without gradient)."""
    options = dict(label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4, all_label_loss=True,
                   label_scoring=label_scoring, **NO_DROPOUT)
    full = lame(checkpoint, **options).train()
    output_layer = lame(checkpoint, all_label_loss_gradient="output_layer", **options).train()
    output_layer.load_state_dict(full.state_dict())
    inputs, labels = batch(), targets()
    outputs = []
    for model in (full, output_layer):
        torch.manual_seed(5)  # the same sample of negatives
        outputs.append(model(**inputs, labels=labels))
    torch.testing.assert_close(outputs[1].loss, outputs[0].loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs[1].logits, outputs[0].logits, rtol=1e-5, atol=1e-5)
    for output in outputs:
        output.loss.backward()
    grads = [dict((name, p.grad) for name, p in model.named_parameters()) for model in (full, output_layer)]
    classifier = [name for name in grads[0] if name.startswith("classifier.")]
    assert classifier
    for name in classifier:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)
    if label_scoring == "label_specific":  # every label's own row and bias are trained in every step
        assert (output_layer.classifier.weight.grad.abs().sum(1) > 0).all()
    query = "label_blocks.0.query.weight"
    assert grads[1][query] is not None and grads[1][query].abs().sum() > 0  # the sample still trains the blocks
    assert not torch.allclose(grads[1][query], grads[0][query])


def test_labels_outside_the_sample_are_scored_without_dropout_in_the_blocks(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4,
                 all_label_loss=True, all_label_loss_gradient="output_layer", hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0, classifier_dropout=0.0, label_attention_dropout=0.5).train()
    inputs, labels = batch(), targets()
    cached = model.training_label_embeddings()
    sampled = []
    sample = model._sample_labels
    model._sample_labels = lambda *args: sampled.append(sample(*args)[0]) or (sampled[0], None)
    logits = model(**inputs, labels=labels).logits
    assert model.training and all(block.training for block in model.label_blocks)  # modes restored
    outside = torch.ones(NUM_LABELS, dtype=torch.bool)
    outside[sampled[0]] = False
    model.eval()
    with torch.no_grad():
        _, tokens, mask, _ = model.encode_documents(**inputs)
        clean, _ = model.run_head(cached, None, tokens, mask, False)
    torch.testing.assert_close(logits[:, outside], clean[:, outside], rtol=1e-5, atol=1e-5)
    # The sampled labels did go through dropout: their logits differ from the clean ones.
    assert not torch.allclose(logits[:, ~outside], clean[:, ~outside], rtol=1e-3, atol=1e-4)


def test_description_gradients_positives_encodes_only_the_positives_with_gradient(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", first_stage="bilinear", label_sample_negatives=4,
                 description_gradients="positives").train()
    with_gradient = []
    encode = model._encode_descriptions
    model._encode_descriptions = lambda label_ids=None, token_ids=None: (
        with_gradient.append(sorted(label_ids)) if torch.is_grad_enabled() else None) or encode(label_ids, token_ids)
    out = model(**batch(), labels=targets())
    out.loss.backward()
    assert with_gradient == [[1, 4, 7]]  # the batch's positives; the 4 negatives came from the cache
    assert model.backbone.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    # A batch without any gold label: every sampled label reads the cache, nothing is encoded with gradient.
    with_gradient.clear()
    assert torch.isfinite(model(**batch(), labels=torch.zeros(4, NUM_LABELS)).loss) and with_gradient == []


def test_config_rejects_an_unknown_all_label_loss_gradient(checkpoint):
    with pytest.raises(ValueError, match=r"all_label_loss_gradient must be one of \['full', 'output_layer'\]"):
        LameConfig(label_descriptions=["a", "b"], all_label_loss_gradient="blocks", **_small())


def test_weighted_f_measure_counts_a_column_as_often_as_its_weight():
    p = torch.tensor([[0.9, 0.2, 0.6], [0.4, 0.7, 0.1]])
    y = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    doubled = torch.cat([p, p[:, 2:]], 1), torch.cat([y, y[:, 2:]], 1)
    weights = torch.tensor([1.0, 1.0, 2.0])
    for average in ("micro", "macro"):
        expected = f_measure_loss(*doubled, average=average)
        torch.testing.assert_close(f_measure_loss(p, y, average=average, label_weights=weights), expected)
        torch.testing.assert_close(f_measure_loss(p, y, average=average, label_weights=torch.ones(3)),
                                   f_measure_loss(p, y, average=average))


# ---------------------------------------------------------------------- training cache
def _fresh_encoding(model: LameForSequenceClassification) -> torch.Tensor:
    """Every description encoded now, as the training cache does (encoder in eval mode, no gradient)."""
    was = model.backbone.training
    model.backbone.eval()
    with torch.no_grad():
        encoded = model._encode_descriptions()
    model.backbone.train(was)
    return encoded


def test_training_cache_refreshes_on_schedule(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", label_sample_negatives=3, label_cache_refresh_steps=2).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    inputs, labels = batch(), targets()
    refreshes, stale = [], []
    for step in range(6):
        for _ in range(2):  # two micro-batches (gradient accumulation) per optimizer step
            model(**inputs, labels=labels).loss.backward()
        refreshes.append(model.label_cache_refreshes)
        stale.append(not torch.equal(model._training_cache["embeddings"], _fresh_encoding(model)))
        optimizer.step()
        optimizer.zero_grad()
    # encoded at step 0, again after 2 optimizer steps (step 2) and after 2 more (step 4)
    assert refreshes == [1, 1, 2, 2, 3, 3]
    # right after a refresh the cache is exact; one step later it lags the weights by one step
    assert stale == [False, True, False, True, False, True]


def test_training_cache_never_serves_embeddings_of_other_weights(checkpoint):
    model = lame(checkpoint, label_sampling="sampled", label_sample_negatives=3, label_cache_refresh_steps=100).train()
    inputs, labels = batch(), targets()
    model(**inputs, labels=labels)
    assert model.label_cache_refreshes == 1
    model(**inputs, labels=labels)
    assert model.label_cache_refreshes == 1  # same weights: reused

    # other weights loaded: encoded again, from the loaded weights
    other = lame(checkpoint, seed=1)
    with torch.no_grad():
        for parameter in other.backbone.parameters():
            parameter.mul_(1.1)
    model.load_state_dict(other.state_dict())
    model(**inputs, labels=labels)
    assert model.label_cache_refreshes == 2
    torch.testing.assert_close(model._training_cache["embeddings"], _fresh_encoding(other))

    # a replaced parameter (new storage, same version count) is other weights too
    embeddings = model.backbone.embeddings.word_embeddings
    embeddings.weight = torch.nn.Parameter(embeddings.weight.detach() * 2)
    model(**inputs, labels=labels)
    assert model.label_cache_refreshes == 3
    torch.testing.assert_close(model._training_cache["embeddings"], _fresh_encoding(model))

    # new descriptions are other inputs
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model.set_label_descriptions(list(reversed(DESCRIPTIONS.values())), tokenizer)
    model(**inputs, labels=labels)
    assert model.label_cache_refreshes == 4

    # eval never reads the (stale by design) training cache: it matches a model holding the same weights
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model(**inputs, labels=labels).loss.backward()
    optimizer.step()
    model.eval()
    reference = lame(checkpoint, label_sampling="sampled")
    reference.set_label_descriptions(list(reversed(DESCRIPTIONS.values())), tokenizer)
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(**inputs).logits, reference.eval()(**inputs).logits)


# --------------------------------------------------------------------- head equivalences
@pytest.mark.parametrize("light", [False, True])
def test_chunked_head_equals_unchunked(checkpoint, light):
    whole = lame(checkpoint, label_chunk_size=0, description_batch_size=NUM_LABELS, num_label_attention_blocks=2,
                 light_label_head=light).eval()
    chunked = lame(checkpoint, label_chunk_size=5, description_batch_size=5, num_label_attention_blocks=2,
                   light_label_head=light).eval()
    chunked.load_state_dict(whole.state_dict())
    inputs = batch()
    a = whole(**inputs, output_cross_attentions=True)
    b = chunked(**inputs, output_cross_attentions=True)
    torch.testing.assert_close(b.logits, a.logits, rtol=1e-5, atol=1e-6)
    for x, y in zip(a.cross_attentions, b.cross_attentions):
        torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-6)
    # training: same loss and gradients
    whole.train(), chunked.train()
    for model in (whole, chunked):
        model(**inputs, labels=targets()).loss.backward()
    for (name, p), (_, q) in zip(whole.named_parameters(), chunked.named_parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
    # descriptions encoded without gradient in chunks equal one pass
    whole.eval(), chunked.eval()
    torch.testing.assert_close(chunked.encode_label_descriptions(), whole.encode_label_descriptions(), rtol=1e-5, atol=1e-6)


def test_fused_attention_equals_the_explicit_softmax(checkpoint):
    model = lame(checkpoint, num_label_attention_blocks=2).eval()
    inputs = batch()
    with torch.no_grad():
        fused = model(**inputs).logits
        explicit = model(**inputs, output_cross_attentions=True)
    torch.testing.assert_close(fused, explicit.logits, rtol=1e-5, atol=1e-6)
    weights = explicit.cross_attentions[0]
    assert weights[0, :, :, 6:].abs().max() == 0  # padding receives no attention


def test_light_head_has_no_feed_forward_and_fewer_parameters(checkpoint):
    full = lame(checkpoint)
    light = lame(checkpoint, light_label_head=True)
    assert light.label_blocks[0].feed_forward is None and light.classifier.dense is None
    head = lambda m: sum(p.numel() for n, p in m.named_parameters() if not n.startswith("backbone."))  # noqa: E731
    assert head(light) < head(full)
    out = light.train()(**batch(), labels=targets())
    out.loss.backward()
    assert light.label_blocks[0].output.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------------------ shortlist
def test_shortlist_runs_the_head_on_the_top_k_and_ranks_the_rest_after(checkpoint):
    exact = lame(checkpoint, first_stage="bilinear").eval()
    short = lame(checkpoint, first_stage="bilinear", shortlist_size=4, label_chunk_size=3).eval()
    short.load_state_dict(exact.state_dict())
    inputs = batch()
    with torch.no_grad():
        reference = exact(**inputs, output_cross_attentions=True)
        out = short(**inputs, output_cross_attentions=True)
        listed = short.shortlist_labels(**inputs)
        first_stage = exact.first_stage(
            masked_mean(exact.backbone(**inputs).last_hidden_state, inputs["attention_mask"]),
            exact.encode_label_descriptions(),
        )
    assert listed.shape == (4, 4)
    assert torch.equal(listed, first_stage.topk(4, dim=-1).indices)
    for doc in range(4):
        ids = listed[doc]
        torch.testing.assert_close(out.logits[doc, ids], reference.logits[doc, ids], rtol=1e-5, atol=1e-6)
        rest = torch.ones(NUM_LABELS, dtype=torch.bool)
        rest[ids] = False
        assert out.logits[doc, rest].max() < out.logits[doc, ids].min()  # strictly: no ties with the shortlist
        expected_rest = torch.minimum(first_stage[doc, rest], reference.logits[doc, ids].min())
        torch.testing.assert_close(out.logits[doc, rest], expected_rest, rtol=1e-5, atol=1e-6)
        weights = out.cross_attentions[-1][doc]  # (heads, labels, tokens)
        torch.testing.assert_close(weights[:, ids], reference.cross_attentions[-1][doc][:, ids], rtol=1e-5, atol=1e-6)
        assert weights[:, rest].abs().max() == 0
    # the exact mode stays available: a shortlist as long as the label set is the exact head
    full = lame(checkpoint, first_stage="bilinear", shortlist_size=NUM_LABELS).eval()
    full.load_state_dict(exact.state_dict())
    torch.testing.assert_close(full(**inputs).logits, reference.logits, rtol=1e-5, atol=1e-6)
    # training never shortlists: the head scores every label
    short.train()
    assert torch.allclose(short(**inputs).logits, exact.train()(**inputs).logits, atol=1e-5)


def test_shortlist_recall_counts_gold_pairs_inside_the_shortlists():
    gold = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    lists = torch.tensor([[0, 1], [3, 2], [1, 2]])
    assert shortlist_recall(lists, gold) == pytest.approx(2 / 3)  # doc 0 misses label 2
    assert shortlist_recall(lists[2:], gold[2:]) == 1.0
    with pytest.raises(ValueError, match="2 shortlists for 3 documents"):
        shortlist_recall(lists[:2], gold)


# ------------------------------------------------------------------- saving and loading
@pytest.mark.slow
def test_every_scale_option_survives_save_and_load_without_labelwise(checkpoint, tmp_path):
    options = dict(
        label_sampling="sampled",
        label_sample_negatives=3,
        all_label_loss=True,
        hard_negative_fraction=0.25,
        label_cache_refresh_steps=7,
        first_stage="bilinear",
        first_stage_loss_weight=0.5,
        shortlist_size=5,
        label_chunk_size=4,
        description_batch_size=5,
        light_label_head=True,
    )
    model = lame(checkpoint, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()(**batch(), labels=targets()).loss.backward()  # a sampled step, so nothing is left at init
    optimizer.step()
    model.eval()
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path)
    inputs = batch()
    with torch.no_grad():
        expected = model(**inputs).logits.tolist()
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification
model = AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
inputs = {{k: torch.tensor(v) for k, v in {json.dumps({k: v.tolist() for k, v in inputs.items()})}.items()}}
with torch.no_grad():
    logits = model(**inputs).logits.tolist()
model.train()
labels = torch.zeros(4, {NUM_LABELS}); labels[0, 1] = 1
loss = model(**inputs, labels=labels).loss.item()
fields = {{k: getattr(model.config, k) for k in {sorted(options)!r}}}
print(json.dumps({{"logits": logits, "fields": fields, "loss": loss, "refreshes": model.label_cache_refreshes,
                  "light": model.classifier.dense is None and model.label_blocks[0].feed_forward is None}}))
"""
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["fields"] == options
    assert payload["light"] and payload["refreshes"] == 1  # sampled training ran from remote code
    assert payload["loss"] > 0
    for row, reference in zip(payload["logits"], expected):
        assert row == pytest.approx(reference, abs=1e-5)


# ---------------------------------------------------------------------------- train.py
def test_train_py_passes_the_scale_options_to_the_model(checkpoint, tmp_path):
    """Sampled training, a shortlist at evaluation, chunks and the light head through the Trainer."""
    from labelwise.training.cli import run

    options = {
        "label_sampling": "sampled", "label_sample_negatives": 2, "all_label_loss": True,
        "all_label_loss_gradient": "output_layer", "hard_negative_fraction": 0.5,
        "label_cache_refresh_steps": 1, "first_stage": "bilinear", "first_stage_loss_weight": 0.5,
        "shortlist_size": 3, "label_chunk_size": 2, "description_batch_size": 3, "light_label_head": True,
    }
    flags = [item for key, value in options.items() for item in (f"--{key}", str(value).lower())]
    summary = run([
        "--model_name_or_path", str(checkpoint), "--output_dir", str(tmp_path), "--max_train_samples", "16",
        "--max_eval_samples", "8", "--num_train_epochs", "1", "--per_device_train_batch_size", "8",
        "--label_attention_heads", "4", "--max_length", "64", "--disable_tqdm", "true", *flags,
    ])
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert {key: config[key] for key in options} == options
    for split in ("validation", "test"):
        assert 0.0 <= summary["metrics"][split]["micro_f1"] <= 1.0


def test_first_stage_reuses_projected_labels_only_for_the_same_weights(checkpoint):
    model = lame(checkpoint, first_stage="bilinear").eval()
    inputs = batch()
    with torch.no_grad():
        before = model(**inputs).logits
        projected = model.first_stage._projected[2]
        assert torch.equal(model(**inputs).logits, before) and model.first_stage._projected[2] is projected
        model.first_stage.label.weight.mul_(2.0)  # in place, as an optimizer step
        after = model(**inputs).logits
    assert model.first_stage._projected[2] is not projected
    reference = lame(checkpoint, first_stage="bilinear").eval()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(after, reference(**inputs).logits)


def test_pipeline_explains_a_shortlisted_model(checkpoint):
    """The pipeline reads row i of the attention as label i: shortlisted rows keep that order."""
    from transformers import pipeline

    model = lame(checkpoint, first_stage="bilinear", shortlist_size=3).eval()
    classify = pipeline("label-attention-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(checkpoint))
    text = "Patients showed severe rash after the drug."
    result = classify(text, threshold=0.0, top_k_evidence=2)
    assert {entry["label"] for entry in result["labels"]} == set(DESCRIPTIONS)
    with_evidence = [entry for entry in result["labels"] if sum(result["word_weights"][entry["label"]]) > 0]
    assert len(with_evidence) == 3  # the shortlist; the other labels were not attended
    # Unscored labels never score above the shortlist (their logits are strictly lower; after the
    # sigmoid in float32 the lowest shortlisted probability may be reached, not passed).
    others = [entry["score"] for entry in result["labels"] if entry not in with_evidence]
    assert max(others) <= min(entry["score"] for entry in with_evidence)


@pytest.mark.parametrize("description_batch_size", [NUM_LABELS, 5])
def test_label_caches_hold_one_vector_per_label_not_the_descriptions_token_states(checkpoint, description_batch_size):
    model = lame(checkpoint, label_sampling="sampled", description_batch_size=description_batch_size)
    hidden = model.config.hidden_size
    eval_cache = model.eval().encode_label_descriptions()
    training_cache = model.train().training_label_embeddings()
    for cached in (eval_cache, training_cache):
        assert cached.shape == (NUM_LABELS, hidden)
        assert cached.untyped_storage().nbytes() == NUM_LABELS * hidden * cached.element_size()


# ---------------------------------------------------------------- description encoding in length chunks
def test_length_chunks_keep_every_padded_batch_at_least_half_real():
    lengths = [3, 40, 4, 9, 5, 64, 30, 8, 17, 3]
    chunks = length_chunks(lengths)
    assert sorted(sum(chunks, [])) == list(range(len(lengths)))  # every description once
    for chunk in chunks:
        widths = [lengths[i] for i in chunk]
        assert max(widths) <= 2 * min(widths)  # padded to the longest, so at least half real tokens
    assert [lengths[chunk[0]] for chunk in chunks] == sorted(lengths[chunk[0]] for chunk in chunks)
    assert all(len(chunk) <= 2 for chunk in length_chunks(lengths, max_rows=2))
    assert length_chunks([]) == []


@pytest.mark.parametrize("grad", [True, False])
def test_chunked_description_encoding_equals_one_padded_batch_with_gradients(checkpoint, grad):
    descriptions = {f"L{i}": " ".join(TERMS[:1 + (i * 7) % 23]) for i in range(NUM_LABELS)}  # 1 to 23 words
    model = lame(checkpoint, label_descriptions=descriptions, description_batch_size=3).eval()
    token_ids = model.config.label_description_token_ids
    assert len(length_chunks([len(ids) for ids in token_ids])) > 1  # the lengths do split into chunks
    sample = [9, 2, 7, 0, 11]
    with torch.set_grad_enabled(grad):
        chunked = model._encode_descriptions(sample)
        input_ids, mask = model._description_batch(chunked.device, sample)  # one batch, padded to the longest
        single = model._pool_description(model.backbone(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask)
    torch.testing.assert_close(chunked, single, rtol=0, atol=1e-5)
    if grad:
        weights = torch.randn_like(chunked)
        first = torch.autograd.grad((chunked * weights).sum(), model.backbone.embeddings.word_embeddings.weight)[0]
        second = torch.autograd.grad((single * weights).sum(), model.backbone.embeddings.word_embeddings.weight)[0]
        assert first.abs().sum() > 0
        torch.testing.assert_close(first, second, rtol=1e-5, atol=1e-4)
