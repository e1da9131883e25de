"""`labelwise.experiments.curves`: learning curves read from the Trainer's state and drawn."""

import json
from pathlib import Path

from labelwise.experiments.curves import dev_curve, plot_curves


def _trainer_state(folder: Path, step: int, f1_values: list[float]) -> None:
    history = []
    for epoch, value in enumerate(f1_values, 1):
        history.append({"epoch": epoch - 0.5, "loss": 0.3})  # a training log line: no eval metric
        history.append({"epoch": float(epoch), "eval_f1": value, "eval_loss": 1.0 / epoch})
    (folder / f"checkpoint-{step}").mkdir(parents=True)
    (folder / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"log_history": history}))


def test_dev_curve_reads_the_newest_checkpoint_numerically(tmp_path):
    _trainer_state(tmp_path, 90, [0.5, 0.6])
    _trainer_state(tmp_path, 300, [0.5, 0.6, 0.7])  # "checkpoint-300" sorts before "checkpoint-90" as text
    curve = dev_curve(tmp_path, metric="f1")
    assert [point["f1"] for point in curve] == [0.5, 0.6, 0.7]
    assert [point["epoch"] for point in curve] == [1.0, 2.0, 3.0]
    assert dev_curve(tmp_path / "missing", metric="f1") == []


def test_plot_draws_one_line_per_run(tmp_path):
    series = [{"epochs": [1, 2], "values": [50.0, 60.0], "label": "a"}, {"epochs": [1], "values": [40.0], "label": None}]
    assert plot_curves(series, "dev F1 (%)", "runs", tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
