"""The Inference Endpoints handler copied into pushed repos, run where labelwise is not installed."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from demo_models import save_classifier, save_lame, save_layerwise, save_ner
from helpers import run_python_without_labelwise
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from labelwise.publishing.handler import EndpointHandler

TEXTS = ["The tumor cells showed growth signals.", "Severe rash and fever after the drug."]


def install_handler(folder) -> None:
    """handler.py and the files it loads from beside itself, as push_to_hub.py uploads them."""
    from labelwise.publishing.push import handler_files

    for name, data in handler_files().items():
        (folder / name).write_bytes(data)


def save_layerwise_with_pipeline(folder):
    """A layer-wise model saved through its pipeline, so config.json names `hierarchical-classification`."""
    from labelwise.modeling.pipeline_layerwise import register_layerwise_pipeline

    plain = save_layerwise(folder.parent / "layerwise-plain")
    register_layerwise_pipeline()
    pipeline("hierarchical-classification", model=plain, trust_remote_code=True).save_pretrained(str(folder))
    return folder


@pytest.mark.slow
def test_handler_serves_every_kind_in_a_process_without_labelwise(tmp_path):
    folders = {
        "classifier": save_classifier(tmp_path / "classifier"),
        "lame": save_lame(tmp_path / "lame"),
        "ner": save_ner(tmp_path / "ner"),
        "layerwise": str(save_layerwise_with_pipeline(tmp_path / "layerwise")),
    }
    requests = {
        "classifier": [{"inputs": TEXTS[0]}, {"inputs": TEXTS}, {"inputs": TEXTS[0], "parameters": {"top_k": 1}}],
        "lame": [{"inputs": TEXTS[0]}, {"inputs": TEXTS[0], "parameters": {"threshold": 0.99, "top_k_evidence": 2}}],
        "ner": [{"inputs": TEXTS[1]}],
        "layerwise": [{"inputs": TEXTS[1], "parameters": {"threshold": 0.0}}],
    }
    for folder in folders.values():
        install_handler(tmp_path / folder)
    code = textwrap.dedent(
        f"""
        import json, sys
        folders, requests = {json.dumps(folders)}, {json.dumps(requests)}
        answers = {{}}
        for kind, folder in folders.items():
            sys.path.insert(0, folder)
            from handler import EndpointHandler
            endpoint = EndpointHandler(folder)
            answers[kind] = [endpoint(request) for request in requests[kind]]
            sys.path.remove(folder)
            del sys.modules["handler"]
        print(json.dumps(answers))
        """
    )
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])

    # Plain classifier: every label, sigmoid probabilities (multi-label), best first.
    tokenizer = AutoTokenizer.from_pretrained(folders["classifier"])
    model = AutoModelForSequenceClassification.from_pretrained(folders["classifier"]).eval()
    with torch.no_grad():
        probabilities = torch.sigmoid(model(**tokenizer(TEXTS, return_tensors="pt", padding=True)).logits)
    single, batch, top1 = answers["classifier"]
    for got, expected in zip([single] + batch, [probabilities[0], probabilities[0], probabilities[1]]):
        assert [item["score"] for item in got] == sorted((item["score"] for item in got), reverse=True)
        assert {item["label"]: item["score"] for item in got} == pytest.approx(
            {model.config.id2label[i]: float(p) for i, p in enumerate(expected)}, abs=1e-5
        )
    assert len(batch) == 2 and len(top1) == 1 and top1[0]["label"] == single[0]["label"]

    # LAME: its own pipeline's output (labels, probabilities, evidence words), parameters honoured.
    local_lame = pipeline(model=folders["lame"], trust_remote_code=True)
    default, strict = answers["lame"]
    expected = local_lame(TEXTS[0])
    assert [(x["label"], x["predicted"]) for x in default["labels"]] == [
        (x["label"], x["predicted"]) for x in expected["labels"]
    ]
    assert [x["score"] for x in default["labels"]] == pytest.approx([x["score"] for x in expected["labels"]], abs=1e-5)
    assert [[w["word"] for w in x["evidence"]] for x in default["labels"]] == [
        [w["word"] for w in x["evidence"]] for x in expected["labels"]
    ]
    assert any(x["evidence"] for x in default["labels"])
    assert [x["predicted"] for x in strict["labels"]] == [x["score"] >= 0.99 for x in strict["labels"]]
    assert all(len(x["evidence"]) <= 2 for x in strict["labels"])

    # NER: the standard token-classification pipeline with merged entity groups.
    expected_spans = pipeline("token-classification", model=folders["ner"], aggregation_strategy="simple")(TEXTS[1])
    (spans,) = answers["ner"]
    assert [(s["entity_group"], s["start"], s["end"]) for s in spans] == [
        (s["entity_group"], s["start"], s["end"]) for s in expected_spans
    ]
    assert spans, "the fixture's tagger predicts ADR spans"

    # Layer-wise: labels per hierarchy level.
    (levels,) = answers["layerwise"]
    assert [level["level"] for level in levels] == [1, 2]
    assert {x["label"] for x in levels[0]["labels"]} == {"trade", "health"}


@pytest.mark.parametrize(
    "request_body, message",
    [
        ({"text": "x"}, '"inputs"'),
        ({"inputs": 3}, "got int"),
        ({"inputs": ["ok", 5]}, "items [1]"),
        ({"inputs": []}, "non-empty"),
        ({"inputs": "x", "parameters": [1]}, '"parameters" must be a JSON object'),
    ],
)
def test_handler_rejects_malformed_requests(tmp_path_factory, request_body, message):
    folder = tmp_path_factory.getbasetemp() / "malformed-classifier"
    if not (folder / "config.json").exists():
        save_classifier(folder)
    with pytest.raises(ValueError) as error:
        EndpointHandler(str(folder))(request_body)
    assert message in str(error.value)
