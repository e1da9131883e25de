"""The packaged `evaluate` modules: offline loading, agreement with the plain functions, the
`labelwise` import requirement, and publishing as a Space (against the fake Hub)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fake_hub import FakeHub
from helpers import run_python_without_labelwise

import labelwise.metrics as metrics
from labelwise.metrics.hub import stage_space


def test_hierarchical_ranking_module_matches_plain_function():
    rng = np.random.default_rng(0)
    y_true = (rng.random((6, 7)) < 0.3).astype(int)
    y_true[0] = 0  # a document without any gold label
    scores = rng.random((6, 7))
    levels = [1, 1, 2, 2, 2, 3, 3]
    module = metrics.load("hierarchical_ranking")
    got = module.compute(
        predictions=scores.tolist(), references=y_true.tolist(), label_levels=levels, k_values=(1, 3)
    )
    expected = metrics.hierarchical_scores(y_true, scores, levels, k_values=(1, 3))
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, nan_ok=True), key


def test_hierarchical_ranking_module_requires_label_levels():
    with pytest.raises(ValueError, match="needs label_levels"):
        metrics.load("hierarchical_ranking").compute(predictions=[[0.1]], references=[[1]])


def test_entity_f1_module_matches_plain_function():
    gold = [["B-ADR", "I-ADR", "O", "B-Drug"], ["O", "B-ADR"]]
    pred = [["B-ADR", "O", "O", "B-Drug"], ["O", "B-ADR"]]
    got = metrics.load("entity_f1").compute(predictions=pred, references=gold)
    assert got == metrics.entity_scores(gold, pred)
    assert got["f1"] == pytest.approx(2 / 3)  # 2 of 3 gold and 2 of 3 predicted spans match


def test_multilabel_f1_module_both_configs():
    got = metrics.load("multilabel_f1").compute(predictions=[[1, 0], [0, 1]], references=[[1, 0], [1, 1]])
    assert got["micro_f1"] == pytest.approx(0.8)
    assert got["subset_accuracy"] == pytest.approx(0.5)
    multiclass = metrics.load("multilabel_f1", config_name="multiclass")
    assert multiclass.compute(predictions=[0, 1, 2], references=[0, 1, 1]) == metrics.multiclass_scores(
        [0, 1, 1], [0, 1, 2]
    )


def test_load_unknown_name_lists_the_modules():
    with pytest.raises(ValueError, match="hierarchical_ranking, entity_f1, multilabel_f1"):
        metrics.load("rouge")


def test_evaluate_refuses_the_module_where_labelwise_is_not_installed(tmp_path):
    # evaluate checks the script's library imports before running it: without labelwise the user
    # gets an ImportError that names the missing package, not a traceback from inside the script.
    folder = metrics.module_path("hierarchical_ranking")
    result = run_python_without_labelwise(
        f"import evaluate\ntry:\n    evaluate.load({folder!r})\nexcept ImportError as error:\n    print('REFUSED', error)\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "labelwise" in result.stdout


def test_stage_space_checks_the_space_name(tmp_path):
    with pytest.raises(ValueError, match="user or org>/entity_f1"):
        stage_space("entity_f1", tmp_path, "user/my_entity_metric")
    folder = stage_space("entity_f1", tmp_path, "user/entity_f1", labelwise_requirement="labelwise==0.1.0")
    assert sorted(os.listdir(folder)) == ["README.md", "app.py", "entity_f1.py", "requirements.txt"]
    assert 'evaluate.load("user/entity_f1")' in (folder / "app.py").read_text()
    assert "labelwise==0.1.0" in (folder / "requirements.txt").read_text().splitlines()
    assert (folder / "README.md").read_text().startswith("---\ntitle: Entity F1\n")


def test_push_to_hub_then_evaluate_load_from_the_space(tmp_path):
    # A fresh process so HF_ENDPOINT and evaluate's Hub URL point at the fake Hub from the start.
    with FakeHub(tmp_path / "hub", token="hf_test") as hub:
        code = textwrap.dedent(
            """
            import json
            import evaluate
            from labelwise.metrics.hub import push_to_hub
            url = push_to_hub("hierarchical_ranking", "user/hierarchical_ranking", token="hf_test")
            metric = evaluate.load("user/hierarchical_ranking")
            result = metric.compute(predictions=[[0.2, 0.9]], references=[[1, 0]], label_levels=[1, 1], k_values=(1,))
            print(json.dumps({"url": url, "module": type(metric).__module__, "rp": result["rp_micro"]}))
            """
        )
        env = dict(
            os.environ,
            HF_ENDPOINT=hub.endpoint,
            HF_HUB_DISABLE_XET="1",
            HF_HUB_OFFLINE="0",
            HF_EVALUATE_OFFLINE="0",
            HF_HOME=str(tmp_path / "hf_home"),
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        files = hub.files("user/hierarchical_ranking", repo_type="space")
    assert report["url"].endswith("/spaces/user/hierarchical_ranking")
    assert "user--hierarchical_ranking" in report["module"]  # loaded from the Space, not the package
    assert report["rp"] == 0.0
    assert {"hierarchical_ranking.py", "README.md", "app.py", "requirements.txt"} <= set(files)
    assert files["hierarchical_ranking.py"] == open(
        os.path.join(metrics.module_path("hierarchical_ranking"), "hierarchical_ranking.py"), "rb"
    ).read()
