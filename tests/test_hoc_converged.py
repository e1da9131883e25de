"""`bench/hoc_converged.py` end to end on a tiny HoC fixture: a run trains until patience or the cap,
tunes thresholds on dev, writes one record, drops its checkpoints, and the report reads the records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import tiny_bert_checkpoint
from test_hoc_zero_shot import write_hoc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hoc_converged as bench  # noqa: E402

TINY_BUDGET = {
    "max_length": 32, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8, "learning_rate": 1e-3,
    "head_learning_rate": 1e-2, "warmup_steps": 0.1, "lr_scheduler_type": "linear", "optim": "adamw_torch",
    "label_attention_heads": 4, "num_train_epochs": 3, "early_stopping_patience": 1,
    "metric_for_best_model": "micro_f1", "save_total_limit": 2,
}


def test_runs_write_one_record_each_and_the_report_reads_them(tmp_path, monkeypatch):
    data_root = tmp_path / "data"
    write_hoc(data_root / "hoc", n=24)
    backbone = str(tiny_bert_checkpoint(tmp_path / "bert"))
    monkeypatch.setattr(bench, "BUDGET", TINY_BUDGET)
    monkeypatch.setattr(bench, "MAX_EPOCHS", 3)
    monkeypatch.setattr(bench, "METHODS", {name: argv + ["--model_name_or_path", backbone]
                                           for name, argv in bench.METHODS.items()})
    results, work = tmp_path / "results", tmp_path / "work"
    for method in ("vanilla", "lame_bce"):
        bench.run_one(method, 7, data_root, work, results)
        record = json.loads(bench.result_path(results, method, 7).read_text())
        assert record["method"] == method and record["seed"] == 7
        assert 1 <= record["epochs_run"] <= 3 and [p["epoch"] for p in record["dev_curve"]] == list(
            range(1, record["epochs_run"] + 1))
        best = max(record["dev_curve"], key=lambda p: p["micro_f1"])
        assert record["best_epoch"] == best["epoch"]
        assert record["stopped_by"] == ("epoch cap" if record["epochs_run"] == 3 else "patience")
        thresholds = record["thresholds"]
        assert 0 <= thresholds["tuned_global_threshold"] <= 1 and len(thresholds["tuned_label_thresholds"]) == 10
        for key in ("test_at_0.5", "test_at_tuned_global", "test_at_tuned_per_label"):
            assert 0 <= thresholds[key]["micro_f1"] <= 1
        assert set(record["code_version"]) == {"commit", "uncommitted_changes"}
        assert "--model_name_or_path" in record["command"] and "--seed 7" in record["command"]
        assert not list((work / method / "seed7").glob("checkpoint-*")) and (work / method / "seed7" / "model").is_dir()
    rows = bench.report(results).splitlines()
    assert rows[2].startswith("| vanilla | 1 | ") and rows[3].startswith("| lame_bce | 1 | ")
    assert rows[4].startswith("| frozen_lame | 0 | not run yet")


def test_a_run_stopped_by_a_signal_starts_no_further_runs(tmp_path, monkeypatch, capsys):
    launched = []

    def fake_call(command, **kwargs):
        launched.append(command[command.index("--only") + 1 : command.index("--only") + 3])
        return 130  # train.py saved a checkpoint after SIGTERM/Ctrl-C

    monkeypatch.setattr(bench.subprocess, "call", fake_call)
    # Repeated: the pool's worker takes the next job as soon as the stopped run returns, so the check
    # that nothing further starts must not depend on which thread gets there first.
    for attempt in range(20):
        launched.clear()
        bench.run_all(tmp_path / "data", tmp_path / f"work{attempt}", tmp_path / "results", [13, 42],
                      ["vanilla", "lame_bce"], 1)
        assert launched == [["vanilla", "13"]]
        assert "vanilla__seed13: stopped by a signal" in capsys.readouterr().out
