"""Model cards: every kind renders, its YAML parses, model-index holds exactly the measured results,
and the card's code runs (in a fresh process without labelwise)."""

from __future__ import annotations

import json
import re

import pytest
from demo_models import LAME_DESCRIPTIONS, NER_LABELS, save_classifier, save_lame, save_layerwise, save_ner
from helpers import run_python_without_labelwise
from huggingface_hub import ModelCard

from labelwise.publishing.model_card import (
    REPO_ID_PLACEHOLDER,
    build_model_card,
    card_for_repo,
    measured_results,
    metric_display_name,
    write_model_card,
)

LAME_AUTO_MAP = {
    "AutoConfig": "configuration_lame.LameConfig",
    "AutoModelForSequenceClassification": "modeling_lame.LameForSequenceClassification",
}
SYNTHETIC = {
    # kind: (task, config.json fields, labels -> descriptions, levels)
    "lame": (
        "multi_label",
        {
            "architectures": ["LameForSequenceClassification"],
            "auto_map": LAME_AUTO_MAP,
            "problem_type": "multi_label_classification",
            "custom_pipelines": {
                "label-attention-classification": {"impl": "pipeline_lame.LameClassificationPipeline"}
            },
        },
        LAME_DESCRIPTIONS,
        None,
    ),
    "frozen_lame": (
        "multi_class",
        {
            "architectures": ["LameForSequenceClassification"],
            "auto_map": LAME_AUTO_MAP,
            "problem_type": "single_label_classification",
            "freeze_encoder": True,
            "feature_head": "cnn",
        },
        {"neg": "no adverse event", "pos": "an adverse drug event"},
        None,
    ),
    "vanilla": (
        "multi_class",
        {"architectures": ["BertForSequenceClassification"], "problem_type": "single_label_classification"},
        {"a": None, "b": None, "c": None},
        None,
    ),
    "layerwise": (
        "hierarchical",
        {
            "architectures": ["LayerwiseBertForHierarchicalClassification"],
            "auto_map": {"AutoConfig": "configuration_layerwise.LayerwiseConfig"},
            "problem_type": "multi_label_classification",
        },
        {"trade": "trade", "trade.fish": "fish products"},
        {"trade": 1, "trade.fish": 2},
    ),
    "token_classification": (
        "ner",
        {"architectures": ["BertForTokenClassification"]},
        {name: None for name in NER_LABELS},
        None,
    ),
}
METRICS = {
    "validation": {"micro_f1": 0.8125, "accuracy": 0.5, "eval_runtime": 3.25, "eval_samples_per_second": 12.0},
    "test": {"eval_micro_f1": 0.75, "loss": 0.4321, "per_label": {"a": 0.1}},
}


def summary_for(kind: str, metrics=METRICS, **overrides) -> dict:
    task, _, descriptions, levels = SYNTHETIC[kind]
    summary = {
        "labelwise_version": "0.1.0",
        "model_kind": kind,
        "task": task,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "dataset": {"name": "hoc", "hub_id": "bigbio/hallmarks_of_cancer", "config": {"split_seed": 1}},
        "hyperparameters": {"learning_rate": 5e-05, "epochs": 3, "batch_size": 42},
        "metrics": metrics,
        "train_runtime_seconds": 123.4,
        "hardware": "2 CPU cores",
        "widget_examples": ["The tumor cells showed growth signals.", "Severe rash after the drug."],
        "label_descriptions": {k: v for k, v in descriptions.items() if v} or None,
        "levels": levels,
    }
    summary.update(overrides)
    return summary


def write_synthetic(folder, kind: str, **summary_overrides):
    _, config, descriptions, _ = SYNTHETIC[kind]
    folder.mkdir(parents=True, exist_ok=True)
    labels = list(descriptions)
    config = {
        **config,
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "training_summary.json").write_text(json.dumps(summary_for(kind, **summary_overrides)))
    return folder


@pytest.mark.parametrize("kind", list(SYNTHETIC))
def test_every_kind_renders_with_parsable_metadata_and_measured_results(tmp_path, kind):
    folder = write_synthetic(tmp_path / kind, kind)
    path = write_model_card(folder)
    card = ModelCard.load(path)  # parses the YAML header, model-index included
    data = card.data
    ner = kind == "token_classification"
    assert data.pipeline_tag == ("token-classification" if ner else "text-classification")
    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert data.datasets == ["bigbio/hallmarks_of_cancer"]
    assert data.license == "apache-2.0"
    assert [item["text"] for item in data.widget] == summary_for(kind)["widget_examples"]

    measured = {(r.dataset_split, r.metric_type, r.metric_value) for r in data.eval_results}
    assert measured == {
        ("validation", "micro_f1", 0.8125),
        ("validation", "accuracy", 0.5),
        ("test", "micro_f1", 0.75),
        ("test", "loss", 0.4321),
    }
    assert {r.dataset_name for r in data.eval_results} == {"hoc"}
    assert "| Micro F1 | 0.8125 |" in card.text

    _, config, descriptions, levels = SYNTHETIC[kind]
    for index, (label, description) in enumerate(descriptions.items()):
        row = f"| {index} | {label} |" + (f" {levels[label]} |" if levels else "")
        assert row + (f" {description} |" if description else "") in card.text
    assert "| `learning_rate` | 5e-05 |" in card.text
    assert "research only" in card.text and "clinical decision" in card.text
    custom_code = "auto_map" in config
    assert ("does not run models that need custom code" in card.text) == custom_code
    assert ("widget on this" in card.text) == (not custom_code)
    assert "handler.py" in card.text
    assert f'repo = "{REPO_ID_PLACEHOLDER}"' in card.text or f'model="{REPO_ID_PLACEHOLDER}"' in card.text
    if ner:
        assert 'pipeline("token-classification"' in card.text and 'aggregation_strategy="simple"' in card.text
    else:
        assert "AutoModelForSequenceClassification.from_pretrained(repo" in card.text
        assert ("trust_remote_code=True" in card.text) == custom_code
    if kind == "lame":
        assert 'pipeline(model="' in card.text and "label-attention-classification" in card.text
    # The frozen baseline is described from its config (frozen encoder, CNN features), not from its kind's name.
    frozen = "only the label attention, the CNN feature extractor and the\nclassifier learn" in card.text
    assert frozen == (kind == "frozen_lame")


def test_unevaluated_model_gets_no_model_index(tmp_path):
    folder = write_synthetic(tmp_path / "m", "lame", metrics={})
    card = ModelCard.load(write_model_card(folder))
    assert card.data.eval_results is None
    assert "model-index" not in card.content
    assert "This model was not evaluated" in card.text


def test_results_are_taken_not_invented():
    assert measured_results({"metrics": METRICS}) == {
        "validation": {"micro_f1": 0.8125, "accuracy": 0.5},
        "test": {"micro_f1": 0.75, "loss": 0.4321},
    }
    assert measured_results({"metrics": {"test": {"f1": float("nan")}}}) == {}


@pytest.mark.parametrize(
    "name, shown",
    [
        ("micro_f1", "Micro F1"),
        ("rp_macro", "R-Precision (macro)"),
        ("rp_level_3", "R-Precision, level 3"),
        ("p_at_5", "P@5"),
        ("ndcg_at_10", "nDCG@10"),
        ("subset_accuracy", "Subset accuracy"),
    ],
)
def test_metric_display_names(name, shown):
    assert metric_display_name(name) == shown


def test_local_base_model_is_kept_out_of_the_metadata(tmp_path):
    folder = write_synthetic(tmp_path / "m", "vanilla", base_model=str(tmp_path))
    card = build_model_card(folder)
    assert card.data.base_model is None
    assert f"`{tmp_path}`" in card.text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model_kind": "bart"}, "field 'model_kind' is 'bart'"),
        ({"task": "regression"}, "field 'task' is 'regression'"),
        ({"metrics": {"test": 0.5}}, "field 'metrics'"),
    ],
)
def test_bad_summary_names_file_and_field(tmp_path, change, message):
    folder = write_synthetic(tmp_path / "m", "vanilla", **change)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        build_model_card(folder)
    assert "training_summary.json" in str(error.value)


def test_missing_summary_says_what_to_do(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="training_summary.json"):
        build_model_card(tmp_path)


def test_card_for_repo_fills_repo_id_and_can_drop_the_handler_paragraph(tmp_path):
    text = build_model_card(write_synthetic(tmp_path / "m", "lame")).content
    pushed = card_for_repo(text, "me/lame-hoc", include_handler=False)
    assert REPO_ID_PLACEHOLDER not in pushed and 'repo = "me/lame-hoc"' in pushed
    assert "handler.py" not in pushed
    assert ModelCard(pushed).data.eval_results  # metadata untouched


SAVERS = {"vanilla": save_classifier, "lame": save_lame, "layerwise": save_layerwise, "token_classification": save_ner}
CODE_TASKS = {
    "vanilla": "multi_label",
    "lame": "multi_label",
    "layerwise": "hierarchical",
    "token_classification": "ner",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SAVERS))
def test_the_cards_code_runs_without_labelwise(tmp_path, kind):
    folder = tmp_path / "model"
    SAVERS[kind](folder)
    config = json.loads((folder / "config.json").read_text())
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    summary = summary_for(kind, metrics={})
    summary.update(task=CODE_TASKS[kind], label_descriptions=None, levels=None)
    (folder / "training_summary.json").write_text(json.dumps(summary))
    text = build_model_card(folder).text.replace(REPO_ID_PLACEHOLDER, str(folder))
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    # NER: the pipeline; others: model + pipeline (the custom models' save_pretrained writes theirs).
    assert len(blocks) == (1 if kind == "token_classification" else 2)
    result = run_python_without_labelwise("\n".join(blocks), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    if kind == "token_classification":
        assert re.search(r"^ADR \S", result.stdout, flags=re.M), result.stdout
    else:
        printed = [line.split()[0] for line in result.stdout.splitlines() if line.split() and line.split()[0] in labels]
        assert sorted(printed[: len(labels)]) == sorted(labels), result.stdout
    if kind == "lame":
        assert "'evidence'" in result.stdout  # the custom pipeline's output


def test_code_example_is_a_short_whole_sentence_prefix_of_the_first_widget_text(tmp_path):
    long_text = "The tumor cells showed growth signals. " * 20
    folder = write_synthetic(tmp_path / "m", "vanilla", widget_examples=[long_text])
    card = build_model_card(folder)
    example = re.search(r"^text = (.*)$", card.text, flags=re.M).group(1)
    assert example.startswith('"The tumor cells showed growth signals.') and example.endswith('signals."')
    assert len(example) <= 302 and long_text.startswith(json.loads(example))
    assert card.data.widget == [{"text": long_text}]  # the widget keeps the whole text


def test_lame_card_states_the_measured_explanation_quality_or_how_to_measure_it(tmp_path):
    from labelwise.explain.evaluate import QUALITY_FILE

    folder = write_synthetic(tmp_path / "lame", "lame")
    unmeasured = ModelCard.load(write_model_card(folder)).text
    assert "### How far the evidence words can be trusted" in unmeasured
    assert "Not measured for this model" in unmeasured and "--record_in_model" in unmeasured

    def cell(mean):
        return {"mean": mean, "low": mean - 0.01, "high": mean + 0.01}

    methods = {
        "random": {"auprc": cell(0.333), "comprehensiveness_area": cell(0.052), "sufficiency_area": cell(0.307)},
        "grad_x_input": {"auprc": cell(0.334), "comprehensiveness_area": cell(0.023), "sufficiency_area": cell(0.328)},
        "attention": {"auprc": cell(0.347), "precision@10": cell(0.325), "recall@10": cell(0.117),
                      "comprehensiveness_area": cell(0.378), "sufficiency_area": cell(0.010)},
    }
    (folder / QUALITY_FILE).write_text(json.dumps({"corpus": "hoc", "split": "test", "pairs": 132, "fractions": [0.01, 0.05, 0.1, 0.2],
                                                   "evidence_method": "attention", "methods": methods}))
    card = ModelCard.load(write_model_card(folder)).text
    assert "Not measured" not in card and "on hoc (test split, 132 (document,\ngold label) pairs)" in card
    assert "when the top\n1, 5, 10 and 20% words are deleted" in card
    rows = [line for line in card.splitlines() if line.startswith("| ") and "[" in line and "0.0" in line]
    # The shipped evidence first, the random baseline last; a figure not measured shows as "-".
    assert rows[0].startswith("| **attention** (the pipeline's evidence) | 0.347 [0.337, 0.357] | 0.325 [0.315, 0.335]")
    assert rows[1].startswith("| grad_x_input | 0.334 [0.324, 0.344] | - | - | 0.023 [0.013, 0.033] |")
    assert rows[2].startswith("| random |") and len(rows) == 3
    # Plain fine-tuning shows no evidence, so its card has no such section.
    plain = write_synthetic(tmp_path / "vanilla", "vanilla")
    assert "How far the evidence words" not in ModelCard.load(write_model_card(plain)).text
