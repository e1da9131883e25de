"""Every registered model kind, end to end, and the registry's own rules.

`test_every_kind_trains_saves_publishes_and_renders` walks `labelwise.kinds.KINDS`: a kind that
forgets a piece (options, card template, pipeline, view, ...) fails here, not in a user's run.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from helpers import run_python_without_labelwise, tiny_bert_checkpoint
from transformers import pipeline

import labelwise.modeling
from labelwise.analysis.predictors import load_predictor
from labelwise.analysis.viewer import render_fragment
from labelwise.kinds import KINDS, get_kind, option_classes
from labelwise.kinds.saving import CALL_KEYS, LOADER_KEYS
from labelwise.publishing.push import check_folder
from labelwise.saved_kinds import SAVED_KINDS, remote_code_files
from labelwise.training.arguments import LabelwiseArguments
from labelwise.training.cli import run

DEMO_CORPUS_OF_TASK = {"multi_label": "demo", "hierarchical": "demo_hierarchical", "ner": "demo_ner"}
"""The bundled corpus a kind is walked on: the first of its tasks that has one."""

TEXT = "The patient had severe rash and fever after the drug; the tumor showed growth."


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    # Three layers, so the default guidance (last_six) fits the three-level demo hierarchy.
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"), num_hidden_layers=3)


def train_one_step(checkpoint: str, output_dir: Path, kind: str, *extra: str) -> dict:
    corpus = next((DEMO_CORPUS_OF_TASK[t] for t in KINDS[kind].tasks if t in DEMO_CORPUS_OF_TASK), None)
    assert corpus is not None, f"kind {kind!r}: no bundled demo corpus for its tasks {KINDS[kind].tasks}"
    return run([
        "--model", kind, "--corpus", corpus, "--model_name_or_path", checkpoint, "--output_dir", str(output_dir),
        "--max_train_samples", "8", "--max_eval_samples", "4", "--max_steps", "1",
        "--per_device_train_batch_size", "8", "--label_attention_heads", "4", "--max_length", "64",
        "--disable_tqdm", "true", "--save_strategy", "no", "--load_best_model_at_end", "false", *extra,
    ])


HEAD_VARIANTS = {
    "lame-label-agnostic": (
        "lame", ("--label_scoring", "label_agnostic", "--description_pooling", "mean", "--similarity_term", "true",
                 "--document_classifier", "true"),
    ),
}
"""Head options walked like a kind of their own: a name -> (kind, extra train.py arguments)."""

WALKS = {name: (name, ()) for name in KINDS} | HEAD_VARIANTS


@pytest.mark.slow
@pytest.mark.parametrize("walk", list(WALKS))
def test_every_kind_trains_saves_publishes_and_renders(checkpoint, tmp_path, walk):
    name, extra = WALKS[walk]
    kind = KINDS[name]
    summary = train_one_step(checkpoint, tmp_path, name, *extra)
    folder = tmp_path / "model"
    assert summary["model_kind"] == name

    # The card was written (run() only warns when it cannot be) from the kind's template.
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"pipeline_tag: {kind.pipeline_tag}" in card and f"`{name}`" in card
    label_agnostic = "label_agnostic" in extra
    assert (summary["hyperparameters"].get("label_scoring") == "label_agnostic") == label_agnostic
    assert (summary["hyperparameters"].get("description_pooling") == "mean") == label_agnostic
    assert (summary["hyperparameters"].get("similarity_term") is True) == label_agnostic
    assert ("Labels this model was not trained on" in card) == label_agnostic
    assert (summary["hyperparameters"].get("document_classifier") is True) == label_agnostic
    assert ("A free classifier row per label beside the head" in card) == label_agnostic

    # Publishable as it is: remote code complete, the kind's pipeline shipped, nothing to warn about.
    plan = check_folder(folder, write_card=False)
    assert plan.warnings == []
    config = json.loads((folder / "config.json").read_text())
    saved = kind.saved
    if saved.pipeline_task:
        assert saved.pipeline_task in config["custom_pipelines"] and saved.pipeline_file in plan.remote_code
    assert config.get("model_type") == (saved.model_type or config.get("model_type"))
    # The remote code the table derives (single-dot imports of the model and pipeline files) is what was saved.
    modeling_dir = Path(labelwise.modeling.__file__).parent
    assert {p.name for p in folder.glob("*.py")} == set(remote_code_files(kind.saved_kind, str(modeling_dir)))

    # The tokenizer carries no loader or per-call keys, and every file is readable like the others.
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert not set(tokenizer_config) & set(LOADER_KEYS + CALL_KEYS)
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}
    assert modes == {name_: 0o666 & ~umask for name_ in modes}

    # A clean process without labelwise loads it through the Auto class of its pipeline tag.
    auto_class = saved.auto_class
    code = (
        "import json, transformers\n"
        f"model = getattr(transformers, {auto_class!r}).from_pretrained({str(folder)!r}, trust_remote_code=True)\n"
        f"tokenizer = transformers.AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)\n"
        f"print(json.dumps([type(model).__name__, len(tokenizer({TEXT!r})['input_ids'])]))\n"
    )
    completed = run_python_without_labelwise(code, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    class_name, pieces = json.loads(completed.stdout.strip().splitlines()[-1])
    assert class_name == config["architectures"][0] and pieces > 2

    # The demo's loader detects the kind's saved kind, and the viewer renders its prediction.
    view, predict = load_predictor(str(folder))
    assert view == kind.saved_kind
    html = render_fragment(predict(TEXT))
    assert 'class="lw' in html and "rash" in html

    # It exports to ONNX as its saved kind, with its remote code and the table, and serves through its pipeline.
    from labelwise.export import ExportOptions, export_model, onnx_pipeline

    manifest = export_model(str(folder), str(tmp_path / "onnx"), ExportOptions())
    assert manifest["kind"] == kind.saved_kind
    assert set(remote_code_files(kind.saved_kind, str(modeling_dir))) <= {p.name for p in (tmp_path / "onnx").glob("*.py")}
    served = onnx_pipeline(str(tmp_path / "onnx"))(TEXT)
    assert served and json.dumps(served, default=str)
    if label_agnostic:
        # The saved pipeline scores labels given at call time (remote code: pipeline_lame imports modeling_lame).
        classify = pipeline(model=str(folder), trust_remote_code=True)
        result = classify(TEXT, candidate_labels={"skin": "rash on the skin"})
        assert [entry["label"] for entry in result["labels"]] == ["skin"]


def test_registry_declarations_are_complete():
    """Cheap checks of every kind's declaration (the walk above exercises them)."""
    from importlib import resources

    templates = resources.files("labelwise.model_cards")
    for name, kind in KINDS.items():
        assert get_kind(name) is kind and kind.name == name
        assert kind.saved_kind in SAVED_KINDS, f"{name}: saved kind {kind.saved_kind!r} is not in labelwise/saved_kinds.py"
        assert (templates / kind.card_template).is_file(), f"{name}: no model_cards/{kind.card_template}"
        kind.load_model_class(), kind.load_config_class()  # the references import
        if {"multi_label", "hierarchical"} & set(kind.tasks):  # `--label_bias_init auto` needs to set its biases
            assert kind.initialize_label_biases is not None, f"{name}: multi-label kind without initialize_label_biases"
    # Every kind's options reach train.py's arguments, with their defaults.
    defaults = LabelwiseArguments()
    for options in option_classes():
        for field_ in options.__dataclass_fields__.values():
            assert getattr(defaults, field_.name) == field_.default


def test_the_options_the_kinds_read_are_train_py_options():
    """`KindArguments` (the kinds' view of train.py's options) names fields of `LabelwiseArguments`, same types."""
    from dataclasses import fields
    from typing import get_type_hints

    from labelwise.kinds.base import KindArguments

    # Resolved types: HfArgumentParser replaces a dataclass field's string type by the type itself.
    hints = get_type_hints(LabelwiseArguments)
    declared = {field_.name: hints[field_.name] for field_ in fields(LabelwiseArguments)}
    read = get_type_hints(KindArguments)
    assert read, "KindArguments declares no field"
    for name, type_ in read.items():
        assert name in declared, f"KindArguments.{name} is not an option of LabelwiseArguments (renamed?)"
        assert declared[name] == type_, f"KindArguments.{name}: {type_!r}, but LabelwiseArguments.{name}: {declared[name]!r}"


def test_unknown_kind_lists_every_kind():
    with pytest.raises(ValueError) as info:
        get_kind("lamee")
    assert all(name in str(info.value) for name in KINDS)


def test_guidance_default_and_variants_are_declared_once():
    from labelwise.modeling.configuration_layerwise import LayerwiseConfig
    from labelwise.modeling.guidance_layerwise import DEFAULT_GUIDANCE, GUIDANCE_VARIANTS

    assert LabelwiseArguments().guidance is None  # unset: the config's default
    config = LayerwiseConfig(label_levels=[1, 2], num_hidden_layers=2)
    assert config.guidance == DEFAULT_GUIDANCE
    for variant in GUIDANCE_VARIANTS:
        assert variant in LabelwiseArguments.__dataclass_fields__["guidance"].metadata["help"]


@pytest.mark.slow
def test_layer_assignment_is_what_summary_and_card_record(checkpoint, tmp_path):
    """--layer_assignment overrides --guidance: summary and card say the model's wiring, not the flag."""
    summary = train_one_step(
        checkpoint, tmp_path, "layerwise", "--guidance", "last_six", "--layer_assignment", '{"1": [1], "2": [1], "3": [3]}'
    )
    hyperparameters = summary["hyperparameters"]
    assert hyperparameters["guidance"] is None
    assert hyperparameters["layer_assignment"] == {"1": [1], "2": [1], "3": [3]}
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert "trained with the\n`last_six` variant" not in card and "| `guidance` |" not in card
    assert 'own\nlayer assignment (level: layers) `{"1": [1], "2": [1], "3": [3]}`' in card
    # A named variant is still recorded as such.
    named = train_one_step(checkpoint, tmp_path / "named", "layerwise", "--guidance", "flat")
    assert named["hyperparameters"]["guidance"] == "flat"
    assert "trained with the\n`flat` variant" in (tmp_path / "named" / "model" / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_tokenizer_alone_loads_without_remote_code(checkpoint, tmp_path):
    """The card's tokenizer line (the saved tokenizer class) needs no trust_remote_code, asks nothing, warns nothing."""
    train_one_step(checkpoint, tmp_path, "lame")
    folder = tmp_path / "model"
    tokenizer_class = json.loads((folder / "tokenizer_config.json").read_text())["tokenizer_class"]
    line = f"tokenizer = {tokenizer_class}.from_pretrained(repo)"
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert line in card
    code = (
        f"import transformers\nrepo = {str(folder)!r}\n"
        f"{tokenizer_class} = getattr(transformers, {tokenizer_class!r})\n{line}\n"
        f"print(tokenizer({TEXT!r})['input_ids'])\n"
    )
    completed = run_python_without_labelwise(code, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout + completed.stderr
    assert "Do you wish to run the custom code" not in output and "model of type" not in output
    assert "trust_remote_code" not in output


def test_saved_tokenizer_and_file_modes(tmp_path):
    """The backbone's truncation (all-MiniLM ships 128 in tokenizer.json) and the loader keys stay out
    of the saved tokenizer; model.safetensors gets the same mode as the other files."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from labelwise.kinds.saving import save_model_folder

    backbone = Path(tiny_bert_checkpoint(tmp_path / "bert"))
    tokenizer_json = json.loads((backbone / "tokenizer.json").read_text())
    tokenizer_json["truncation"] = {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0}
    (backbone / "tokenizer.json").write_text(json.dumps(tokenizer_json))
    tokenizer = AutoTokenizer.from_pretrained(str(backbone))
    assert tokenizer.init_kwargs["max_length"] == 128 and "is_local" in tokenizer.init_kwargs  # what used to be saved
    model = AutoModelForSequenceClassification.from_pretrained(str(backbone), num_labels=2)

    save_model_folder(tmp_path / "out", model, tokenizer)
    saved = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert not {"max_length", "stride", "truncation_strategy", "is_local", "local_files_only"} & set(saved)
    assert saved["tokenizer_class"] and saved["model_max_length"] == tokenizer.model_max_length
    assert json.loads((tmp_path / "out" / "tokenizer.json").read_text())["truncation"] is None
    reloaded = AutoTokenizer.from_pretrained(str(tmp_path / "out"))
    long_text = " ".join(["cancer"] * 300)
    assert len(reloaded(long_text)["input_ids"]) == 302  # nothing cuts a text the user did not ask to cut
    assert reloaded(long_text, truncation=True, max_length=16)["input_ids"] == tokenizer(long_text, truncation=True, max_length=16)["input_ids"]
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes["model.safetensors"] == 0o666 & ~umask and len(set(modes.values())) == 1, modes


def test_an_option_declared_twice_is_refused(monkeypatch):
    from dataclasses import dataclass, field, replace

    import labelwise.kinds as kinds

    @dataclass
    class Clashing:
        loss: str = field(default="other")

    monkeypatch.setitem(kinds.KINDS, "clash", replace(KINDS["vanilla"], name="clash", options=Clashing))
    with pytest.raises(ValueError, match="--loss is declared by LameOptions and by .*Clashing"):
        option_classes()
