"""labelwise.demo without a browser: kind detection, predictions of every kind, the Space files."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys

import pytest
import torch
from demo_models import (
    LAME_DESCRIPTIONS,
    save_classifier,
    save_lame,
    save_layerwise,
    save_ner,
)
from helpers import run_python_without_labelwise

from labelwise.analysis.space import SPACE_FILES, write_space_files
from labelwise.analysis.viewer import render_fragment
from labelwise.demo import detect_kind, load_predictor

TEXT = "Severe rash and fever after the drug; cancer cell growth in blood vessel."


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "lame": save_lame(root / "lame"),
        "token_classification": save_ner(root / "ner"),
        "layerwise": save_layerwise(root / "layerwise"),
        "sequence_classification": save_classifier(root / "classification"),
    }


def test_kind_is_read_from_config_json(models):
    for kind, folder in models.items():
        assert detect_kind(folder) == kind
    assert detect_kind({"model_type": "bert", "architectures": ["BertForTokenClassification"]}) == "token_classification"
    with pytest.raises(ValueError, match=r"model_type='bert', architectures=\['BertModel'\]"):
        detect_kind({"model_type": "bert", "architectures": ["BertModel"]})


def test_missing_config_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} has no config.json"):
        load_predictor(str(tmp_path))


def test_lame_demo_returns_the_pipeline_output(models):
    from transformers import pipeline

    kind, predict = load_predictor(models["lame"])
    assert kind == "lame"
    result = predict(TEXT)
    expected = pipeline("label-attention-classification", model=models["lame"], trust_remote_code=True)(TEXT)
    assert result == expected
    by_name = {item["label"]: item for item in result["labels"]}
    assert set(by_name) == set(LAME_DESCRIPTIONS)
    assert by_name["growth"]["predicted"] and not by_name["immune"]["predicted"]  # the biases of save_lame
    assert by_name["growth"]["description"] == LAME_DESCRIPTIONS["growth"] and by_name["growth"]["evidence"]
    assert "lw-w" in render_fragment(result)
    # the demo's threshold reaches the pipeline: the two unlikely labels (about 0.02) now pass
    _, low = load_predictor(models["lame"], threshold=0.01)
    assert all(item["predicted"] for item in low(TEXT)["labels"])


def test_ner_demo_returns_the_taggers_spans(models):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from labelwise.ner.tagger import predict_spans

    kind, predict = load_predictor(models["token_classification"])
    assert kind == "token_classification"
    result = predict(TEXT)
    model = AutoModelForTokenClassification.from_pretrained(models["token_classification"]).eval()
    expected = predict_spans(model, AutoTokenizer.from_pretrained(models["token_classification"]), [TEXT], max_length=128)[0]
    assert result["text"] == TEXT and result["entities"] == expected and expected
    for span in result["entities"]:
        assert TEXT[span["start"] : span["end"]] == span["word"]
    assert render_fragment(result).count('data-entity="ADR"') == len(expected)


def test_layerwise_demo_gives_every_labels_probability_per_level(models):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kind, predict = load_predictor(models["layerwise"], threshold=0.5)
    assert kind == "layerwise"
    result = predict(TEXT)
    model = AutoModelForSequenceClassification.from_pretrained(models["layerwise"], trust_remote_code=True).eval()
    with torch.no_grad():
        probabilities = torch.sigmoid(model(**AutoTokenizer.from_pretrained(models["layerwise"])(TEXT, return_tensors="pt")).logits[0])
    assert list(result["levels"]) == ["1", "2"]
    flat = [item for level in result["levels"].values() for item in level]
    assert [item["label"] for item in flat] == ["trade", "health", "trade.fish", "health.drug", "health.blood"]
    assert [item["score"] for item in flat] == pytest.approx(probabilities.tolist(), abs=1e-6)
    assert [item["predicted"] for item in flat] == [p >= 0.5 for p in probabilities.tolist()]


def test_plain_multi_label_classifier_uses_sigmoid_and_threshold(models):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _, predict = load_predictor(models["sequence_classification"], threshold=0.5)
    result = predict(TEXT)
    model = AutoModelForSequenceClassification.from_pretrained(models["sequence_classification"]).eval()
    with torch.no_grad():
        probabilities = torch.sigmoid(model(**AutoTokenizer.from_pretrained(models["sequence_classification"])(TEXT, return_tensors="pt")).logits[0])
    expected = sorted(zip(["a", "b", "c"], probabilities.tolist()), key=lambda pair: pair[1], reverse=True)
    assert [(item["label"], item["score"]) for item in result["labels"]] == [(n, pytest.approx(p, abs=1e-6)) for n, p in expected]
    assert [item["predicted"] for item in result["labels"]] == [p >= 0.5 for _, p in expected]


@pytest.mark.slow
def test_space_runs_without_labelwise(models, tmp_path):
    """The Space folder alone (no labelwise) builds the app and predicts LAME and NER like the package."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI needs gradio (the `demo` extra): run .ci/install_browser.sh")
        pytest.skip("gradio (the `demo` extra) is not installed")
    space = tmp_path / "space"
    written = write_space_files(space, models["lame"], title="tiny: demo", examples=[TEXT])
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == sorted(SPACE_FILES)
    readme = (space / "README.md").read_text()
    assert 'title: "tiny: demo"' in readme and "sdk: gradio" in readme and "app_file: app.py" in readme
    code = f"""
import json, os, sys
sys.path.insert(0, {str(space)!r})
import app  # builds the Blocks for the LAME model named in app.py
import gradio
assert isinstance(app.demo, gradio.Blocks)
import labelwise_demo
_, lame = labelwise_demo.load_predictor({models["lame"]!r}, trust_remote_code=True)  # no labelwise: the model's own code
_, ner = labelwise_demo.load_predictor({models["token_classification"]!r})
print(json.dumps({{"lame": lame({TEXT!r}), "ner": ner({TEXT!r})}}))
"""
    completed = run_python_without_labelwise(code, cwd=space, timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    remote = json.loads(completed.stdout.strip().splitlines()[-1])
    assert remote["lame"] == json.loads(json.dumps(load_predictor(models["lame"])[1](TEXT)))
    # Without labelwise the Space tags with transformers' pipeline (first-piece aggregation): the
    # same spans as labelwise's word-level tagger, scores aside.
    local = load_predictor(models["token_classification"])[1](TEXT)["entities"]
    assert [(s["entity_group"], s["start"], s["end"]) for s in remote["ner"]["entities"]] == [
        (s["entity_group"], s["start"], s["end"]) for s in local
    ]


def test_cli_help_runs():
    import subprocess

    completed = subprocess.run([sys.executable, "-m", "labelwise.demo", "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0 and "--model" in completed.stdout and "--port" in completed.stdout


def test_viewer_command_writes_the_page_for_a_model_folder(models, tmp_path, capsys):
    from labelwise.analysis import viewer

    source = tmp_path / "doc.txt"
    source.write_text(TEXT, encoding="utf-8")
    output = tmp_path / "view.html"
    viewer.main(["--model", models["lame"], "--text_file", str(source), "--output", str(output), "--label", "immune"])
    assert f"wrote {output}" in capsys.readouterr().out
    page = output.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    checked = re.findall(r'<input type="radio"[^>]*value="([^"]+)"[^>]*checked', page)
    assert checked == ["immune"]
    assert page.count('class="lw-w"') == len(load_predictor(models["lame"])[1](TEXT)["words"])


def test_demo_predictors_and_viewer_import_each_other_one_way():
    """demo -> predictors, viewer; viewer -> its command line, which alone loads predictors; predictors -> saved_kinds only."""
    import ast
    from pathlib import Path

    import labelwise

    root = Path(labelwise.__file__).parent
    files = {
        "demo": root / "demo.py", "predictors": root / "analysis" / "predictors.py",
        "viewer": root / "analysis" / "viewer.py", "saved_kinds": root / "saved_kinds.py",
        "viewer_command": root / "analysis" / "viewer_command.py",
    }
    names = {
        "demo": ("labelwise.demo", "labelwise_demo"),
        "predictors": ("labelwise.analysis.predictors", "labelwise_predictors"),
        "viewer": ("labelwise.analysis.viewer", "labelwise_viewer"),
        "saved_kinds": ("labelwise.saved_kinds", "labelwise_saved_kinds"),
        "viewer_command": ("labelwise.analysis.viewer_command",),
    }
    imports = {}
    for module, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            for target in targets:
                found |= {other for other, spelled in names.items() if target in spelled and other != module}
        imports[module] = found
    assert imports == {"demo": {"predictors", "viewer"}, "predictors": {"saved_kinds"}, "viewer": {"viewer_command"},
                       "viewer_command": {"predictors"}, "saved_kinds": set()}


def test_integrated_gradients_evidence_replaces_attention_for_the_predicted_labels(models):
    """`evidence_method="integrated_gradients"`: the predicted labels' evidence is IG's top words
    (the explanation evaluation's own scores), the other labels get none, and the view says so."""
    from labelwise.explain.methods import Explainer, word_scores
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _, attention = load_predictor(models["lame"])
    _, integrated = load_predictor(models["lame"], evidence_method="integrated_gradients")
    plain, result = attention(TEXT), integrated(TEXT)
    assert result["evidence_method"] == "integrated_gradients"
    # Same labels, probabilities and decisions; only the evidence changes.
    assert [(i["label"], i["score"], i["predicted"]) for i in result["labels"]] == [
        (i["label"], i["score"], i["predicted"]) for i in plain["labels"]
    ]
    assert [i["label"] for i in result["labels"] if i["predicted"]] == ["growth"] == list(result["word_weights"])
    model = AutoModelForSequenceClassification.from_pretrained(models["lame"]).eval()
    explainer = Explainer(model, AutoTokenizer.from_pretrained(models["lame"]))
    encoded = explainer.encode(TEXT)
    growth = {name: index for index, name in model.config.id2label.items()}["growth"]
    expected = word_scores(explainer.explain(encoded, growth, "integrated_gradients"), encoded)
    assert len(result["words"]) == len(expected) == len(result["word_weights"]["growth"])
    assert result["word_weights"]["growth"] == pytest.approx([max(s, 0.0) for s in expected], abs=1e-4)
    evidence = {i["label"]: i["evidence"] for i in result["labels"]}
    best = sorted(range(len(expected)), key=lambda i: -expected[i])[:5]
    assert [e["start"] for e in evidence["growth"]] == [result["words"][i]["start"] for i in best if expected[i] > 0]
    assert evidence["immune"] == evidence["vessel"] == []
    page = render_fragment(result)
    assert "integrated gradients" in page and page.count('class="lw-radio"') == 1


def test_integrated_gradients_gives_a_plain_classifier_evidence_words(models):
    _, predict = load_predictor(models["sequence_classification"], threshold=0.5, evidence_method="integrated_gradients")
    result = predict(TEXT)
    explained = [i for i in result["labels"] if i["label"] in result["word_weights"]]
    predicted = [i for i in result["labels"] if i["predicted"]]
    assert explained == (predicted or result["labels"][:1])
    assert all(len(weights) == len(result["words"]) and min(weights) >= 0 for weights in result["word_weights"].values())
    assert any(i["evidence"] for i in explained)
    assert "lw-w" in render_fragment(result)  # the document is shaded, which a plain classifier's view never was


def test_viewer_command_takes_the_evidence_method(models, tmp_path, capsys):
    from labelwise.analysis import viewer

    output = tmp_path / "view.html"
    viewer.main(["--model", models["sequence_classification"], "--text", TEXT, "--output", str(output),
                 "--evidence_method", "integrated_gradients"])
    page = output.read_text(encoding="utf-8")
    assert "<h1>Evidence words (integrated gradients)</h1>" in page
    assert "integrated gradients" in page and page.count('class="lw-w"') == len(re.findall(r"\w+|[^\w\s]", TEXT))


def test_evidence_method_errors_name_the_choices(models, tmp_path):
    with pytest.raises(ValueError, match="choose from attention, integrated_gradients"):
        load_predictor(models["lame"], evidence_method="saliency")
    with pytest.raises(ValueError, match="explains text classifiers"):
        load_predictor(models["token_classification"], evidence_method="integrated_gradients")
    # A model that reads documents in segments takes no input embeddings: refused before predicting.
    segmented = tmp_path / "segmented"
    shutil.copytree(models["lame"], segmented)
    config = json.loads((segmented / "config.json").read_text())
    (segmented / "config.json").write_text(json.dumps({**config, "max_document_length": 1024}))
    with pytest.raises(ValueError, match="reads documents in segments"):
        load_predictor(str(segmented), evidence_method="integrated_gradients")
    # A checkpoint whose own pipeline code predates the option: refused at load, saying what to do.
    older = tmp_path / "older"
    shutil.copytree(models["lame"], older)
    code = (older / "pipeline_lame.py").read_text()
    code = code.replace("        evidence_method=None,\n", "", 1).replace("if evidence_method is not None and", "if False and", 1)
    (older / "pipeline_lame.py").write_text(code)
    with pytest.raises(ValueError, match="predates it. Load the model without trust_remote_code"):
        load_predictor(str(older), trust_remote_code=True, evidence_method="integrated_gradients")


def test_demo_with_integrated_gradients_warns_and_shows_its_evidence(models):
    gradio = pytest.importorskip("gradio")
    from labelwise.demo import build_demo

    demo = build_demo(models["lame"], evidence_method="integrated_gradients")
    notes = [block.value for block in demo.blocks.values() if isinstance(block, gradio.Markdown)]
    assert any("Evidence words by integrated gradients" in note for note in notes)
    (predict,) = [f.fn for f in demo.fns.values() if f.api_name == "predict"]
    page, prediction = predict(TEXT)
    assert prediction["evidence_method"] == "integrated_gradients" and "integrated gradients" in page
