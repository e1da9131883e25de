"""`labelwise.experiments.study` (methods x seeds, one record per run, report, plot) and the bench declarations on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import tiny_bert_checkpoint
from test_hoc_zero_shot import write_hoc

from labelwise.experiments import study as harness
from labelwise.experiments.study import Study, load_records, mean_std, record_path, table

BENCH = Path(__file__).resolve().parents[1] / "bench"
TINY_BUDGET = {
    "max_length": 32, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8, "learning_rate": 1e-3,
    "head_learning_rate": 1e-2, "warmup_steps": 0.1, "lr_scheduler_type": "linear", "optim": "adamw_torch",
    "label_attention_heads": 4, "num_train_epochs": 3, "early_stopping_patience": 1,
    "metric_for_best_model": "micro_f1", "save_total_limit": 2, "report_to": ["none"],
}


def tiny_study(tmp_path: Path, backbone: str, score=None) -> Study:
    return Study(
        name="tiny", methods={"vanilla": {"model": "vanilla"}, "lame": {"model": "lame"}}, seeds=(7, 8),
        budget={**TINY_BUDGET, "model_name_or_path": backbone, "max_train_samples": 16, "max_eval_samples": 8},
        corpus=lambda root, method: {"corpus": "demo"}, script=__file__, results_dir=tmp_path / "results",
        work_dir=tmp_path / "work", score=score,
    )


def test_a_run_writes_one_record_with_provenance_and_the_report_reads_it(tmp_path):
    backbone = str(tiny_bert_checkpoint(tmp_path / "bert"))
    seen = []

    def score(model_dir, options, data_root):
        seen.append((model_dir, options["seed"]))
        return {"files": sorted(p.name for p in model_dir.iterdir())}

    study = tiny_study(tmp_path, backbone, score)
    record = harness.run_one(study, "vanilla", 7)
    assert json.loads(record_path(study.results_dir, "vanilla", 7).read_text()) == json.loads(json.dumps(record, default=str))
    assert record["method"] == "vanilla" and record["seed"] == 7 and record["options"]["seed"] == 7
    assert set(record["code_version"]) == {"commit", "uncommitted_changes"}
    assert "--model vanilla" in record["command"] and "--seed 7" in record["command"]
    assert 1 <= record["epochs_run"] <= 3 and [p["epoch"] for p in record["dev_curve"]] == list(range(1, record["epochs_run"] + 1))
    assert record["best_epoch"] == max(record["dev_curve"], key=lambda p: p["micro_f1"])["epoch"]
    assert record["stopped_by"] == ("epoch cap" if record["epochs_run"] == 3 else "patience")
    assert seen == [(study.work_dir / "vanilla" / "seed7" / "model", 7)] and "config.json" in record["scores"]["files"]
    assert not list((study.work_dir / "vanilla" / "seed7").glob("checkpoint-*"))
    assert record["summary"]["metrics"]["test"]["micro_f1"] == pytest.approx(
        json.loads((study.work_dir / "vanilla" / "seed7" / "model" / "training_summary.json").read_text())
        ["metrics"]["test"]["micro_f1"])
    rows = harness.default_report(study).splitlines()
    assert rows[2].startswith("| vanilla | 1 | ") and rows[3] .startswith("| lame | 0 | not run yet")
    picture = harness.plot_dev_curves(load_records(study.results_dir), "micro_f1", "tiny", tmp_path / "curves.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_finished_runs_are_skipped_and_a_signal_stops_the_rest(tmp_path, monkeypatch, capsys):
    study = tiny_study(tmp_path, "unused")
    record_path(study.results_dir, "vanilla", 7).parent.mkdir(parents=True)
    record_path(study.results_dir, "vanilla", 7).write_text("{}")
    launched = []

    def fake_call(command, **kwargs):
        launched.append(command[command.index("--only") + 1 : command.index("--only") + 3])
        return 130  # train.py saved a checkpoint after SIGTERM/Ctrl-C

    monkeypatch.setattr(harness.subprocess, "call", fake_call)
    # Repeated: the pool's worker takes the next job as soon as the stopped run returns, so the check
    # that nothing further starts must not depend on which thread gets there first.
    for _ in range(10):
        launched.clear()
        assert harness.run_all(study, tmp_path, ["vanilla", "lame"], [7, 8], jobs=1) == 0
        assert launched == [["lame", "7"]]
        out = capsys.readouterr().out
        assert "1 runs done earlier; 3 to run" in out and "lame__seed7: stopped by a signal" in out


def test_table_shows_mean_and_spread_per_method():
    records = [{"method": "a", "seed": s, "x": v, "stop": "cap"} for s, v in ((1, 0.5), (2, 0.7))]
    lines = table(records, ["a", "b"], {"x": "x", "stop": "stop"}, reference={"a": "60"}).splitlines()
    assert lines[2] == "| a | 2 | 60.00 ± 14.14 | cap | 60 |"
    assert lines[3].startswith("| b | 0 | not run yet")
    assert mean_std([0.25]) == "25.00" and mean_std([]) == "-"


@pytest.mark.slow
def test_hoc_converged_declaration_runs_and_reports(tmp_path, monkeypatch):
    """bench/hoc_converged.py on a tiny HoC: its thresholds come from labelwise.evaluate, its report reads them."""
    sys.path.insert(0, str(BENCH))
    import hoc_converged as bench

    write_hoc(tmp_path / "data" / "hoc", n=24)
    backbone = str(tiny_bert_checkpoint(tmp_path / "bert"))
    monkeypatch.setattr(bench.STUDY, "budget", {**TINY_BUDGET, "model_name_or_path": backbone})
    bench.main(bench.STUDY, ["--only", "lame_bce", "7", "--data_root", str(tmp_path / "data"), "--work_dir",
                             str(tmp_path / "work"), "--results_dir", str(tmp_path / "results")], report=bench.report)
    record = json.loads((tmp_path / "results" / "lame_bce__seed7.json").read_text())
    scores = record["scores"]
    assert 0 <= scores["tuned_global_threshold"] <= 1 and len(scores["tuned_label_thresholds"]) == 10
    # train.py scored the same test split at 0.5 with the same model: the evaluation entry point agrees.
    assert scores["test_at_0.5"]["micro_f1"] == pytest.approx(record["summary"]["metrics"]["test"]["micro_f1"], abs=1e-6)
    rows = bench.report(bench.STUDY).splitlines()
    assert rows[3].startswith("| lame_bce | 1 | ") and rows[2].startswith("| vanilla | 0 | not run yet")
