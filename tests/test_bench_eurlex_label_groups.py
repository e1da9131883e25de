"""bench/eurlex_label_groups.py (a `labelwise.experiments.label_group_study` declaration) end to end on a fixture
EURLEX57K folder with a tiny BERT: training and scoring each available method, resuming, the n/a of label-specific
models on unseen labels, the Markdown report and plot, patience with a cap, and the command line's queue.
The scoring pieces themselves are tested in tests/test_experiments_label_groups.py."""

import json
import sys
from pathlib import Path

import pytest
from helpers import tiny_bert_checkpoint
from test_training_configs import eurlex_fixture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import eurlex_label_groups as bench  # noqa: E402

STUDY = bench.STUDY


@pytest.fixture
def tiny_budget(monkeypatch):
    """Seconds-long runs: 16 training documents, one epoch, 64 pieces, a 4-head label attention."""
    monkeypatch.setattr(STUDY, "subset", {"train": 16, "dev": 3, "test": 4, "seed": 13})
    monkeypatch.setattr(STUDY, "budget", {**bench.BUDGET, "max_length": 64, "num_train_epochs": 1,
                                          "label_attention_heads": 4, "logging_steps": 1})


@pytest.fixture
def corpus(tmp_path):
    """20 concepts in training, a dev-only concept c20 (zero-shot); 16 / 4 / 4 documents."""
    return eurlex_fixture(tmp_path / "eurlex", 20)


def test_runner_trains_scores_resumes_and_reports(tmp_path, corpus, tiny_budget, monkeypatch):
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    work, results = tmp_path / "work", tmp_path / "results"
    methods = ["vanilla", "layerwise_flat", "lame", "similarity", "label_prior"]
    for method in methods:
        record = STUDY.run_one(method, corpus, work, results, backbone=checkpoint)
        assert json.loads((results / f"{method}.json").read_text())["method"] == method
        zero = record["test"]["groups"]["zero"]
        assert (zero == "n/a") == (method != "similarity")
        assert 0.0 <= record["test"]["overall"]["ndcg_at_5"] <= 1.0
        if method not in ("similarity", "label_prior"):
            assert record["epoch_times"][0]["steps"] == 2 and record["seconds_per_epoch"] >= 0.0
            assert record["epoch_times"][0]["torch_threads"] == record["torch_threads"] == 1
            assert 0.0 <= record["scoring_seconds"] <= record["wall_seconds_this_process"]
            assert "--corpus_options" in record["command"] and not list((work / method).glob("checkpoint-*"))
    lame = json.loads((results / "lame.json").read_text())
    assert "--config lame_eurlex57k" in lame["command"] and lame["summary"]["model_kind"] == "lame"
    assert set(lame["code_version"]) == {"commit", "uncommitted_changes"}
    assert "label_descriptions" not in lame["summary"]
    assert lame["dev_shortlist_recall"] is None  # 20 labels: no first stage, the exact head
    assert json.loads((results / "label_prior.json").read_text())["command"].startswith(
        "python bench/eurlex_label_groups.py --methods label_prior")

    # lame_read_2048 trains nothing: it scores lame's model, reading documents in segments up to 2,048 pieces.
    read = STUDY.run_one("lame_read_2048", corpus, work, results, backbone=checkpoint)
    assert read["model_of"] == "lame" and "no training" in read["command"] and not (work / "lame_read_2048").exists()
    assert "lame_read_2048 | done | - | lame's model |" in STUDY.report(results)

    # A model that was trained but not scored is only scored again: train.py is not called.
    (results / "lame.json").unlink()
    monkeypatch.setattr("labelwise.training.cli.run", lambda *a, **k: pytest.fail("trained again"))
    rescored = STUDY.run_one("lame", corpus, work, results, backbone=checkpoint)["test"]
    assert json.dumps(rescored, sort_keys=True) == json.dumps(lame["test"], sort_keys=True)  # NaN-safe
    # A finished method is skipped.
    assert STUDY.run_all(["lame"], corpus, work, results, seed=42)

    table = STUDY.report(results)
    assert "| lame | done |" in table and "| lame_2048 | not yet run |" in table
    assert "| vanilla | " in table.split("\n\n")[1] and "n/a | n/a | n/a |" in table
    assert "zero: 1 labels" in table and "| label_prior | done | - | no model |" in table

    drawn = STUDY.plot_groups(results, tmp_path / "groups.png")
    assert (tmp_path / "groups.png").stat().st_size > 0 and set(drawn) == {*methods, "lame_read_2048"}
    similarity = json.loads((results / "similarity.json").read_text())["test"]
    assert drawn["similarity"]["few"] == pytest.approx(100 * similarity["groups"]["few"]["rp_at_5"])
    assert drawn["similarity"]["zero"] is not None  # the one method here that scores unseen labels
    assert set(STUDY.plot_groups(results, tmp_path / "two.png", methods=["vanilla", "lame"])) == {"vanilla", "lame"}
    assert drawn["lame"]["zero"] is None and drawn["vanilla"]["overall"] == pytest.approx(
        100 * json.loads((results / "vanilla.json").read_text())["test"]["overall"]["rp_at_5"])


def test_records_written_before_the_package_move_are_still_reported():
    """Issue 29's queue wrote its records with the runner as it was before the move; the report reads them."""
    results = Path(bench.HERE) / "results" / "eurlex_label_groups"
    table = STUDY.report(results)
    assert "| vanilla | done |" in table and "| lame_2048_exact | done |" in table
    assert "Groups (test subset):" in table


def test_the_label_agnostic_head_and_long_documents(tmp_path, corpus, tiny_budget):
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    for method in ("lame_agnostic_sim", "lame_2048"):
        assert STUDY.missing_option(method) is None
        record = STUDY.run_one(method, corpus, tmp_path / "work", tmp_path / "results", backbone=checkpoint)
        # Only the label-agnostic head scores the labels no training document carries.
        assert (record["test"]["groups"]["zero"] == "n/a") == (method == "lame_2048")
    assert record["dev_shortlist_recall"].startswith("not measured") and "--max_document_length 2048" in record["command"]


def test_an_option_this_checkout_lacks_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(STUDY.methods, "future", bench.Method({"model": "lame", "no_such_option": 1}, needs="issue 99"))
    why = STUDY.missing_option("future")
    assert "--no_such_option" in why and "issue 99" in why
    with pytest.raises(ValueError, match="no_such_option"):
        STUDY.run_one("future", tmp_path, tmp_path / "work", tmp_path / "results")


def test_lame_with_a_shortlist_reports_its_dev_recall(tmp_path, tiny_budget):
    corpus = eurlex_fixture(tmp_path / "eurlex", 300)  # above 256 labels: sampling, first stage, shortlist
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    record = STUDY.run_one("lame", corpus, tmp_path / "work", tmp_path / "results", backbone=checkpoint)
    assert record["summary"]["hyperparameters"]["shortlist_size"] == 256
    assert 0.0 <= record["dev_shortlist_recall"] <= 1.0
    assert "first-stage shortlist: lame " in STUDY.report(tmp_path / "results")


def test_a_method_stopped_by_a_signal_stops_the_command_line(tmp_path, monkeypatch, capsys):
    launched = []

    def fake_call(command, **kwargs):
        launched.append(command[command.index("--only") + 1])
        return 130  # train.py saved a checkpoint after SIGTERM/Ctrl-C

    monkeypatch.setattr("subprocess.call", fake_call)
    with pytest.raises(SystemExit) as stopped:
        bench.main(STUDY, ["--data_dir", str(tmp_path / "data"), "--methods", "vanilla", "lame",
                           "--work_dir", str(tmp_path / "work"), "--results_dir", str(tmp_path / "results")])
    assert stopped.value.code == bench.EXIT_INTERRUPTED and launched == ["vanilla"]
    assert "vanilla: stopped by a signal" in capsys.readouterr().out


def test_a_method_scoring_another_methods_model_says_which_to_run_first(tmp_path, corpus, tiny_budget):
    with pytest.raises(ValueError, match="lame_read_2048 scores the model of lame, .* run --methods lame first"):
        STUDY.run_one("lame_read_2048", corpus, tmp_path / "work", tmp_path / "results",
                      backbone=tiny_bert_checkpoint(tmp_path / "tiny"))


def test_budget_subset_and_threads_reach_each_methods_process(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda command, **kwargs: calls.append((command, kwargs["env"])) or 0)
    monkeypatch.setattr(STUDY, "budget", dict(bench.BUDGET))  # main() updates the study's budget and subset
    monkeypatch.setattr(STUDY, "subset", dict(bench.SUBSET))
    bench.main(STUDY, ["--data_dir", str(tmp_path), "--methods", "vanilla", "lame", "--work_dir", str(tmp_path / "w"),
                       "--results_dir", str(tmp_path / "r"), "--budget", '{"head_learning_rate": 0.01}',
                       "--subset", '{"train": 5000}', "--torch_threads", "2"])
    assert STUDY.budget["head_learning_rate"] == 0.01 and STUDY.subset["train"] == 5000
    assert STUDY.steps_per_epoch() == 5000 // bench.BUDGET["per_device_train_batch_size"]
    assert json.loads((tmp_path / "w" / "budget.json").read_text()) == STUDY.budget
    assert len(calls) == 2
    for command, env in calls:
        assert command[command.index("--budget") + 1] == '{"head_learning_rate": 0.01}'
        assert command[command.index("--subset") + 1] == '{"train": 5000}'
        assert command[command.index("--torch_threads") + 1] == "2" and env["OMP_NUM_THREADS"] == "2"
    with pytest.raises(SystemExit, match=r"--budget: unknown key\(s\) \['head_lr'\]"):
        bench.main(STUDY, ["--report", "--budget", '{"head_lr": 0.01}'])
    with pytest.raises(SystemExit, match=r"--subset: unknown key\(s\) \['documents'\]"):
        bench.main(STUDY, ["--report", "--subset", '{"documents": 5}'])


def test_results_of_another_budget_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr("subprocess.call", lambda command, **kwargs: 0)
    monkeypatch.setattr(STUDY, "budget", dict(bench.BUDGET))
    results, work = tmp_path / "results", tmp_path / "work"
    results.mkdir()
    # A result written before label_bias_init was a budget entry ran with zero biases.
    (results / "lame.json").write_text(json.dumps({"budget": {k: v for k, v in bench.BUDGET.items() if k != "label_bias_init"}}))
    with pytest.raises(SystemExit, match=r"lame.json is from another budget \(label_bias_init: 'zero' there, 'label_prior' now\)"):
        STUDY.run_all(["vanilla", "lame"], tmp_path / "data", work, results, seed=42)
    STUDY.budget["label_bias_init"] = "zero"
    assert STUDY.run_all(["vanilla", "lame"], tmp_path / "data", work, results, seed=42)  # same budget: accepted
    STUDY.budget["label_bias_init"] = "label_prior"
    with pytest.raises(SystemExit, match=r"work/budget.json is from another budget \(label_bias_init"):
        STUDY.run_all(["vanilla"], tmp_path / "data", work, tmp_path / "other", seed=42)


def test_patience_ends_a_run_before_its_cap_and_the_record_says_so(tmp_path, corpus, tiny_budget, monkeypatch):
    """With nothing learned (learning rates 0) the dev loss never improves: patience 1 ends the run after its
    second epoch, below a cap of 4. A repeat with another seed gets its own file, folder and report row."""
    monkeypatch.setattr(STUDY, "budget", {**STUDY.budget, "num_train_epochs": 4, "early_stopping_patience": 1,
                                          "learning_rate": 0.0, "head_learning_rate": 0.0})
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    work, results = tmp_path / "work", tmp_path / "results"
    record = STUDY.run_one("vanilla", corpus, work, results, seed=13, backbone=checkpoint)
    assert (record["stopped_by"], record["epochs_run"]) == ("patience", 2)
    assert [point["epoch"] for point in record["dev_curve"]] == [1.0, 2.0]
    assert record["dev_curve"][0]["eval_loss"] == record["dev_curve"][1]["eval_loss"]
    assert (results / "vanilla__seed13.json").exists() and not (results / "vanilla.json").exists()
    assert (work / "vanilla__seed13" / "model").is_dir()
    table = STUDY.report(results)
    assert "| vanilla__seed13 | done |" in table and "2 (1.0, patience)" in table
    assert "| vanilla | not yet run |" not in table  # the seed's row stands for the method


def test_ablation_rows_parse_and_a_rows_own_option_replaces_the_budgets(tmp_path):
    for method in ("lame_all_labels", "lame_all_labels_output", "lame_all_labels_output_positives", "lame_negatives_256",
                   "lame_static_descriptions", "lame_all_labels_static", "lame_all_labels_output_static", "lame_all_labels_output_static_mean",
                   "lame_joint", "layerwise_flat_mean", "layerwise_flat_head_lr", "layerwise_flat_document_labels",
                   "lame_agnostic_sim_positives", "lame_agnostic_sim_neg32"):
        assert STUDY.missing_option(method) is None, method
    options = STUDY.train_options("layerwise_flat_head_lr", tmp_path, 42, "backbone")
    assert options["head_learning_rate"] == 0.01
    options = STUDY.train_options("lame_all_labels", tmp_path, 42, "backbone")
    assert options["all_label_loss"] is True and options["head_learning_rate"] == bench.BUDGET["head_learning_rate"]
    assert options["config"] == "lame_eurlex57k" and options["corpus_options"] == bench.CORPUS_OPTIONS


def test_query_similarity_writes_its_record(tmp_path, corpus, tiny_budget):
    record = STUDY.query_similarity(corpus, tmp_path / "work", tmp_path / "results", backbone=tiny_bert_checkpoint(tmp_path / "tiny"))
    assert record["labels"] == 20 and json.loads((tmp_path / "results" / "query_similarity.json").read_text()) == record


def test_the_ancestor_target_ceiling_scores_each_gold_label_and_its_ancestors(tmp_path, corpus, tiny_budget):
    """FLAT trains on gold labels plus ancestors and is scored on the gold labels: the `ancestor_targets` row
    ranks exactly those first, so its R-Precision is what the added ancestors cost a perfect learner."""
    import numpy as np

    from labelwise.data_scripts import load_label_space
    from labelwise.experiments.label_groups import ancestor_target_scores

    record = STUDY.run_one("ancestor_targets", corpus, tmp_path / "work", tmp_path / "results")
    assert record["command"].endswith("(no model)") and "epoch_times" not in record
    _, data = STUDY.eval_data(corpus, tmp_path / "work")
    hierarchy = load_label_space("eurlex57k", data_dir=str(tmp_path / "work" / "subset"), **bench.CORPUS_OPTIONS).hierarchy
    scores = ancestor_target_scores(data, hierarchy)["test"]
    seen = data.names[: data.seen]
    added = 0
    for row, gold in zip(scores, data.gold["test"][:, : data.seen]):
        names = [seen[i] for i in np.flatnonzero(gold)]
        expected = {name for name in hierarchy.augment(names) if name in seen}
        assert {seen[i] for i in np.flatnonzero(row >= 1.0)} == expected and row.max() < 1.001
        added += len(expected) - len(names)
    assert added > 0 and record["test"]["overall"]["r_precision"] < 1.0  # the fixture's ancestors cost ranks
