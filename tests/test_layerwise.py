"""LayerwiseConfig / LayerwiseBertForHierarchicalClassification / hierarchical-classification pipeline.

Everything runs on tiny random BERT encoders written by the tests (width 32; 12 layers where the
paper's 12-layer variants are checked).
"""

from __future__ import annotations

import json

import pytest
import torch
from helpers import run_python_without_labelwise, tiny_bert_checkpoint
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertModel,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    pipeline,
)

from labelwise.modeling.configuration_layerwise import LayerwiseConfig
from labelwise.modeling.guidance_layerwise import resolve_guidance, same_wiring
from labelwise.modeling.modeling_layerwise import LayerwiseBertForHierarchicalClassification
from labelwise.modeling.pipeline_layerwise import HierarchicalClassificationPipeline, register_layerwise_pipeline

# The paper's section 3 / Figure 1 for BERT-BASE (12 layers) and a 6-level hierarchy, written out by
# hand from the text rather than from the implementation.
PAPER_12_LAYERS_6_LEVELS = {
    "flat": {1: [12], 2: [12], 3: [12], 4: [12], 5: [12], 6: [12]},
    "last_six": {1: [7], 2: [8], 3: [9], 4: [10], 5: [11], 6: [12]},
    "one_by_one": {1: [2], 2: [4], 3: [6], 4: [8], 5: [10], 6: [12]},
    "in_pairs": {1: [1, 2], 2: [3, 4], 3: [5, 6], 4: [7, 8], 5: [9, 10], 6: [11, 12]},
    "hybrid": {1: [4], 2: [5], 3: [6, 7], 4: [8, 9], 5: [10, 11], 6: [12]},
}

# A 6-level toy hierarchy whose label ids are deliberately not sorted by level, so that any mix-up
# between level order and id order shows. parents: ids of each label's parents (7 has two).
NAMES = ["trade", "fish", "import", "export", "market", "product", "tuna", "frozen tuna", "canned tuna", "agriculture"]
LEVELS = [1, 2, 3, 3, 2, 4, 5, 6, 6, 1]
PARENTS = [[], [9], [0], [0], [0], [1, 2], [5], [6], [6], []]


def label_kwargs(**overrides) -> dict:
    values = dict(
        label_levels=LEVELS,
        label_parents=PARENTS,
        id2label=dict(enumerate(NAMES)),
        label2id={name: i for i, name in enumerate(NAMES)},
    )
    values.update(overrides)
    return values


@pytest.fixture(scope="module")
def bert12(tmp_path_factory) -> str:
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert12"), num_hidden_layers=12)


@pytest.fixture(scope="module")
def bert6(tmp_path_factory) -> str:
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert6"), num_hidden_layers=6, seed=1)


@pytest.fixture(scope="module")
def registered():
    """Register with the Auto classes (as `labelwise.modeling` does for its architectures)."""
    AutoConfig.register(LayerwiseConfig.model_type, LayerwiseConfig, exist_ok=True)
    AutoModel.register(LayerwiseConfig, LayerwiseBertForHierarchicalClassification, exist_ok=True)
    AutoModelForSequenceClassification.register(LayerwiseConfig, LayerwiseBertForHierarchicalClassification, exist_ok=True)
    # save_pretrained copies the remote-code files only for classes registered for an auto class.
    LayerwiseConfig.register_for_auto_class()
    LayerwiseBertForHierarchicalClassification.register_for_auto_class("AutoModelForSequenceClassification")
    register_layerwise_pipeline()


def batch(size: int = 3, length: int = 9, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 90, (size, length), generator=generator)
    input_ids[:, 0] = 2  # [CLS]
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, length // 2 :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def model_from(checkpoint: str, **kwargs) -> LayerwiseBertForHierarchicalClassification:
    return LayerwiseBertForHierarchicalClassification.from_pretrained(checkpoint, **label_kwargs(**kwargs)).eval()


# ------------------------------------------------------------------------------ config
@pytest.mark.parametrize("guidance", sorted(PAPER_12_LAYERS_6_LEVELS))
def test_named_variants_match_the_paper_for_12_layers_and_6_levels(guidance):
    assert resolve_guidance(guidance, num_levels=6, num_layers=12) == PAPER_12_LAYERS_6_LEVELS[guidance]
    config = LayerwiseConfig(guidance=guidance, num_hidden_layers=12, **label_kwargs())
    assert config.layer_assignment == PAPER_12_LAYERS_6_LEVELS[guidance]


def test_variant_names_are_normalised():
    assert LayerwiseConfig(guidance="LAST-SIX", num_hidden_layers=12, **label_kwargs()).guidance == "last_six"


def test_generalisation_rule_for_a_6_layer_encoder_and_4_levels():
    # MiniLM-L6 depth with a 4-level hierarchy: the rule in resolve_guidance's docstring.
    assert resolve_guidance("flat", 4, 6) == {1: [6], 2: [6], 3: [6], 4: [6]}
    assert resolve_guidance("last_six", 4, 6) == {1: [3], 2: [4], 3: [5], 4: [6]}
    assert resolve_guidance("hybrid", 4, 6) == {1: [2], 2: [3], 3: [4, 5], 4: [6]}
    assert resolve_guidance("one_by_one", 3, 6) == {1: [2], 2: [4], 3: [6]}
    assert resolve_guidance("in_pairs", 3, 6) == {1: [1, 2], 2: [3, 4], 3: [5, 6]}
    with pytest.raises(ValueError, match=r"'one_by_one' cannot map 4 hierarchy levels onto a 6-layer encoder.*at least 8"):
        resolve_guidance("one_by_one", 4, 6)
    with pytest.raises(ValueError, match=r"'in_pairs' cannot map 4 hierarchy levels onto a 6-layer encoder.*at least 8"):
        resolve_guidance("in_pairs", 4, 6)
    with pytest.raises(ValueError, match=r"'last_six' cannot map 6 hierarchy levels onto a 4-layer encoder"):
        LayerwiseConfig(guidance="last_six", num_hidden_layers=4, **label_kwargs())
    with pytest.raises(ValueError, match="'hybrid' needs at least 3 hierarchy levels"):
        resolve_guidance("hybrid", 2, 12)


def test_variants_that_coincide_on_a_shallow_shape_are_named():
    # Our EURLEX57K benchmark shape: 3 levels on MiniLM's 6 layers. HYBRID has no middle levels to
    # pair, so it is LAST-SIX; the other variants all differ.
    assert resolve_guidance("hybrid", 3, 6) == resolve_guidance("last_six", 3, 6) == {1: [4], 2: [5], 3: [6]}
    assert same_wiring("hybrid", 3, 6) == ["last_six"]
    assert same_wiring("LAST-SIX", 3, 6) == ["hybrid"]
    assert same_wiring("in_pairs", 3, 6) == []
    assert same_wiring("hybrid", 6, 12) == []  # the paper's shape: five different models
    # One level: every single-layer variant puts it on the last layer; hybrid cannot map it and is skipped.
    assert same_wiring("flat", 1, 6) == ["last_six", "one_by_one"]


def test_training_warns_when_guidance_repeats_another_variant(caplog):
    from labelwise.kinds.layerwise import warn_if_wiring_repeats

    three_levels = dict(label_levels=[1, 2, 3], label_parents=[[], [0], [1]], id2label={0: "a", 1: "b", 2: "c"})
    with caplog.at_level("WARNING", logger="labelwise.kinds.layerwise"):
        warn_if_wiring_repeats(LayerwiseConfig(guidance="hybrid", num_hidden_layers=6, **three_levels), "hybrid")
    assert "--guidance hybrid with 3 hierarchy levels on a 6-layer encoder" in caplog.text
    assert "exactly as last_six does" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="labelwise.kinds.layerwise"):
        warn_if_wiring_repeats(LayerwiseConfig(guidance="in_pairs", num_hidden_layers=6, **three_levels), "in_pairs")
        warn_if_wiring_repeats(LayerwiseConfig(guidance="hybrid", num_hidden_layers=12, **label_kwargs()), "hybrid")
    assert caplog.text == ""


def test_default_guidance_is_last_six_and_weights_are_level_shares():
    config = LayerwiseConfig(num_hidden_layers=12, **label_kwargs())
    assert config.guidance == "last_six"
    # |L_n| / |L| with |L| = 10: levels have 2, 2, 2, 1, 1, 2 labels.
    assert config.level_loss_weights == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.1, 0.2])
    assert config.level_label_ids() == [[0, 9], [1, 4], [2, 3], [5], [6], [7, 8]]
    assert config.problem_type == "multi_label_classification"
    named = LayerwiseConfig(label_levels=[1, 2], id2label={0: "a", 1: "b"}, num_hidden_layers=2)
    assert named.label2id == {"a": 0, "b": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(layer_assignment={1: [1], 2: [2], 3: [3], 4: [4], 5: [5], 6: [13]}), r"layer_assignment\[6\] uses layer\(s\) \[13\].*layers 1..12"),
        (dict(layer_assignment={1: [0], 2: [2], 3: [3], 4: [4], 5: [5], 6: [6]}), r"layer_assignment\[1\] uses layer\(s\) \[0\]"),
        (dict(layer_assignment={1: [1], 2: [2], 3: [3], 4: [4], 5: [5], 6: []}), r"layer_assignment\[6\] is empty"),
        (dict(layer_assignment={1: [1], 2: [2], 3: [3], 4: [4], 5: [5]}), r"covers levels \[1, 2, 3, 4, 5\] but label_levels has levels 1..6"),
        (dict(layer_assignment={n: [n] for n in range(1, 8)}), r"covers levels \[1, 2, 3, 4, 5, 6, 7\]"),
        (dict(layer_assignment={n: [1, 1] for n in range(1, 7)}), r"repeats a layer"),
        (dict(guidance="last_six", layer_assignment={n: [n] for n in range(1, 7)}), r"does not match guidance='last_six'"),
        (dict(label_levels=[1, 2, 3, 4, 5, 7, 5, 7, 7, 1]), r"levels \[6\] have no labels"),
        (dict(label_levels=[1, 2]), r"label_levels has 2 entries but there are 10 labels"),
        (dict(label_levels=[0] + LEVELS[1:]), r"label_levels\[0\] \(label 'trade'\) is 0"),
        (dict(level_loss_weights=[1.0, 1.0]), r"2 values for 6 hierarchy levels"),
        (dict(label_parents=PARENTS[:3]), r"label_parents has 3 entries for 10 labels"),
        (dict(label_parents=[[10]] + PARENTS[1:]), r"label_parents\[0\] \(label 'trade'\) names parent id 10"),
        (dict(label_parents=[[2]] + PARENTS[1:]), r"cycle"),
        (dict(label_parents=None, hierarchical_consistency=True), r"hierarchical_consistency=True needs label_parents"),
        (dict(guidance="deepest"), r"guidance must be one of"),
        (dict(id2label=dict(enumerate(NAMES[:-1] + ["trade"])), label2id=None), r"label 'trade' appears twice in id2label \(ids 0 and 9\)"),
    ],
)
def test_impossible_configurations_fail_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        LayerwiseConfig(num_hidden_layers=12, **label_kwargs(**overrides))


def test_config_json_states_the_resolved_assignment_and_round_trips(tmp_path):
    config = LayerwiseConfig(guidance="hybrid", num_hidden_layers=12, hierarchical_consistency=True, **label_kwargs())
    config.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["layer_assignment"] == {str(k): v for k, v in PAPER_12_LAYERS_6_LEVELS["hybrid"].items()}
    assert stored["level_loss_weights"] == pytest.approx([0.2, 0.2, 0.2, 0.1, 0.1, 0.2])
    assert stored["auto_map"]["AutoModelForSequenceClassification"].startswith("modeling_layerwise.")
    again = LayerwiseConfig.from_pretrained(tmp_path)
    assert again.layer_assignment == PAPER_12_LAYERS_6_LEVELS["hybrid"]
    assert again.to_dict() == config.to_dict()
    # Overrides go through validation and re-resolve a named variant instead of keeping it stale.
    assert LayerwiseConfig.from_pretrained(tmp_path, guidance="one_by_one").layer_assignment == PAPER_12_LAYERS_6_LEVELS["one_by_one"]
    custom = {n: [13 - n] for n in range(1, 7)}
    overridden = LayerwiseConfig.from_pretrained(tmp_path, layer_assignment=custom)
    assert overridden.layer_assignment == custom and overridden.guidance is None
    with pytest.raises(ValueError, match=r"layer_assignment\[1\] uses layer\(s\) \[40\]"):
        LayerwiseConfig.from_pretrained(tmp_path, layer_assignment={n: [40] for n in range(1, 7)})
    # A new label set replaces the stored names, parents, weights and the variant's assignment.
    relabelled = LayerwiseConfig.from_pretrained(tmp_path, label_levels=[1, 2, 2, 3], hierarchical_consistency=False)
    assert relabelled.labels == ["LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3"]
    assert relabelled.label_parents is None
    assert relabelled.level_loss_weights == pytest.approx([0.25, 0.5, 0.25])
    assert relabelled.layer_assignment == {1: [10], 2: [11], 3: [12]}  # hybrid, 3 levels on 12 layers


# ------------------------------------------------------------------------------ wiring
def head_inputs(model, inputs) -> tuple[list[torch.Tensor], tuple[torch.Tensor, ...]]:
    """What each level classifier actually received, plus all hidden states."""
    seen: list[torch.Tensor] = []
    hooks = [head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach())) for head in model.classifiers]
    try:
        output = model(**inputs, output_hidden_states=True)
    finally:
        for hook in hooks:
            hook.remove()
    return seen, output.hidden_states


@pytest.mark.parametrize("guidance", sorted(PAPER_12_LAYERS_6_LEVELS))
def test_each_variant_feeds_the_right_layers_cls_to_each_level(bert12, guidance):
    model = model_from(bert12, guidance=guidance)
    inputs = batch()
    seen, hidden_states = head_inputs(model, inputs)
    assert len(hidden_states) == 13  # embeddings + 12 layers
    for level, layers in PAPER_12_LAYERS_6_LEVELS[guidance].items():
        expected = torch.cat([hidden_states[layer][:, 0] for layer in layers], dim=-1)
        assert model.classifiers[level - 1].in_features == 32 * len(layers)
        torch.testing.assert_close(seen[level - 1], expected, rtol=0, atol=0)
        # ...and no other layer's [CLS] would have matched (random layers all differ).
        others = [layer for layer in range(1, 13) if layer not in layers]
        assert not any(torch.allclose(seen[level - 1][:, :32], hidden_states[o][:, 0]) for o in others)


def test_a_level_depends_only_on_the_layers_up_to_its_own(bert12):
    # LAST-SIX: level 1 reads layer 7, so layers 8..12 get no gradient from its loss.
    model = model_from(bert12, guidance="last_six").train()
    output = model(**batch())
    output.level_logits[0].sum().backward()
    encoder_layers = model.backbone.encoder.layer
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder_layers[6].parameters() if p.requires_grad)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for layer in encoder_layers[7:] for p in layer.parameters())


def test_logits_are_in_label_id_order(bert6):
    model = model_from(bert6)
    output = model(**batch())
    assert output.logits.shape == (3, len(NAMES))
    for ids, level_logits in zip(model.config.level_label_ids(), output.level_logits):
        torch.testing.assert_close(output.logits[:, ids], level_logits, rtol=0, atol=0)


def test_warm_start_loads_the_encoder_bit_identical_and_keeps_sdpa(bert12):
    model = model_from(bert12, guidance="in_pairs")
    reference = BertModel.from_pretrained(bert12).state_dict()
    own = model.backbone.state_dict()
    assert own.keys() <= reference.keys() and len(own) > 100
    assert all(torch.equal(own[key], reference[key]) for key in own)
    assert model.config._attn_implementation == "sdpa"
    # Attention maps for the utilisation analysis: switch to eager on demand.
    model.set_attn_implementation("eager")
    assert len(model(**batch(), output_attentions=True).attentions) == 12


# ------------------------------------------------------------------------------ loss
def manual_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits.double())
    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()


def test_loss_is_the_weighted_sum_of_per_level_bce(bert6):
    weights = [0.5, 2.0, 1.0, 0.0, 3.0, 0.25]
    model = model_from(bert6, level_loss_weights=weights)
    labels = torch.tensor([[1, 1, 0, 1, 0, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
    output = model(**batch(), labels=labels)
    expected = sum(
        w * manual_bce(output.logits[:, ids], labels[:, ids].double())
        for w, ids in zip(weights, model.config.level_label_ids())
    )
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_default_weights_make_the_loss_equal_to_flat_bce_over_all_labels(bert6):
    model = model_from(bert6)
    labels = (torch.rand(3, len(NAMES), generator=torch.Generator().manual_seed(3)) > 0.5).float()
    output = model(**batch(), labels=labels)
    assert output.loss.item() == pytest.approx(manual_bce(output.logits, labels.double()).item(), rel=1e-5)


def test_labels_of_the_wrong_shape_are_rejected(bert6):
    with pytest.raises(ValueError, match=r"labels must be multi-hot of shape \(batch_size, num_labels\)=\(3, 10\)"):
        model_from(bert6)(**batch(), labels=torch.zeros(3, 4))


# ------------------------------------------------------------------------ consistency
def test_consistency_caps_children_by_all_parents_parents_first(bert6):
    model = model_from(bert6)
    #                  trade fish import export market product tuna f.tuna c.tuna agri
    scores = torch.tensor([[0.9, 0.6, 0.95, 0.1, 0.7, 0.99, 0.3, 0.8, 0.2, 0.5]])
    capped = model.apply_hierarchical_consistency(scores)
    # fish <= agri (0.5); import <= trade; product <= min(fish', import') = 0.5;
    # tuna <= product' ; frozen tuna <= tuna' (0.3); canned tuna stays 0.2.
    expected = torch.tensor([[0.9, 0.5, 0.9, 0.1, 0.7, 0.5, 0.3, 0.3, 0.2, 0.5]])
    torch.testing.assert_close(capped, expected)
    torch.testing.assert_close(scores, torch.tensor([[0.9, 0.6, 0.95, 0.1, 0.7, 0.99, 0.3, 0.8, 0.2, 0.5]]))


def test_consistency_applies_in_eval_mode_only_and_never_to_the_loss(bert6):
    model = model_from(bert6, hierarchical_consistency=True)
    # Random heads rarely violate the hierarchy; make every child outscore its parents.
    with torch.no_grad():
        for level, head in enumerate(model.classifiers, start=1):
            head.bias.fill_(float(level))
    inputs, labels = batch(), torch.ones(3, len(NAMES))
    raw = model(**inputs, labels=labels, hierarchical_consistency=False)
    consistent = model(**inputs, labels=labels)
    assert not torch.equal(raw.logits, consistent.logits)
    torch.testing.assert_close(consistent.logits, model.apply_hierarchical_consistency(raw.logits))
    assert consistent.loss == raw.loss
    for child, parents in enumerate(PARENTS):
        for parent in parents:
            assert (consistent.logits[:, child] <= consistent.logits[:, parent]).all()
    model.train()
    torch.testing.assert_close(model(**inputs).logits, raw.logits)


def test_predict_levels_thresholds_per_level_and_respects_the_hierarchy(bert6):
    model = model_from(bert6, hierarchical_consistency=True)
    with torch.no_grad():
        for level, head in enumerate(model.classifiers, start=1):
            head.bias.fill_(float(level) - 3.0)
    for threshold in (0.1, 0.3, 0.5, 0.7, 0.9):
        levels = model.predict_levels(**batch(), threshold=threshold)
        assert [p.level for p in levels] == [1, 2, 3, 4, 5, 6]
        assert levels[1].labels == ["fish", "market"]
        assert levels[1].probabilities.shape == (3, 2)
        for document in range(3):
            predicted = {i for p in levels for column, i in enumerate(p.label_ids) if p.predicted[document, column]}
            for label in predicted:
                assert set(PARENTS[label]) <= predicted, (threshold, NAMES[label])
    # Without consistency the deepest labels (bias +3) are predicted without their parents.
    raw = model.predict_levels(**batch(), threshold=0.5, hierarchical_consistency=False)
    assert raw[5].predicted.all() and not raw[0].predicted.any()


# ------------------------------------------------------------------- save / load / hub
def test_save_load_round_trip_and_auto_classes(bert6, tmp_path, registered):
    model = model_from(bert6, guidance="flat")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "modeling_layerwise.py").is_file() and (tmp_path / "configuration_layerwise.py").is_file()
    inputs = batch()
    for loader in (LayerwiseBertForHierarchicalClassification, AutoModelForSequenceClassification, AutoModel):
        again = loader.from_pretrained(tmp_path).eval()
        assert type(again) is LayerwiseBertForHierarchicalClassification
        assert again.config.layer_assignment == {n: [6] for n in range(1, 7)}
        torch.testing.assert_close(again(**inputs).logits, model(**inputs).logits)


def test_text_classification_pipeline_gives_sigmoid_scores(bert6, registered):
    model = model_from(bert6)
    tokenizer = AutoTokenizer.from_pretrained(bert6)
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)
    scores = {item["label"]: item["score"] for item in pipe(["fish import trade"])[0]}
    logits = model(**tokenizer("fish import trade", return_tensors="pt")).logits[0]
    assert scores == pytest.approx({name: torch.sigmoid(logits[i]).item() for i, name in enumerate(NAMES)}, abs=1e-6)


def test_hierarchical_classification_pipeline(bert6, registered):
    model = model_from(bert6)
    tokenizer = AutoTokenizer.from_pretrained(bert6)
    pipe = pipeline("hierarchical-classification", model=model, tokenizer=tokenizer)
    assert isinstance(pipe, HierarchicalClassificationPipeline)
    everything = pipe("fish import trade", threshold=0.0)
    assert [entry["level"] for entry in everything] == [1, 2, 3, 4, 5, 6]
    assert sorted(item["label"] for item in everything[0]["labels"]) == ["agriculture", "trade"]
    with torch.no_grad():
        probabilities = torch.sigmoid(model(**tokenizer("fish import trade", return_tensors="pt")).logits[0])
    for entry in everything:
        scores = [item["score"] for item in entry["labels"]]
        assert scores == sorted(scores, reverse=True)
        for item in entry["labels"]:
            assert item["score"] == pytest.approx(probabilities[NAMES.index(item["label"])].item(), abs=1e-6)
    median = float(probabilities.median())
    kept = pipe("fish import trade", threshold=median)
    assert sum(len(entry["labels"]) for entry in kept) == int((probabilities >= median).sum())
    assert len(pipe(["fish import", "the law"])) == 2
    with pytest.raises(ValueError, match="threshold must be a probability"):
        pipe("fish", threshold=2.0)


@pytest.mark.slow
def test_remote_code_without_labelwise_model_and_pipeline(bert6, tmp_path, registered):
    model = model_from(bert6, guidance="last_six", hierarchical_consistency=True)
    tokenizer = AutoTokenizer.from_pretrained(bert6)
    pipe = pipeline("hierarchical-classification", model=model, tokenizer=tokenizer)
    pipe.save_pretrained(tmp_path)
    assert (tmp_path / "pipeline_layerwise.py").is_file()
    text = "fish import trade"
    expected_logits = model(**tokenizer(text, return_tensors="pt")).logits[0].tolist()
    expected_pipe = pipe(text, threshold=0.0)
    answer_file = tmp_path / "answer.json"
    code = (
        "import json, torch\n"
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline\n"
        f"folder, text = {str(tmp_path)!r}, {text!r}\n"
        "model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "logits = model(**tokenizer(text, return_tensors='pt')).logits[0].tolist()\n"
        "pipe = pipeline(model=folder, trust_remote_code=True)\n"
        "answer = {'module': type(model).__module__, 'pipe': type(pipe).__name__, 'logits': logits,\n"
        "          'levels': pipe(text, threshold=0.0)}\n"
        f"open({str(answer_file)!r}, 'w').write(json.dumps(answer))\n"
    )
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(answer_file.read_text())
    assert answer["module"].startswith("transformers_modules.")
    assert answer["pipe"] == "HierarchicalClassificationPipeline"
    assert answer["logits"] == pytest.approx(expected_logits, abs=1e-6)
    assert [entry["level"] for entry in answer["levels"]] == [entry["level"] for entry in expected_pipe]
    for remote, local in zip(answer["levels"], expected_pipe):
        remote_scores = {item["label"]: item["score"] for item in remote["labels"]}
        assert remote_scores == pytest.approx({item["label"]: item["score"] for item in local["labels"]}, abs=1e-6)


# ------------------------------------------------------------------------------ trainer
@pytest.mark.slow
def test_trainer_trains_and_evaluates_with_accumulation(bert6, tmp_path):
    model = model_from(bert6, guidance="last_six", hierarchical_consistency=True)
    assert model.accepts_loss_kwargs is False  # the Trainer must not rescale our loss (hf5-notes)
    tokenizer = AutoTokenizer.from_pretrained(bert6)
    texts = ["fish import trade", "the law of the council", "tuna fish market", "agriculture product trade"]
    targets = [[1, 1, 1, 0, 0, 1, 1, 1, 0, 1], [0] * 10, [1, 1, 0, 0, 1, 1, 1, 0, 1, 1], [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]]
    rows = [dict(tokenizer(text), labels=[float(v) for v in target]) for text, target in zip(texts, targets)]
    before = [head.weight.detach().clone() for head in model.classifiers]
    seen = {}

    def compute_metrics(prediction):
        seen["predictions"] = prediction.predictions
        return {"mean_score": float(prediction.predictions.mean())}

    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=2,
        learning_rate=1e-2,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        per_device_eval_batch_size=4,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=rows,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
    )
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert all(not torch.equal(b, head.weight) for b, head in zip(before, model.classifiers))
    metrics = trainer.evaluate()
    # keys_to_ignore_at_inference: compute_metrics gets the (N, num_labels) logits alone, and in
    # eval mode they are hierarchy-consistent (config.hierarchical_consistency=True).
    predictions = torch.as_tensor(seen["predictions"])
    assert predictions.shape == (4, len(NAMES)) and "eval_loss" in metrics
    for child, parents in enumerate(PARENTS):
        for parent in parents:
            assert (predictions[:, child] <= predictions[:, parent]).all()


# ------------------------------------------------------------------ layer pooling (issue 17)
def test_mean_pooling_ignores_padding(bert6):
    model = LayerwiseBertForHierarchicalClassification.from_pretrained(
        bert6, guidance="last_six", layer_pooling="mean", **label_kwargs()
    ).eval()
    states = torch.randn(2, 5, model.config.hidden_size)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    states[0, 3:] = 1e4  # whatever sits under padding must not count
    pooled = model.pool_layer(states, mask)
    torch.testing.assert_close(pooled[0], states[0, :3].mean(0))
    torch.testing.assert_close(pooled[1], states[1].mean(0))
    # The whole model: one document alone, and padded to the length of a longer one, scores the same.
    short = torch.tensor([[2, 5, 6, 7, 3]])
    padded = torch.tensor([[2, 5, 6, 7, 3, 0, 0, 0], [2, 5, 6, 7, 8, 9, 10, 3]])
    with torch.no_grad():
        alone = model(input_ids=short, attention_mask=torch.ones_like(short)).logits
        batch = model(input_ids=padded, attention_mask=torch.tensor([[1] * 5 + [0] * 3, [1] * 8])).logits
    torch.testing.assert_close(batch[0], alone[0], atol=1e-5, rtol=1e-5)


def test_cls_and_mean_pooling_differ_and_survive_saving(bert6, tmp_path):
    cls_model = LayerwiseBertForHierarchicalClassification.from_pretrained(bert6, guidance="flat", **label_kwargs()).eval()
    assert cls_model.config.layer_pooling == "cls"
    mean_model = LayerwiseBertForHierarchicalClassification.from_pretrained(
        bert6, guidance="flat", layer_pooling="mean", **label_kwargs()
    ).eval()
    mean_model.classifiers.load_state_dict(cls_model.classifiers.state_dict())
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    with torch.no_grad():
        assert not torch.allclose(cls_model(input_ids=ids).logits, mean_model(input_ids=ids).logits)
    mean_model.save_pretrained(tmp_path / "mean")
    again = LayerwiseBertForHierarchicalClassification.from_pretrained(tmp_path / "mean").eval()
    assert again.config.layer_pooling == "mean"
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids).logits, mean_model(input_ids=ids).logits)
    with pytest.raises(ValueError, match="layer_pooling must be one of"):
        LayerwiseConfig(layer_pooling="max", **label_kwargs())


@pytest.mark.parametrize("ancestor_targets", [True, False])
def test_ancestor_targets_choose_between_the_papers_augmented_targets_and_the_document_labels(tmp_path, ancestor_targets):
    from helpers import quick_train_argv
    from test_training_configs import eurlex_fixture

    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.tasks import prepare_task

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert")
    data = eurlex_fixture(tmp_path / "eurlex", 12)  # documents carry concepts whose parents they do not name
    argv = quick_train_argv(checkpoint, tmp_path / "out", "--model", "layerwise", "--corpus", "eurlex57k",
                            "--data_dir", str(data), "--guidance", "flat", "--ancestor_targets", str(ancestor_targets).lower(),
                            "--max_train_samples", "100000")  # every training document, in the corpus's order
    args, training_args = parse_arguments(argv)
    options = {"data_dir": args.data_dir, **args.corpus_config()}
    space, corpus = load_label_space(args.corpus, **options), load_corpus(args.corpus, **options)
    task = prepare_task(args, space, corpus, str(checkpoint), seed=training_args.seed)
    names, hierarchy = task.label_names, space.hierarchy
    corpus_names = corpus["train"].features["labels"].feature.names
    added = 0
    for document, targets in zip(corpus["train"], task.datasets["train"]["labels"]):
        labels = [corpus_names[i] for i in document["labels"]]
        expected = hierarchy.augment(labels) if ancestor_targets else labels
        assert sorted(n for n, t in zip(names, targets) if t == 1.0) == sorted(expected)
        added += len(hierarchy.augment(labels)) - len(set(labels))
    assert added > 0  # the corpus has documents whose ancestors the augmentation adds
    from labelwise.kinds.layerwise import summary_hyperparameters

    assert ("ancestor_targets" in summary_hyperparameters(args, task.model)) is (not ancestor_targets)
