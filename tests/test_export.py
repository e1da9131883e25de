"""ONNX export of every model kind: parity with PyTorch, int8, serving through the pipelines, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from demo_models import LAME_DESCRIPTIONS, save_classifier, save_lame, save_layerwise, save_ner
from helpers import tiny_bert_checkpoint, tiny_tokenizer
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from labelwise.export import ExportOptions, OnnxModel, export_model, model_kind, onnx_pipeline
from labelwise.export.__main__ import main as export_main
from labelwise.export.graphs import check_lame_options
from labelwise.modeling import LameForSequenceClassification

TEXTS = [
    "The tumor cells showed growth signals and apoptosis after the drug.",
    "Severe rash and fever.",
    "Chronic inflammation of the blood vessel with angiogenesis and invasion in patients.",
]
FP32_TOLERANCE = 1e-4


def save_frozen_lame(folder: Path) -> str:
    """The frozen-encoder baseline: CNN features before the label attention; multi-class, two blocks."""
    bert = tiny_bert_checkpoint(folder.parent / f"{folder.name}-bert", seed=3)
    model = LameForSequenceClassification.from_pretrained(
        bert, label_descriptions=LAME_DESCRIPTIONS, label_attention_heads=4, freeze_encoder=True,
        feature_head="cnn", num_label_attention_blocks=2, problem_type="single_label_classification",
    )
    model.save_pretrained(str(folder))
    tiny_tokenizer(folder)
    return str(folder)


def save_label_agnostic_lame(folder: Path) -> str:
    """A label-agnostic LAME head (first stage, light head, mean-pooled descriptions, similarity term, the
    document classifier's free rows) with a label added after training: the graph holds the extended
    label set, the new label with a zero row."""
    bert = tiny_bert_checkpoint(folder.parent / f"{folder.name}-bert", seed=5)
    model = LameForSequenceClassification.from_pretrained(
        bert, label_descriptions=LAME_DESCRIPTIONS, label_attention_heads=4, label_scoring="label_agnostic",
        first_stage="bilinear", light_label_head=True, problem_type="multi_label_classification",
        description_pooling="mean", similarity_term=True, similarity_scale=3.0, document_classifier=True,
    ).eval()
    tokenizer = tiny_tokenizer(folder)
    model.add_labels({"skin": "severe rash on the skin"}, tokenizer)
    model.save_pretrained(str(folder))
    return str(folder)


MAKERS = {
    "lame": save_lame,
    "frozen_lame": save_frozen_lame,
    "lame_label_agnostic": save_label_agnostic_lame,
    "layerwise": save_layerwise,
    "token_classification": save_ner,
    "sequence_classification": save_classifier,
}
KIND_OF = {"frozen_lame": "lame", "lame_label_agnostic": "lame"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every kind saved, then exported once with its int8 variant: {name: (model folder, export folder, manifest)}."""
    root = tmp_path_factory.mktemp("export")
    result = {}
    for name, make in MAKERS.items():
        folder = make(root / name)
        manifest = export_model(folder, str(root / f"{name}-onnx"), ExportOptions(quantize="int8"))
        result[name] = (folder, str(root / f"{name}-onnx"), manifest)
    return result


def load_torch(folder: str):
    config = json.loads((Path(folder) / "config.json").read_text())
    if any(a.endswith("ForTokenClassification") for a in config.get("architectures", [])):
        return AutoModelForTokenClassification.from_pretrained(folder).eval()
    return AutoModelForSequenceClassification.from_pretrained(folder).eval()


def reference_outputs(model, name: str, inputs: dict) -> dict[str, np.ndarray]:
    """The PyTorch model's own forward pass (not the export wrapper), as the ONNX outputs are named."""
    with torch.no_grad():
        if KIND_OF.get(name, name) == "lame":
            out = model(**inputs, output_cross_attentions=True)
            return {"logits": out.logits.numpy(), "label_attention": out.cross_attentions[-1].mean(1).numpy()}
        if name == "layerwise":
            out = model(**inputs, hierarchical_consistency=False)
            levels = {f"level_{n}_logits": v.numpy() for n, v in enumerate(out.level_logits, 1)}
            return {"logits": out.logits.numpy(), **levels}
        return {"logits": model(**inputs).logits.numpy()}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MAKERS))
def test_fp32_graph_matches_pytorch_on_new_shapes(exported, name):
    folder, onnx_folder, manifest = exported[name]
    assert manifest["kind"] == KIND_OF.get(name, name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = load_torch(folder)
    # Batch sizes and lengths the graph was not traced with (dynamic axes), padding included.
    for texts in (TEXTS, TEXTS[1:2], [TEXTS[2] + " " + TEXTS[0]] * 5):
        inputs = dict(tokenizer(texts, return_tensors="pt", padding=True))
        expected = reference_outputs(model, name, inputs)
        got = OnnxModel(onnx_folder).run(**inputs)
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key].shape == value.shape, key
            difference = float(np.abs(got[key] - value).max())
            assert difference <= FP32_TOLERANCE, f"{name} {key}: max abs diff {difference:.2e}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MAKERS))
def test_int8_graph_is_written_and_stays_close(exported, name):
    folder, onnx_folder, manifest = exported[name]
    assert manifest["files"] == {"fp32": "model.onnx", "int8": "model_int8.onnx"}
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(Path(onnx_folder) / "model_int8.onnx")).graph
    assert any(node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear") for node in graph.node)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    inputs = dict(tokenizer(TEXTS, return_tensors="pt", padding=True))
    # 7-bit weights (reduce_range, the default): a uint8 x int8 pair sum stays within int16, so CPUs
    # without VNNI (AVX2) cannot saturate it and compute what VNNI CPUs compute.
    assert manifest["quantization"]["reduce_range"] is True
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights and all(w.min() >= -64 and w.max() <= 64 for w in weights)
    fp32, int8 = OnnxModel(onnx_folder).run(**inputs), OnnxModel(onnx_folder, quantized=True).run(**inputs)
    difference = float(np.abs(fp32["logits"] - int8["logits"]).max())
    # Quantized weights change the scores a little, not a lot: at most 2.8e-3 on these random tiny models
    # on an AVX2 CPU without VNNI (AMD EPYC), where 8-bit per-channel weights saturated to 0.063.
    assert 0 < difference < 0.05, difference


@pytest.mark.slow
def test_export_folder_is_self_contained(exported):
    _, onnx_folder, manifest = exported["lame"]
    names = {path.name for path in Path(onnx_folder).iterdir()}
    assert {"model.onnx", "config.json", "onnx_serving.py", "onnx_export.json", "pipeline_lame.py",
            "configuration_lame.py", "tokenizer.json"} <= names
    manifest = json.loads((Path(onnx_folder) / "onnx_export.json").read_text())
    assert manifest["outputs"] == {"logits": {"0": "batch"}, "label_attention": {"0": "batch", "2": "sequence"}}
    assert max(manifest["max_abs_diff_vs_pytorch"]["fp32"].values()) <= FP32_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("quantized", [False, True])
def test_lame_pipeline_output_from_onnx_matches_pytorch(exported, quantized):
    from transformers import pipeline

    folder, onnx_folder, _ = exported["lame"]
    reference = pipeline("label-attention-classification", model=folder, trust_remote_code=True)
    served = onnx_pipeline(onnx_folder, quantized=quantized)
    tolerance = 0.05 if quantized else FP32_TOLERANCE
    for text in TEXTS:
        want, got = reference(text, top_k_evidence=3), served(text, top_k_evidence=3)
        assert [item["label"] for item in got["labels"]] == [item["label"] for item in want["labels"]]
        for a, b in zip(got["labels"], want["labels"]):
            assert a["score"] == pytest.approx(b["score"], abs=tolerance)
            assert a["predicted"] == b["predicted"]
            if not quantized:  # evidence words: same words, same weights
                assert [w["word"] for w in a["evidence"]] == [w["word"] for w in b["evidence"]]
                assert [w["weight"] for w in a["evidence"]] == pytest.approx([w["weight"] for w in b["evidence"]], abs=tolerance)
        assert got["words"] == want["words"]
    assert any(item["predicted"] and item["evidence"] for item in served(TEXTS[0])["labels"])


@pytest.mark.slow
def test_onnx_lame_pipeline_refuses_candidate_labels(exported):
    folder, onnx_folder, _ = exported["lame_label_agnostic"]
    served = onnx_pipeline(onnx_folder)
    assert len(served(TEXTS[0])["labels"]) == len(LAME_DESCRIPTIONS) + 1
    with pytest.raises(ValueError, match="candidate_labels needs the PyTorch model"):
        served(TEXTS[0], candidate_labels={"fever": "fever after the drug"})


@pytest.mark.slow
def test_other_kinds_serve_through_their_pipelines(exported):
    from transformers import pipeline

    folder, onnx_folder, _ = exported["sequence_classification"]
    want = pipeline("text-classification", model=folder, top_k=None)([TEXTS[0]])[0]
    got = onnx_pipeline(onnx_folder)([TEXTS[0]])[0]
    assert {d["label"]: d["score"] for d in got} == pytest.approx({d["label"]: d["score"] for d in want}, abs=FP32_TOLERANCE)

    folder, onnx_folder, _ = exported["token_classification"]
    want = pipeline("token-classification", model=folder, aggregation_strategy="simple")(TEXTS[1])
    got = onnx_pipeline(onnx_folder)(TEXTS[1])
    assert [(e["entity_group"], e["start"], e["end"]) for e in got] == [(e["entity_group"], e["start"], e["end"]) for e in want]

    from labelwise.modeling.pipeline_layerwise import register_layerwise_pipeline

    register_layerwise_pipeline()
    folder, onnx_folder, _ = exported["layerwise"]
    want = pipeline("hierarchical-classification", model=folder, trust_remote_code=True)(TEXTS[1], threshold=0.0)
    got = onnx_pipeline(onnx_folder)(TEXTS[1], threshold=0.0)
    assert [level["level"] for level in got] == [level["level"] for level in want]
    for a, b in zip(got, want):
        assert {x["label"]: x["score"] for x in a["labels"]} == pytest.approx({x["label"]: x["score"] for x in b["labels"]}, abs=FP32_TOLERANCE)


@pytest.mark.slow
def test_tagger_code_runs_unchanged_on_the_onnx_model(exported):
    from labelwise.ner.tagger import predict_tags

    folder, onnx_folder, _ = exported["token_classification"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    words = [text.split() for text in TEXTS]
    assert predict_tags(OnnxModel(onnx_folder), tokenizer, words) == predict_tags(load_torch(folder), tokenizer, words)


@pytest.mark.slow
def test_command_line_export(tmp_path):
    folder = save_classifier(tmp_path / "classifier")
    manifest = export_main(["--model", folder, "--output", str(tmp_path / "out")])
    assert manifest["files"] == {"fp32": "model.onnx"}
    assert (tmp_path / "out" / "model.onnx").exists() and not (tmp_path / "out" / "model_int8.onnx").exists()
    with pytest.raises(FileNotFoundError, match="--quantize int8"):
        OnnxModel(str(tmp_path / "out"), quantized=True)


def test_unknown_lame_head_option_is_refused_with_the_field_named(tmp_path):
    model = LameForSequenceClassification.from_pretrained(
        tiny_bert_checkpoint(tmp_path / "bert"), label_descriptions=LAME_DESCRIPTIONS, label_attention_heads=4
    )
    check_lame_options(model.config)  # the shipped options pass
    model.config.feature_head = "shortlist"  # as a future head option would set it
    with pytest.raises(ValueError, match="feature_head.*LAME_HEAD_OPTIONS"):
        check_lame_options(model.config)
    assert model_kind(model) == "lame"


def test_unsupported_model_and_bad_options_are_refused(tmp_path):
    from transformers import BertModel

    from helpers import tiny_bert_config

    with pytest.raises(ValueError, match="Cannot export a BertModel"):
        model_kind(BertModel(tiny_bert_config()))
    with pytest.raises(ValueError, match="--quantize"):
        ExportOptions(quantize="int4")
    with pytest.raises(FileNotFoundError, match="not a labelwise ONNX export"):
        OnnxModel(str(tmp_path))


# -- publishing: push_to_hub.py --include_onnx and the endpoint handler on the ONNX graph -----------------


@pytest.mark.slow
def test_push_include_onnx_then_the_handler_serves_the_graph_without_labelwise(tmp_path, monkeypatch):
    import textwrap

    from fake_hub import FakeHub
    from helpers import run_python_without_labelwise
    from huggingface_hub import constants

    from labelwise.publishing.push import push_folder

    folder = Path(save_lame(tmp_path / "lame"))
    summary = {"labelwise_version": "0.1.0", "model_kind": "lame", "task": "multi_label", "base_model": None,
               "dataset": {"name": "demo", "hub_id": None, "config": {}}, "hyperparameters": {},
               "metrics": {"test": {"micro_f1": 0.5}}, "widget_examples": [TEXTS[0]], "label_descriptions": None, "levels": None}
    (folder / "training_summary.json").write_text(json.dumps(summary))
    token = "hf_FakeSecretToken0123456789abcdef"
    with FakeHub(tmp_path / "hub", token=token) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_TOKEN", token)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        push_folder(folder, "user/lame-onnx", include_onnx=True)
        files = hub.files("user/lame-onnx")
    assert {"onnx/model.onnx", "onnx/model_int8.onnx", "onnx/onnx_serving.py", "onnx/onnx_export.json",
            "onnx/pipeline_lame.py", "onnx/config.json", "handler.py", "model.safetensors"} <= set(files)
    readme = files["README.md"].decode()
    assert "## ONNX" in readme and 'hf download user/lame-onnx --include "onnx/*"' in readme
    assert "onnxruntime" in files["requirements.txt"].decode()
    assert "## ONNX" not in (folder / "README.md").read_text()  # the local card is left as it was

    # The repo as an endpoint sees it; answers from the torch and the ONNX backends, in a process without labelwise.
    repo = tmp_path / "repo"
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    code = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(repo)!r})
        from handler import EndpointHandler
        answers = {{}}
        for backend in ("torch", "onnx", "onnx-int8"):
            os.environ["LABELWISE_BACKEND"] = backend
            endpoint = EndpointHandler({str(repo)!r})
            answers[backend] = [type(endpoint.pipeline.model).__name__, endpoint({{"inputs": {TEXTS[0]!r}}})]
        print("ANSWERS " + json.dumps(answers))
        """
    )
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ANSWERS " in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])
    answers = json.loads(result.stdout.rsplit("ANSWERS ", 1)[1].splitlines()[0])
    assert answers["torch"][0] == "LameForSequenceClassification" and answers["onnx"][0] == "OnnxModel"
    torch_answer, onnx_answer, int8_answer = answers["torch"][1], answers["onnx"][1], answers["onnx-int8"][1]
    assert [x["label"] for x in onnx_answer["labels"]] == [x["label"] for x in torch_answer["labels"]]
    for a, b, c in zip(onnx_answer["labels"], torch_answer["labels"], int8_answer["labels"]):
        assert a["score"] == pytest.approx(b["score"], abs=FP32_TOLERANCE)
        assert c["score"] == pytest.approx(b["score"], abs=0.05)
        assert [w["word"] for w in a["evidence"]] == [w["word"] for w in b["evidence"]]
    assert any(item["evidence"] for item in onnx_answer["labels"])


def test_handler_refuses_an_unknown_backend(tmp_path, monkeypatch):
    from labelwise.publishing.handler import EndpointHandler

    folder = save_classifier(tmp_path / "classifier")
    monkeypatch.setenv("LABELWISE_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="LABELWISE_BACKEND='tensorrt'"):
        EndpointHandler(folder)
    monkeypatch.setenv("LABELWISE_BACKEND", "onnx")  # asked for, but the folder has no onnx/ export
    with pytest.raises(ValueError, match="push with --include_onnx"):
        EndpointHandler(folder)
