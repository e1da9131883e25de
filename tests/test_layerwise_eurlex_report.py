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


def grid(root: Path, seeds: dict[str, int], max_epochs: float | None = None) -> Path:
    for variant, seed in seeds.items():
        folder = root / variant / "model"
        folder.mkdir(parents=True)
        summary = {"metrics": {"test": TEST_METRICS}, "notes": {"layer_assignment": {"1": [6]}},
                   "train_runtime_seconds": 60.0, "hyperparameters": {"seed": seed, "epochs": max_epochs}}
        (folder / "training_summary.json").write_text(json.dumps(summary))
    return root


def checkpoint(run_dir: Path, step: int, dev_rp: list[float]) -> None:
    """A trainer state whose log history has one evaluation per epoch (and training-loss lines between)."""
    history = []
    for epoch, value in enumerate(dev_rp, start=1):
        history += [{"epoch": epoch - 0.5, "loss": 0.1}, {"epoch": float(epoch), "eval_rp_micro": value, "eval_loss": 0.2}]
    folder = run_dir / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))


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
        report.main(["--grid_dir", str(tmp_path / "empty"), "--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "new")])


def test_epochs_best_epoch_and_what_stopped_each_run(tmp_path, monkeypatch):
    root = grid(tmp_path / "grid", {"guidance=flat,layer_pooling=cls": 1, "guidance=last_six,layer_pooling=mean": 1},
                max_epochs=4)
    capped, stopped = root / "guidance=flat,layer_pooling=cls", root / "guidance=last_six,layer_pooling=mean"
    checkpoint(capped, 10, [0.1, 0.3])  # an older checkpoint: its shorter history is not the one read
    checkpoint(capped, 40, [0.1, 0.3, 0.5, 0.6])
    checkpoint(stopped, 30, [0.2, 0.4, 0.35])
    running = root / "guidance=one_by_one,layer_pooling=cls"
    checkpoint(running, 20, [0.05, 0.25])
    monkeypatch.setattr(report, "frequency_baseline", lambda *args: TEST_METRICS)
    out, picture = tmp_path / "out", tmp_path / "curves.png"
    report.main(["--grid_dir", str(root), "--data_dir", str(tmp_path), "--output_dir", str(out), "--plot", str(picture)])
    runs = json.loads((out / "runs.json").read_text())["runs"]
    assert set(runs) == {capped.name, stopped.name}  # the running variant has no test scores yet
    assert runs[capped.name]["dev_curve"][-1] == {"epoch": 4.0, "rp_micro": 0.6, "loss": 0.2}
    assert (runs[capped.name]["epochs_run"], runs[capped.name]["best_epoch"], runs[capped.name]["stopped_by"]) == (4, 4, "cap")
    assert (runs[stopped.name]["epochs_run"], runs[stopped.name]["best_epoch"], runs[stopped.name]["stopped_by"]) == (
        3, 2, "early stopping")
    rows = {line.split("|")[1].strip(): line.split("|") for line in (out / "table.md").read_text().splitlines()[2:]}
    assert rows[capped.name][-3].strip() == "4 (4), cap"
    assert rows[stopped.name][-3].strip() == "3 (2), early stopping"
    assert picture.stat().st_size > 0
    assert report.training_progress(running, 4)["stopped_by"] == "running"
    drawn = []
    monkeypatch.setattr(report, "plot_curves", lambda series, *args, **kwargs: drawn.extend(series))
    report.plot(runs, root, picture)
    assert [(line["label"], line["linestyle"], line["values"]) for line in drawn] == [
        (capped.name, "-", [10.0, 30.0, 50.0, 60.0]),
        (stopped.name, "--", [20.0, 40.0, 35.0]),
        (running.name + " (running)", "-", [5.0, 25.0]),
    ]


def test_plot_refuses_a_grid_without_dev_curves(tmp_path):
    (tmp_path / "guidance=flat").mkdir()
    with pytest.raises(SystemExit, match="no run has a record or a checkpoint"):
        report.plot({}, tmp_path, tmp_path / "curves.png")


def test_records_of_an_earlier_session_stay_in_the_table_and_the_plot(tmp_path, monkeypatch):
    """A grid that spans sessions: the first session's run folders are gone, its records are not."""
    monkeypatch.setattr(report, "frequency_baseline", lambda *args: TEST_METRICS)
    out = tmp_path / "out"
    first = grid(tmp_path / "session1", {"guidance=flat,layer_pooling=cls": 7}, max_epochs=2)
    checkpoint(first / "guidance=flat,layer_pooling=cls", 8, [0.3, 0.5])
    report.main(["--grid_dir", str(first), "--data_dir", str(tmp_path), "--output_dir", str(out)])
    second = grid(tmp_path / "session2", {"guidance=hybrid,layer_pooling=mean": 7}, max_epochs=2)
    checkpoint(second / "guidance=hybrid,layer_pooling=mean", 8, [0.2, 0.4])
    checkpoint(second / "guidance=in_pairs,layer_pooling=cls", 4, [0.1])
    picture = tmp_path / "curves.png"
    report.main(["--grid_dir", str(second), "--data_dir", str(tmp_path), "--output_dir", str(out), "--plot", str(picture)])
    assert sorted(path.name for path in (out / "runs").iterdir()) == [
        "guidance=flat,layer_pooling=cls.json", "guidance=hybrid,layer_pooling=mean.json"]
    table_variants = [line.split("|")[1].strip() for line in (out / "table.md").read_text().splitlines()[2:-1]]
    assert table_variants == ["guidance=flat,layer_pooling=cls", "guidance=hybrid,layer_pooling=mean"]
    drawn = []
    monkeypatch.setattr(report, "plot_curves", lambda series, *args, **kwargs: drawn.extend(series))
    report.plot(report.load_records(out / "runs"), second, picture)
    assert [(line["label"], line["values"]) for line in drawn] == [
        ("guidance=flat,layer_pooling=cls", [30.0, 50.0]),
        ("guidance=hybrid,layer_pooling=mean", [20.0, 40.0]),
        ("guidance=in_pairs,layer_pooling=cls (running)", [10.0]),
    ]
    # A later session that ran with another seed read other documents: refused, and nothing is recorded.
    third = grid(tmp_path / "session3", {"guidance=last_six,layer_pooling=cls": 8})
    with pytest.raises(SystemExit, match=r"runs: the runs used different seeds \(\[7, 8\]\)"):
        report.main(["--grid_dir", str(third), "--data_dir", str(tmp_path), "--output_dir", str(out)])
    assert set(report.load_records(out / "runs")) == {"guidance=flat,layer_pooling=cls", "guidance=hybrid,layer_pooling=mean"}


def test_a_run_finished_again_replaces_its_record(tmp_path):
    runs = tmp_path / "out" / "runs"
    report.save_records(report.finished_runs(grid(tmp_path / "a", {"guidance=flat": 1})), runs)
    again = tmp_path / "b" / "guidance=flat" / "model"
    again.mkdir(parents=True)
    summary = {"metrics": {"test": {**TEST_METRICS, "rp_micro": 0.9}}, "notes": {"layer_assignment": {"1": [6]}},
               "train_runtime_seconds": 30.0, "hyperparameters": {"seed": 1, "epochs": None}}
    (again / "training_summary.json").write_text(json.dumps(summary))
    report.save_records(report.finished_runs(tmp_path / "b"), runs)
    assert report.load_records(runs)["guidance=flat"]["test"]["rp_micro"] == 0.9
