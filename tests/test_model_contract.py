"""The model contract (issue 31): what transformers' common model tests demand of every model, held by
both custom models on every forward path they have.

Each check runs on every variant that changes the forward pass: LAME with a label-specific and a
label-agnostic head, with a first-stage shortlist, over long documents (segments) and frozen with the
CNN feature head; the layer-wise model with each guidance variant, over long documents, and with mean
pooling plus hierarchical consistency. Both models' default paths also run on every other encoder family
users bring (RoBERTa, DeBERTa-v2, ELECTRA, XLM-R, ModernBERT; tests/test_encoders.py's tiny configs,
issue 35). Only public behaviour is tested (`from_pretrained`,
`save_pretrained`, `forward`, the config and the saved folder), so that the modeling code can be
reorganised underneath; the one place that needs to know more is `head_parameter_names`.

The tiny encoders are 32 wide. LAME's has 2 layers; the layer-wise one has 6, the fewest that let
every guidance variant map 3 hierarchy levels (`one_by_one` and `in_pairs` need 2 layers per level).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from helpers import SPECIAL_TOKENS, WORDS, run_python_without_labelwise, tiny_bert_checkpoint, tiny_tokenizer
from safetensors.torch import load_file, save_file
from test_encoders import COMMON, FAMILIES
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline

from labelwise.modeling import (
    LameClassificationPipeline,
    LameForSequenceClassification,
    LayerwiseBertForHierarchicalClassification,
    HierarchicalClassificationPipeline,
)
from labelwise.modeling.guidance_layerwise import GUIDANCE_VARIANTS

VOCAB_SIZE = len(SPECIAL_TOKENS) + len(WORDS)
PAD, CLS, SEP = 0, SPECIAL_TOKENS.index("[CLS]"), SPECIAL_TOKENS.index("[SEP]")

LAME_DESCRIPTIONS = {
    "growth": "cancer cell growth signals",
    "immune": "immune reaction and inflammation",
    "vessel": "blood vessel angiogenesis",
    "drug": "adverse drug reaction after a dose",
}
HIERARCHY = {  # name: (level, parent ids)
    "trade": (1, []),
    "health": (1, []),
    "trade.fish": (2, [0]),
    "health.drug": (2, [1]),
    "health.blood": (2, [1]),
    "health.drug.dose": (3, [3]),
}


@dataclass(frozen=True)
class Variant:
    """One forward path of one model: how it is built from a plain BERT checkpoint."""

    name: str
    family: str  # "lame" or "layerwise"
    options: dict = field(default_factory=dict)
    long_documents: bool = False  # inputs longer than the encoder's window; the model splits them
    encoder: str = "bert"  # the `model_type` of the checkpoint it is warm-started from

    @property
    def model_class(self):
        return LameForSequenceClassification if self.family == "lame" else LayerwiseBertForHierarchicalClassification

    @property
    def output_fields(self) -> tuple[str, ...]:
        """The output's fields in their documented order (the order of `return_dict=False` tuples)."""
        middle = "cross_attentions" if self.family == "lame" else "level_logits"
        return ("loss", "logits", middle, "hidden_states", "attentions")


LAME_VARIANTS = [
    Variant("lame-label_specific", "lame"),
    Variant("lame-label_agnostic", "lame", {"label_scoring": "label_agnostic"}),
    Variant("lame-shortlist", "lame", {"first_stage": "bilinear", "shortlist_size": 2}),
    Variant("lame-long_documents", "lame", {"max_document_length": 40}, long_documents=True),
    Variant("lame-frozen_cnn", "lame", {"freeze_encoder": True, "label_embedding_mode": "static", "feature_head": "cnn"}),
]
LAYERWISE_VARIANTS = [Variant(f"layerwise-{name}", "layerwise", {"guidance": name}) for name in GUIDANCE_VARIANTS] + [
    Variant("layerwise-long_documents", "layerwise", {"guidance": "last_six", "max_document_length": 40}, long_documents=True),
    Variant(
        "layerwise-mean_pooling_consistency",
        "layerwise",
        {"guidance": "in_pairs", "layer_pooling": "mean", "hierarchical_consistency": True},
    ),
]
ENCODER_VARIANTS = [
    variant
    for family in FAMILIES
    if family != "bert"
    for variant in (
        Variant(f"lame-{family}", "lame", encoder=family),
        Variant(f"layerwise-{family}", "layerwise", {"guidance": "last_six"}, encoder=family),
    )
]
VARIANTS = LAME_VARIANTS + LAYERWISE_VARIANTS + ENCODER_VARIANTS
by_variant = pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
# Capture costs seconds per model, so the compile and export checks skip the guidance variants other
# than the default: they differ from it only in which layer indices the config lists, not in the
# operations traced (in_pairs' two-layer levels are traced by the mean-pooling variant).
UNTRACED = {f"layerwise-{name}" for name in GUIDANCE_VARIANTS if name != "last_six"}
TRACED_VARIANTS = [v for v in VARIANTS if v.name not in UNTRACED]
by_traced_variant = pytest.mark.parametrize("variant", TRACED_VARIANTS, ids=lambda v: v.name)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny models: threads cost more than they give, and the machine is shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """Plain encoder checkpoints (random weights, test vocabulary) to warm-start from, by encoder shape:
    BERT ones by model and window, and a masked-LM checkpoint of each other family by model."""
    root = tmp_path_factory.mktemp("encoders")
    checkpoints = {
        "lame": tiny_bert_checkpoint(root / "lame", seed=1),
        "layerwise": tiny_bert_checkpoint(root / "layerwise", seed=2, num_hidden_layers=6),
        # A 16-position window, so that 40-piece documents take several segments.
        "lame-long": tiny_bert_checkpoint(root / "lame-long", seed=3, max_position_embeddings=16),
        "layerwise-long": tiny_bert_checkpoint(root / "layerwise-long", seed=4, num_hidden_layers=6, max_position_embeddings=16),
    }
    for variant in ENCODER_VARIANTS:
        torch.manual_seed(5)
        fields = {**COMMON, **FAMILIES[variant.encoder], "num_hidden_layers": num_layers(variant)}
        folder = root / variant.name
        AutoModelForMaskedLM.from_config(AutoConfig.for_model(variant.encoder, **fields)).save_pretrained(str(folder))
        tiny_tokenizer(folder)
        checkpoints[variant.name] = str(folder)
    return checkpoints


def checkpoint_of(variant: Variant, checkpoints: dict[str, str]) -> str:
    if variant.encoder != "bert":
        return checkpoints[variant.name]
    return checkpoints[variant.family + ("-long" if variant.long_documents else "")]


def warm_start(variant: Variant, checkpoint: str, **overrides):
    """The variant's model built from a plain BERT checkpoint, as a user does (`from_pretrained` + options)."""
    torch.manual_seed(0)
    if variant.family == "lame":
        options = dict(
            label_descriptions=LAME_DESCRIPTIONS, label_attention_heads=4, problem_type="multi_label_classification"
        )
    else:
        names = list(HIERARCHY)
        options = dict(
            label_levels=[level for level, _ in HIERARCHY.values()],
            label_parents=[parents for _, parents in HIERARCHY.values()],
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
    return variant.model_class.from_pretrained(checkpoint, **options, **variant.options, **overrides)


@pytest.fixture(scope="module")
def saved(checkpoints, tmp_path_factory):
    """`saved(variant)`: a folder written the README's way, `model.save_pretrained` + `tokenizer.save_pretrained`."""
    root = tmp_path_factory.mktemp("saved")
    folders: dict[str, str] = {}

    def folder_of(variant: Variant) -> str:
        if variant.name not in folders:
            checkpoint = checkpoint_of(variant, checkpoints)
            folder = root / variant.name
            warm_start(variant, checkpoint).save_pretrained(str(folder))
            AutoTokenizer.from_pretrained(checkpoint).save_pretrained(str(folder))
            folders[variant.name] = str(folder)
        return folders[variant.name]

    return folder_of


def load(variant: Variant, folder: str, **kwargs):
    return variant.model_class.from_pretrained(folder, **kwargs)


def make_inputs(variant: Variant, labels: bool = False, seed: int = 0, real: int | None = None) -> dict[str, torch.Tensor]:
    """Two documents, the second right-padded to the first's length: 12 pieces, or 40 for long
    documents. The second has `real` pieces: by default 7, or for long documents 12, which fit in
    one segment of the 16-piece window while the first takes three (so the batch has padding segments)."""
    length = 40 if variant.long_documents else 12
    real = real if real is not None else (12 if variant.long_documents else 7)
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(len(SPECIAL_TOKENS), VOCAB_SIZE, (2, length), generator=generator)
    attention_mask = torch.ones(2, length, dtype=torch.long)
    input_ids[:, 0] = CLS
    input_ids[0, -1] = SEP
    input_ids[1, real - 1] = SEP
    input_ids[1, real:] = PAD
    attention_mask[1, real:] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels:
        num_labels = len(LAME_DESCRIPTIONS) if variant.family == "lame" else len(HIERARCHY)
        inputs["labels"] = torch.randint(0, 2, (2, num_labels), generator=generator).float()
    return inputs


def head_parameter_names(model) -> set[str]:
    """State-dict keys that a plain BERT checkpoint does not provide: those that are not the encoder's.

    The only place that reads parameter names; it finds the encoder through the public `base_model`.
    """
    encoder = {f".{name}" for name in model.base_model.state_dict()}
    return {name for name in model.state_dict() if not any(name.endswith(suffix) for suffix in encoder)}


def num_layers(variant: Variant) -> int:
    return 2 if variant.family == "lame" else 6


# ----------------------------------------------------------------------------------------- config
@by_variant
def test_config_round_trips_through_dict_json_and_folder(variant, saved, tmp_path):
    config = AutoConfig.from_pretrained(saved(variant))
    assert type(config) is variant.model_class.config_class
    as_dict = config.to_dict()
    assert type(config).from_dict(as_dict).to_dict() == as_dict
    assert json.loads(config.to_json_string(use_diff=False)) == json.loads(json.dumps(as_dict))
    # The default (what config.json holds) keeps every value that differs from the defaults.
    saved_form = json.loads(config.to_json_string())
    for key, value in {**variant.options, "model_type": config.model_type, "auto_map": config.auto_map}.items():
        assert saved_form[key] == value, key
    config.save_pretrained(str(tmp_path))
    reloaded = type(config).from_pretrained(str(tmp_path)).to_dict()
    assert {**reloaded, "_name_or_path": None} == {**as_dict, "_name_or_path": None}
    # The encoder's fields are set like a flat config's (transformers' tests set layer_norm_eps and
    # the dropouts), and land in the encoder sub-config that builds the encoder.
    for name, value in (("layer_norm_eps", 0.5), ("hidden_dropout_prob", 0.0), ("pad_token_id", 1)):
        if not hasattr(config.encoder, name):
            continue  # ModernBERT names them norm_eps and embedding_dropout
        setattr(config, name, value)
        assert getattr(config, name) == value == getattr(config.encoder, name), name
    # The attention implementation is the config's own, given at init or set later, and reaches the
    # encoder sub-config that builds the encoder (transformers' attn_implementation setter test).
    rebuilt = type(config)(**{**config.to_diff_dict(), "attn_implementation": "eager"})
    assert rebuilt._attn_implementation == rebuilt.encoder._attn_implementation == "eager"
    rebuilt._attn_implementation = "sdpa"
    assert rebuilt.encoder._attn_implementation == "sdpa"


# ----------------------------------------------------------------------------------- save and load
@by_variant
def test_save_and_load_with_and_without_loading_info(variant, saved, tmp_path):
    inputs = make_inputs(variant)
    model = load(variant, saved(variant)).eval()
    with torch.no_grad():
        expected = model(**inputs).logits
    model.save_pretrained(str(tmp_path))

    plain = load(variant, str(tmp_path)).eval()
    loaded, info = load(variant, str(tmp_path), output_loading_info=True)
    auto, auto_info = AutoModelForSequenceClassification.from_pretrained(str(tmp_path), output_loading_info=True)
    for report in (info, auto_info):
        assert report["missing_keys"] == set() and report["unexpected_keys"] == set()
        assert report["mismatched_keys"] == set() and report["error_msgs"] == []
    with torch.no_grad():
        for other in (plain, loaded.eval(), auto.eval()):
            assert type(other) is variant.model_class
            torch.testing.assert_close(other(**inputs).logits, expected, rtol=0, atol=0)


@by_variant
def test_missing_and_unexpected_keys_are_reported(variant, saved, checkpoints, tmp_path):
    # Warm start from a plain encoder checkpoint: the encoder loads bit-identical to what the checkpoint's
    # own class loads, and exactly the head is reported missing.
    checkpoint = checkpoint_of(variant, checkpoints)
    model, info = warm_start(variant, checkpoint, output_loading_info=True)
    assert info["missing_keys"] == head_parameter_names(model) != set()
    encoder = model.base_model.state_dict()
    # Neither model uses a pooler (and a masked-LM checkpoint has none): the rest must match.
    reference = {k: v for k, v in AutoModel.from_pretrained(checkpoint).state_dict().items() if not k.startswith("pooler.")}
    assert set(reference) == {key for key in encoder if not key.startswith("pooler.")}
    for key, value in reference.items():
        assert torch.equal(encoder[key], value), key

    # A saved folder with one head weight removed and a stray tensor added reports both.
    weights = load_file(os.path.join(saved(variant), "model.safetensors"))
    dropped = sorted(head_parameter_names(model))[0]
    del weights[dropped]
    weights["stray.weight"] = torch.zeros(2)
    for name in os.listdir(saved(variant)):
        if name != "model.safetensors":
            (tmp_path / name).write_bytes(Path(saved(variant), name).read_bytes())
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    _, info = load(variant, str(tmp_path), output_loading_info=True)
    assert info["missing_keys"] == {dropped}
    assert info["unexpected_keys"] == {"stray.weight"}


# ------------------------------------------------------------------------------------ output flags
@by_variant
def test_output_attentions_and_hidden_states_from_config_and_call(variant, saved):
    inputs = make_inputs(variant)
    folder = saved(variant)
    layers = num_layers(variant)
    plain = load(variant, folder, attn_implementation="eager").eval()
    configured = load(
        variant, folder, attn_implementation="eager", output_attentions=True, output_hidden_states=True
    ).eval()
    with torch.no_grad():
        base = plain(**inputs)
        by_config = configured(**inputs)
        by_call = plain(**inputs, output_attentions=True, output_hidden_states=True)
        switched_off = configured(**inputs, output_attentions=False, output_hidden_states=False)
        selected = plain(**inputs, output_hidden_states=[0, -1])
        one = plain(**inputs, output_hidden_states=-1)

    assert base.attentions is None and base.hidden_states is None
    for output in (by_config, by_call):
        assert len(output.attentions) == layers and len(output.hidden_states) == layers + 1
        torch.testing.assert_close(output.logits, base.logits)
    for ours, reference in zip(by_config.hidden_states + by_config.attentions, by_call.hidden_states + by_call.attentions):
        torch.testing.assert_close(ours, reference)
    assert not switched_off.attentions and not switched_off.hidden_states
    # The list form (transformers 5) selects states by index, negative ones from the end; as BERT
    # itself does, the other places hold None.
    for output, chosen in ((selected, {0, layers}), (one, {layers})):
        assert len(output.hidden_states) == layers + 1
        for index, state in enumerate(output.hidden_states):
            if index in chosen:
                torch.testing.assert_close(state, by_call.hidden_states[index])
            else:
                assert state is None, index
        torch.testing.assert_close(output.logits, base.logits)


@by_variant
def test_return_dict_false_gives_the_documented_order(variant, saved):
    inputs = make_inputs(variant, labels=True)
    model = load(variant, saved(variant), attn_implementation="eager").eval()
    flags = dict(output_attentions=True, output_hidden_states=True)
    if variant.family == "lame":
        flags["output_cross_attentions"] = True
    with torch.no_grad():
        as_dict = model(**inputs, **flags, return_dict=True)
        as_tuple = model(**inputs, **flags, return_dict=False)
    assert tuple(as_dict.keys()) == variant.output_fields
    assert isinstance(as_tuple, tuple) and len(as_tuple) == len(variant.output_fields)
    for name, value in zip(variant.output_fields, as_tuple):
        reference = as_dict[name]
        if isinstance(value, tuple):
            assert len(value) == len(reference)
            for part, expected in zip(value, reference):
                torch.testing.assert_close(part, expected)
        else:
            torch.testing.assert_close(value, reference)
    # config.return_dict=False applies when the call does not say.
    tuple_model = load(variant, saved(variant), return_dict=False).eval()
    with torch.no_grad():
        output = tuple_model(**inputs)
    assert isinstance(output, tuple)
    torch.testing.assert_close(output[0], as_dict.loss)
    torch.testing.assert_close(output[1], as_dict.logits)


# ------------------------------------------------------------------------------------- numerics
@by_variant
def test_eager_and_sdpa_attention_agree(variant, saved):
    inputs = make_inputs(variant)
    eager = load(variant, saved(variant), attn_implementation="eager").eval()
    if not type(eager.base_model)._supports_sdpa:
        # DeBERTa-v2 has no sdpa path: asked for one, the model refuses as the encoder's own class does.
        with pytest.raises(ValueError, match=type(eager.base_model).__name__):
            load(variant, saved(variant), attn_implementation="sdpa")
        return
    sdpa = load(variant, saved(variant), attn_implementation="sdpa").eval()
    with torch.no_grad():
        torch.testing.assert_close(sdpa(**inputs).logits, eager(**inputs).logits, rtol=1e-4, atol=1e-5)


@by_variant
def test_eval_mode_is_deterministic(variant, saved):
    inputs = make_inputs(variant)
    model = load(variant, saved(variant)).eval()
    again = load(variant, saved(variant)).eval()
    with torch.no_grad():
        first = model(**inputs).logits
        assert torch.equal(model(**inputs).logits, first)
        assert torch.equal(again(**inputs).logits, first)


@by_variant
def test_gradient_checkpointing_gives_the_same_gradient_to_every_trainable_parameter(variant, saved):
    inputs = make_inputs(variant, labels=True)
    gradients = []
    for checkpointing in (False, True):
        model = load(variant, saved(variant)).train()
        if checkpointing:
            # transformers 5.25 renamed gradient checkpointing to activation checkpointing (old name deprecated).
            if hasattr(model, "activation_checkpointing_enable"):
                model.activation_checkpointing_enable()
                assert model.is_activation_checkpointing
            else:
                model.gradient_checkpointing_enable()
                assert model.is_gradient_checkpointing
        model(**inputs).loss.backward()
        trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
        assert trainable
        missing = sorted(name for name, p in trainable.items() if p.grad is None)
        assert not missing, f"no gradient for {missing}"
        gradients.append({name: p.grad for name, p in trainable.items()})
    plain, checkpointed = gradients
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-4, atol=1e-6, msg=name)


@by_variant
def test_bfloat16_loading(variant, saved):
    inputs = make_inputs(variant, labels=True)
    reference = load(variant, saved(variant)).eval()
    model = load(variant, saved(variant), dtype=torch.bfloat16).eval()
    assert model.dtype == torch.bfloat16
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        output = model(**inputs)
        expected = reference(**inputs)
    assert torch.isfinite(output.loss) and torch.isfinite(output.logits).all()
    # bf16 keeps 8 bits of mantissa: probabilities agree to a few hundredths.
    torch.testing.assert_close(
        torch.sigmoid(output.logits.float()), torch.sigmoid(expected.logits), rtol=0, atol=0.05
    )


@by_variant
def test_resize_token_embeddings(variant, saved, tmp_path):
    inputs = make_inputs(variant)
    model = load(variant, saved(variant)).eval()
    with torch.no_grad():
        before = model(**inputs).logits
    model.resize_token_embeddings(VOCAB_SIZE + 8)
    assert model.get_input_embeddings().weight.shape[0] == VOCAB_SIZE + 8
    assert model.config.vocab_size == VOCAB_SIZE + 8
    with torch.no_grad():
        # Existing rows are unchanged, so are the scores (label caches follow the new embedding matrix).
        torch.testing.assert_close(model(**inputs).logits, before, rtol=0, atol=1e-6)
        new_token = inputs["input_ids"].clone()
        new_token[0, 1] = VOCAB_SIZE + 7
        assert torch.isfinite(model(input_ids=new_token, attention_mask=inputs["attention_mask"]).logits).all()
    model.save_pretrained(str(tmp_path))
    assert load(variant, str(tmp_path)).get_input_embeddings().weight.shape[0] == VOCAB_SIZE + 8


# ------------------------------------------------------------------------------ compile and export
@by_traced_variant
def test_torch_compile_fullgraph_matches_eager(variant, saved):
    inputs = make_inputs(variant)
    model = load(variant, saved(variant)).eval()
    with torch.no_grad():
        expected = model(**inputs).logits
    torch._dynamo.reset()
    # aot_eager: dynamo's full-graph capture and AOT autograd, without a C++ toolchain for inductor.
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    other = make_inputs(variant, seed=1, real=25 if variant.long_documents else 9)
    with torch.no_grad():
        torch.testing.assert_close(compiled(**inputs).logits, expected, rtol=1e-5, atol=1e-6)
        # Other values and lengths, same shapes: the captured graph serves them without recompiling.
        with torch.compiler.set_stance("fail_on_recompile"):
            got = compiled(**other).logits
        torch.testing.assert_close(got, model(**other).logits, rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()


@by_traced_variant
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_torch_export_matches_eager(variant, mode, saved):
    inputs = make_inputs(variant, labels=mode == "train")
    model = load(variant, saved(variant)).train(mode == "train")
    exported = torch.export.export(model, args=(), kwargs=inputs)
    # Dropout is 0 in the tiny configs, so train-mode outputs are deterministic too.
    with torch.no_grad():
        got = exported.module()(**inputs)
        expected = model(**inputs)  # eager after export: nothing traced may stay cached in the model
    torch.testing.assert_close(got.logits, expected.logits, rtol=1e-5, atol=1e-6)
    if mode == "train":
        torch.testing.assert_close(got.loss, expected.loss, rtol=1e-5, atol=1e-6)
    # New values and another length of the padded document (two segments instead of one when long),
    # same shapes: the graph is specialised to neither.
    other = make_inputs(variant, seed=1, real=25 if variant.long_documents else 9)
    with torch.no_grad():
        torch.testing.assert_close(
            exported.module()(**{**inputs, **other}).logits, model(**{**inputs, **other}).logits, rtol=1e-5, atol=1e-6
        )


# ---------------------------------------------------------------------------------- saved folder
@pytest.mark.parametrize(
    "variant, task, pipeline_class",
    [
        (LAME_VARIANTS[0], "label-attention-classification", LameClassificationPipeline),
        (LAYERWISE_VARIANTS[0], "hierarchical-classification", HierarchicalClassificationPipeline),
    ],
    ids=["lame", "layerwise"],
)
def test_save_pretrained_folder_matches_the_pipeline_saved_one(variant, task, pipeline_class, saved, tmp_path):
    """`model.save_pretrained` writes what `pipeline(...).save_pretrained` writes: the same files and
    `custom_pipelines` entry, so the one-line `pipeline(model=folder, trust_remote_code=True)` works."""
    folder = Path(saved(variant))
    model = load(variant, str(folder))
    through_pipeline = tmp_path / "pipeline"
    pipeline(task, model=model, tokenizer=AutoTokenizer.from_pretrained(str(folder))).save_pretrained(str(through_pipeline))
    assert sorted(os.listdir(folder)) == sorted(os.listdir(through_pipeline))
    ours = json.loads((folder / "config.json").read_text())["custom_pipelines"]
    theirs = json.loads((through_pipeline / "config.json").read_text())["custom_pipelines"]
    assert ours == theirs == {task: ours[task]}
    assert ours[task]["impl"].split(".")[-1] == pipeline_class.__name__

    # Without the tokenizer the pipeline says which call is missing.
    bare = tmp_path / "bare"
    load(variant, str(folder)).save_pretrained(str(bare))
    with pytest.raises(ValueError, match=r"tokenizer\.save_pretrained\(folder\)"):
        pipeline(model=str(bare), trust_remote_code=True)


TEXT = "cancer cell growth signals after a dose"
EXPLAINED_VARIANTS = [v for v in VARIANTS if v.family == "lame" and not v.long_documents]


@pytest.mark.parametrize("variant", EXPLAINED_VARIANTS, ids=lambda v: v.name)
def test_integrated_gradients_evidence_on_every_head_and_encoder(variant, saved):
    """The pipeline's Integrated Gradients evidence runs on every LAME head and every encoder family:
    the embeddings path (`inputs_embeds`) is differentiable end to end, the attributions add up to the
    logit's change from the [PAD] baseline within the tolerance, and the evidence is the explained
    labels' words of the text."""
    from labelwise.modeling.integrated_gradients import IG_TOLERANCE, integrated_gradients, label_logit, padding_baseline

    folder = saved(variant)
    model, tokenizer = load(variant, folder).eval(), AutoTokenizer.from_pretrained(folder)
    classify = LameClassificationPipeline(model=model, tokenizer=tokenizer)
    result = classify(TEXT, evidence_method="integrated_gradients", threshold=0.5)
    explained = [item["label"] for item in result["labels"] if item["predicted"]] or [result["labels"][0]["label"]]
    assert result["evidence_method"] == "integrated_gradients" and sorted(result["word_weights"]) == sorted(explained)
    words = set(TEXT.split())
    for item in result["labels"]:
        shown = {evidence["word"] for evidence in item["evidence"]}
        assert shown <= words if item["label"] in explained else not shown

    encoded = tokenizer(TEXT, return_tensors="pt")
    ids = encoded["input_ids"]
    embed = model.get_input_embeddings()
    keep = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    embeddings, baseline = embed(ids).detach(), padding_baseline(embed, ids, keep, tokenizer.pad_token_id)
    label = model.config.label2id[explained[0]]
    logit = label_logit(model, label, encoded)
    scores, _, converged = integrated_gradients(logit, embeddings, baseline)
    with torch.no_grad():
        change = float(logit(embeddings)[0] - logit(baseline)[0])
    assert converged and abs(float(scores.sum()) - change) <= IG_TOLERANCE * abs(change) and scores.abs().max() > 0


LOADER = r"""
import json, os, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
TEXT = "cancer cell growth signals after a dose"
plan = json.loads(open("folders.json").read())
results = {}
for name, folder in plan["folders"].items():
    inputs = torch.load(folder + "-inputs.pt")
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(**inputs).logits
    if name in plan["save_again"]:
        # Saved again before its pipeline was ever loaded (as for further fine-tuning): nothing next
        # to the model's code has the pipeline's files, they must come from the model's origin.
        model.save_pretrained(folder + "-auto")
        AutoTokenizer.from_pretrained(folder).save_pretrained(folder + "-auto")
    classify = pipeline(model=folder, trust_remote_code=True)  # the README's one-line call
    output = classify(TEXT)
    results[name] = {
        "module": type(model).__module__,
        "max_difference": float((logits - torch.load(folder + "-logits.pt")).abs().max()),
        "pipeline": type(classify).__name__,
        "output_type": type(output).__name__,
    }
    if name in plan["save_again"]:
        classify.model.save_pretrained(folder + "-pipeline")
        classify.tokenizer.save_pretrained(folder + "-pipeline")
        results[name]["saved_again"] = {"original": {"files": sorted(os.listdir(folder)), "output": output}}
        for again in ("auto", "pipeline"):
            reloaded = pipeline(model=folder + "-" + again, trust_remote_code=True)
            results[name]["saved_again"][again] = {
                "files": sorted(os.listdir(folder + "-" + again)),
                "module": type(reloaded.model).__module__,
                "output": reloaded(TEXT),
            }
print("\nRESULTS" + json.dumps(results))
"""
SAVED_AGAIN = [LAME_VARIANTS[0], LAYERWISE_VARIANTS[GUIDANCE_VARIANTS.index("last_six")]]


@pytest.fixture(scope="module")
def loaded_without_labelwise(saved, tmp_path_factory) -> dict:
    """Every variant's folder loaded in one fresh interpreter in which labelwise cannot be imported;
    the `SAVED_AGAIN` ones also saved again there and loaded once more."""
    root = tmp_path_factory.mktemp("remote")
    folders = {}
    for variant in VARIANTS:
        folder = saved(variant)
        inputs = make_inputs(variant)
        with torch.no_grad():
            logits = load(variant, folder).eval()(**inputs).logits
        torch.save(inputs, folder + "-inputs.pt")
        torch.save(logits, folder + "-logits.pt")
        folders[variant.name] = folder
    plan = {"folders": folders, "save_again": [variant.name for variant in SAVED_AGAIN]}
    (root / "folders.json").write_text(json.dumps(plan))
    # A fresh module cache: no pipeline file left there by other runs may stand in for a folder's.
    modules = root / "modules"
    result = run_python_without_labelwise(LOADER, root, timeout=600, env={"HF_MODULES_CACHE": str(modules)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS")]
    assert len(lines) == 1, result.stdout[-3000:]
    return json.loads(lines[0][len("RESULTS") :])


@by_variant
def test_loads_and_runs_its_pipeline_where_labelwise_is_not_installed(variant, loaded_without_labelwise):
    result = loaded_without_labelwise[variant.name]
    assert result["module"].startswith("transformers_modules"), result  # the folder's own code, not labelwise
    assert result["max_difference"] <= 1e-5, result
    expected = "LameClassificationPipeline" if variant.family == "lame" else "HierarchicalClassificationPipeline"
    assert result["pipeline"] == expected and result["output_type"] in ("dict", "list")


@pytest.mark.parametrize("variant", SAVED_AGAIN, ids=lambda v: v.name)
def test_a_folder_saved_again_where_labelwise_is_not_installed_is_complete(variant, loaded_without_labelwise):
    """Saved from Python, loaded as remote code (by `AutoModel...` before any pipeline, and by the
    one-line pipeline call), saved again, loaded again by the one-line call: same files, same output."""
    runs = dict(loaded_without_labelwise[variant.name]["saved_again"])
    original = runs.pop("original")
    assert any(file.startswith("pipeline_") for file in original["files"]), original["files"]
    for again, run in runs.items():
        assert run["files"] == original["files"], again
        assert run["module"].startswith("transformers_modules"), run
        assert run["output"] == original["output"], again
