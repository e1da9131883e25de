"""The converged-run reports read their learning curves from the trainer state and draw them."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "ner"))
import ade_converged  # noqa: E402
from curves import dev_curve  # noqa: E402


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


def test_ade_report_puts_the_best_dev_epoch_and_the_three_epoch_fold_side_by_side(tmp_path):
    record = {
        "fold": 0, "epochs_run": 4, "best_epoch": 2, "stopped_by": "patience",
        "dev_curve": [{"epoch": 1.0, "f1": 0.70}, {"epoch": 2.0, "f1": 0.78}, {"epoch": 3.0, "f1": 0.77}, {"epoch": 4.0, "f1": 0.76}],
        "test": {"precision": 0.8, "recall": 0.75, "f1": 0.7742},
    }
    (tmp_path / "transformer__fold0.json").write_text(json.dumps(record))
    table = ade_converged.report(tmp_path)
    row = table.splitlines()[2]
    assert row.startswith("| 0 | 4 (2) | patience | 78.00 | 80.00 | 75.00 | **77.42** |")
    three_epoch = json.loads((ade_converged.THREE_EPOCH_CV / "transformer_fold0.json").read_text())["f1"]
    assert row.endswith(f"| {100 * three_epoch:.2f} |")
    assert ade_converged.plot(tmp_path, tmp_path / "curve.png").stat().st_size > 0
