"""`bench/layerwise_eurlex_report.py`: the frequency baseline reads the documents the runs read."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_training_configs import eurlex_fixture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import layerwise_eurlex_report as report  # noqa: E402

TEST_METRICS = {key: 0.5 for key in report.LEVEL_KEYS}


def grid(root: Path, seeds: dict[str, int]) -> Path:
    for variant, seed in seeds.items():
        folder = root / variant / "model"
        folder.mkdir(parents=True)
        summary = {"metrics": {"test": TEST_METRICS}, "notes": {"layer_assignment": {"1": [6]}},
                   "train_runtime_seconds": 60.0, "hyperparameters": {"seed": seed}}
        (folder / "training_summary.json").write_text(json.dumps(summary))
    return root


def test_baseline_uses_the_runs_seed_and_its_subset(tmp_path, monkeypatch):
    data = eurlex_fixture(tmp_path / "eurlex", 32)
    options = {"label_set": "used"}
    by_seed = {seed: report.frequency_baseline(str(data), options, 4, 2, seed) for seed in (1, 2, 3, 4)}
    # Different seeds draw different training documents, so (on this corpus) a different prior.
    assert len({json.dumps(scores, sort_keys=True) for scores in by_seed.values()}) > 1
    calls = []
    monkeypatch.setattr(report, "frequency_baseline", lambda *args: calls.append(args) or by_seed[args[-1]])
    out = tmp_path / "out"
    report.main(["--grid_dir", str(grid(tmp_path / "grid", {"guidance=flat": 3, "guidance=last_six": 3})),
                 "--data_dir", str(data), "--corpus_options", json.dumps(options),
                 "--max_train_samples", "4", "--max_eval_samples", "2", "--output_dir", str(out)])
    assert calls == [(str(data), options, 4, 2, 3)]
    assert json.loads((out / "runs.json").read_text())["frequency_baseline"] == by_seed[3]
    assert np.isclose(by_seed[3]["p_at_1"] * 100, float((out / "table.md").read_text().splitlines()[-1].split("|")[8]))


def test_runs_of_different_seeds_or_no_runs_are_refused(tmp_path):
    arguments = ["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match=r"different seeds \(\[1, 2\]\)"):
        report.main(["--grid_dir", str(grid(tmp_path / "grid", {"a": 1, "b": 2}))] + arguments)
    with pytest.raises(SystemExit, match="no finished run"):
        report.main(["--grid_dir", str(tmp_path / "empty")] + arguments)
