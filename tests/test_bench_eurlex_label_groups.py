"""bench/eurlex_label_groups.py end to end on a fixture EURLEX57K folder with a tiny BERT: the subset,
the evaluation label set with its zero-shot columns, training and scoring each available method,
resuming, the n/a of label-specific models on unseen labels, and the Markdown report."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_bert_checkpoint
from test_training_configs import eurlex_fixture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import eurlex_label_groups as bench  # noqa: E402


@pytest.fixture
def tiny_budget(monkeypatch):
    """Seconds-long runs: 16 training documents, one epoch, 64 pieces, a 4-head label attention."""
    monkeypatch.setattr(bench, "SUBSET", {"train": 16, "dev": 3, "test": 4, "seed": 13})
    monkeypatch.setattr(bench, "BUDGET", {**bench.BUDGET, "max_length": 64, "num_train_epochs": 1,
                                          "label_attention_heads": 4, "logging_steps": 1})


@pytest.fixture
def corpus(tmp_path):
    """20 concepts in training, a dev-only concept c20 (zero-shot); 16 / 4 / 4 documents."""
    return eurlex_fixture(tmp_path / "eurlex", 20)


def test_subset_is_seeded_recorded_and_refused_when_drawn_otherwise(tmp_path, corpus, tiny_budget):
    manifest = bench.make_subset(corpus, tmp_path / "work" / "subset", bench.SUBSET)
    assert [len(manifest["documents"][s]) for s in ("train", "dev", "test")] == [16, 3, 4]
    again = bench.make_subset(corpus, tmp_path / "other", bench.SUBSET)
    assert again["documents"] == manifest["documents"]  # same seed, same documents
    assert (tmp_path / "work" / "subset" / "EURLEX57K.json").exists()
    with pytest.raises(ValueError, match="holds a subset drawn with"):
        bench.make_subset(corpus, tmp_path / "work" / "subset", {**bench.SUBSET, "seed": 14})
    with pytest.raises(FileNotFoundError, match="EURLEX57K layout"):
        bench.make_subset(tmp_path / "nowhere", tmp_path / "x", bench.SUBSET)


def test_eval_data_puts_training_labels_first_and_zero_shot_labels_after(tmp_path, corpus, tiny_budget):
    bench.make_subset(corpus, tmp_path / "subset", bench.SUBSET)
    data = bench.load_eval_data(tmp_path / "subset")
    assert data.seen == 20 and data.names[20:] == ["c20"]
    assert data.descriptions[0] == "concept 0 fish (alias 0)"
    groups = data.groups()
    assert list(groups["zero"]) == [20] and len(groups["few"]) == 20 and len(groups["frequent"]) == 0
    # Every dev document carries the zero-shot concept c20; no test document does.
    assert data.gold["validation"][:, 20].all() and not data.gold["test"][:, 20].any()


def test_scores_of_a_perfect_and_a_label_specific_scorer(tmp_path, corpus, tiny_budget):
    bench.make_subset(corpus, tmp_path / "subset", bench.SUBSET)
    data = bench.load_eval_data(tmp_path / "subset")
    perfect = {s: data.gold[s].astype(float) for s in ("validation", "test")}
    scored = bench.scores_for_run(perfect, data, scores_unseen=True)
    assert scored["overall"]["r_precision"] == 1.0 and scored["overall"]["micro_f1"] == 1.0
    assert scored["groups"]["few"]["rp_at_5"] == 1.0
    # The test split has no zero-shot gold label, so the group is measured on no document: nan, not n/a.
    assert np.isnan(scored["groups"]["zero"]["rp_at_5"])
    seen_only = {s: m[:, : data.seen] for s, m in perfect.items()}
    specific = bench.scores_for_run(seen_only, data, scores_unseen=False)
    assert specific["groups"]["zero"] == "n/a" and specific["overall"] == scored["overall"]
    with pytest.raises(ValueError, match="expected"):
        bench.scores_for_run(perfect, data, scores_unseen=False)


def test_label_prior_ranks_every_document_by_training_frequency(tmp_path, corpus, tiny_budget):
    bench.make_subset(corpus, tmp_path / "subset", bench.SUBSET)
    data = bench.load_eval_data(tmp_path / "subset")
    data.train_counts[: data.seen] = np.arange(data.seen, 0, -1)  # distinct counts: label 0 most frequent
    scores = bench.label_prior_scores(data)
    assert scores["test"].shape == (len(data.texts["test"]), data.seen)
    assert (scores["test"] == scores["test"][0]).all() and scores["test"][0, 0] == data.seen / bench.SUBSET["train"]
    scored = bench.scores_for_run(scores, data, scores_unseen=False)
    expected_p_at_5 = data.gold["test"][:, :5].sum() / (5 * len(data.texts["test"]))
    assert np.isclose(scored["overall"]["p_at_5"], expected_p_at_5) and scored["groups"]["zero"] == "n/a"


def test_a_scored_model_reads_and_shortlists_as_its_command_says():
    from labelwise.modeling.configuration_lame import LameConfig
    from labelwise.training.arguments import parse_arguments

    def args_of(method: str):
        return parse_arguments(list(bench.METHODS[method].argv) + ["--output_dir", "unused"])[0]

    names = {i: f"label {i}" for i in range(300)}
    descriptions = [f"description {i}" for i in range(300)]
    trained = LameConfig(id2label=names, label_descriptions=descriptions, first_stage="bilinear", shortlist_size=256,
                         max_document_length=2048)
    assert bench.reading_overrides(args_of("lame_2048_exact"), trained)["shortlist_size"] == 0
    assert "shortlist_size" not in bench.reading_overrides(args_of("lame_2048"), trained)  # kept as trained
    assert bench.reading_overrides(args_of("lame_read_2048"), trained)["max_document_length"] == 2048
    exact = LameConfig(id2label=names, label_descriptions=descriptions, first_stage="none")
    assert "shortlist_size" not in bench.reading_overrides(args_of("lame_2048_exact"), exact)
    assert bench.METHODS["lame_2048_exact"].scores_model_of == "lame_2048"


def test_runner_trains_scores_resumes_and_reports(tmp_path, corpus, tiny_budget, monkeypatch):
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    work, results = tmp_path / "work", tmp_path / "results"
    methods = ["vanilla", "layerwise_flat", "lame", "similarity", "label_prior"]
    for method in methods:
        record = bench.run_one(method, corpus, work, results, backbone=checkpoint)
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

    # lame_read_2048 trains nothing: it scores lame's model, reading documents in segments up to 2,048 pieces.
    read = bench.run_one("lame_read_2048", corpus, work, results, backbone=checkpoint)
    assert read["model_of"] == "lame" and "no training" in read["command"] and not (work / "lame_read_2048").exists()
    assert "lame_read_2048 | done | - | lame's model |" in bench.report(results)

    # A model that was trained but not scored is only scored again: train.py is not called.
    (results / "lame.json").unlink()
    monkeypatch.setattr("labelwise.training.cli.run", lambda *a, **k: pytest.fail("trained again"))
    rescored = bench.run_one("lame", corpus, work, results, backbone=checkpoint)["test"]
    assert json.dumps(rescored, sort_keys=True) == json.dumps(lame["test"], sort_keys=True)  # NaN-safe
    # A finished method is skipped.
    bench.run_all(["lame"], corpus, work, results, seed=42)

    table = bench.report(results)
    assert "| lame | done |" in table and "| lame_2048 | not yet run |" in table
    assert "| vanilla | " in table.split("\n\n")[1] and "n/a | n/a | n/a |" in table
    assert "zero: 1 labels" in table and "| label_prior | done | - | no model |" in table

    drawn = bench.plot_groups(results, tmp_path / "groups.png")
    assert (tmp_path / "groups.png").stat().st_size > 0 and set(drawn) == {*methods, "lame_read_2048"}
    similarity = json.loads((results / "similarity.json").read_text())["test"]
    assert drawn["similarity"]["few"] == pytest.approx(100 * similarity["groups"]["few"]["rp_at_5"])
    assert drawn["similarity"]["zero"] is not None  # the one method here that scores unseen labels
    assert drawn["lame"]["zero"] is None and drawn["vanilla"]["overall"] == pytest.approx(
        100 * json.loads((results / "vanilla.json").read_text())["test"]["overall"]["rp_at_5"])


def test_methods_this_checkout_cannot_train_are_named(tmp_path, corpus, tiny_budget):
    for method, option in (("lame_agnostic", "--label_scoring"), ("lame_agnostic_sim", "--similarity_term"),
                           ("lame_2048", "--max_document_length")):
        why = bench.missing_option(method)
        if why is None:  # the option exists (issue 13 / issue 12 part 4 merged): the method runs
            checkpoint = tiny_bert_checkpoint(tmp_path / f"tiny_{method}")
            record = bench.run_one(method, corpus, tmp_path / "work", tmp_path / "results", backbone=checkpoint)
            assert (record["test"]["groups"]["zero"] == "n/a") == (method == "lame_2048")
        else:
            assert option in why
            with pytest.raises(ValueError, match=option):
                bench.run_one(method, corpus, tmp_path / "work", tmp_path / "results")


def test_lame_with_a_shortlist_reports_its_dev_recall(tmp_path, tiny_budget):
    corpus = eurlex_fixture(tmp_path / "eurlex", 300)  # above 256 labels: sampling, first stage, shortlist
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    record = bench.run_one("lame", corpus, tmp_path / "work", tmp_path / "results", backbone=checkpoint)
    assert record["summary"]["hyperparameters"]["shortlist_size"] == 256
    assert 0.0 <= record["dev_shortlist_recall"] <= 1.0
    assert "first-stage shortlist: lame " in bench.report(tmp_path / "results")


def test_a_method_stopped_by_a_signal_starts_no_further_method(tmp_path, monkeypatch, capsys):
    launched = []

    def fake_call(command, **kwargs):
        launched.append(command[command.index("--only") + 1])
        return 130  # train.py saved a checkpoint after SIGTERM/Ctrl-C

    monkeypatch.setattr(bench.subprocess, "call", fake_call)
    assert not bench.run_all(["vanilla", "lame"], tmp_path / "data", tmp_path / "work", tmp_path / "results", seed=42)
    assert launched == ["vanilla"]
    # From the command line the stop is the exit status, so a queue of runner calls stops as well.
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--data_dir", str(tmp_path / "data"), "--methods", "lame", "--work_dir", str(tmp_path / "work"),
                    "--results_dir", str(tmp_path / "results")])
    assert stopped.value.code == bench.EXIT_INTERRUPTED
    assert "vanilla: stopped by a signal" in capsys.readouterr().out


def test_a_method_scoring_another_methods_model_says_which_to_run_first(tmp_path, corpus, tiny_budget):
    with pytest.raises(ValueError, match="lame_read_2048 scores the model of lame, .* run --methods lame first"):
        bench.run_one("lame_read_2048", corpus, tmp_path / "work", tmp_path / "results",
                      backbone=tiny_bert_checkpoint(tmp_path / "tiny"))


def test_budget_overrides_reach_each_methods_process_and_unknown_keys_are_named(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(bench.subprocess, "call", lambda command, **kwargs: commands.append(command) or 0)
    monkeypatch.setattr(bench, "BUDGET", dict(bench.BUDGET))  # main() updates the module's budget
    bench.main(["--data_dir", str(tmp_path), "--methods", "vanilla", "--work_dir", str(tmp_path / "w"),
                "--results_dir", str(tmp_path / "r"), "--budget", '{"head_learning_rate": 0.01}'])
    assert bench.BUDGET["head_learning_rate"] == 0.01
    assert commands[0][commands[0].index("--budget") + 1] == '{"head_learning_rate": 0.01}'
    with pytest.raises(SystemExit, match=r"--budget: unknown key\(s\) \['head_lr'\]"):
        bench.budget_overrides('{"head_lr": 0.01}')


def test_report_says_when_a_run_trained_on_more_than_one_thread():
    assert bench.threads_note({"epoch_times": [{"steps": 5, "seconds": 9.0}, {"steps": 7, "seconds": 9.0, "torch_threads": 1}]}) == ""
    assert bench.threads_note({}) == ""
    mixed = {"epoch_times": [{"steps": 13, "seconds": 339.5}, {"steps": 112, "seconds": 1346.1, "torch_threads": 2},
                             {"steps": 125, "seconds": 1271.6, "torch_threads": 2}]}
    assert bench.threads_note(mixed) == " (13 steps on 1 thread, 237 steps on 2 threads)"


def test_thread_count_reaches_each_methods_process(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench.subprocess, "call", lambda command, **kwargs: calls.append((command, kwargs["env"])) or 0)
    monkeypatch.setattr(bench, "BUDGET", dict(bench.BUDGET))
    bench.main(["--data_dir", str(tmp_path), "--methods", "vanilla", "lame", "--work_dir", str(tmp_path / "w"),
                "--results_dir", str(tmp_path / "r"), "--torch_threads", "2"])
    for command, env in calls:
        assert command[command.index("--torch_threads") + 1] == "2"
        assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert len(calls) == 2


def test_results_and_checkpoints_of_another_budget_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.subprocess, "call", lambda command, **kwargs: 0)
    monkeypatch.setattr(bench, "BUDGET", dict(bench.BUDGET))
    results, work = tmp_path / "results", tmp_path / "work"
    bench.run_all(["vanilla"], tmp_path / "data", work, results, seed=42)
    assert json.loads((work / "budget.json").read_text()) == bench.BUDGET
    # A result written before label_bias_init was a budget entry ran with zero biases.
    old = {key: value for key, value in bench.BUDGET.items() if key != "label_bias_init"}
    results.mkdir()
    (results / "lame.json").write_text(json.dumps({"budget": old}))
    bench.BUDGET["label_bias_init"] = "zero"
    (work / "budget.json").write_text(json.dumps(bench.BUDGET))
    bench.run_all(["vanilla", "lame"], tmp_path / "data", work, results, seed=42)  # same budget: accepted

    bench.BUDGET["label_bias_init"] = "label_prior"
    with pytest.raises(SystemExit, match=r"lame.json is from another budget \(label_bias_init: 'zero' there, "
                                         r"'label_prior' now\)"):
        bench.run_all(["vanilla", "lame"], tmp_path / "data", work, results, seed=42)
    with pytest.raises(SystemExit, match=r"work/budget.json is from another budget \(label_bias_init"):
        bench.run_all(["vanilla"], tmp_path / "data", work, results, seed=42)


def test_patience_ends_a_run_before_its_cap_and_the_record_says_so(tmp_path, corpus, tiny_budget, monkeypatch):
    """With nothing learned (learning rates 0) the dev loss never improves: patience 1 ends the run after its
    second epoch, below a cap of 4. A repeat with another seed gets its own file, folder and report row."""
    monkeypatch.setattr(bench, "BUDGET", {**bench.BUDGET, "num_train_epochs": 4, "early_stopping_patience": 1,
                                          "learning_rate": 0.0, "head_learning_rate": 0.0})
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    work, results = tmp_path / "work", tmp_path / "results"
    record = bench.run_one("vanilla", corpus, work, results, seed=13, backbone=checkpoint)
    assert (record["stopped_by"], record["epochs_run"]) == ("patience", 2)
    assert [point["epoch"] for point in record["dev_curve"]] == [1.0, 2.0]
    assert record["dev_curve"][0]["eval_loss"] == record["dev_curve"][1]["eval_loss"]
    assert (results / "vanilla__seed13.json").exists() and not (results / "vanilla.json").exists()
    assert (work / "vanilla__seed13" / "model").is_dir()
    table = bench.report(results)
    assert "| vanilla__seed13 | done |" in table and "2 (1.0, patience)" in table
    assert "| vanilla | not yet run |" not in table  # the seed's row stands for the method


def test_ablation_rows_parse_and_a_rows_own_option_replaces_the_budgets(tmp_path):
    for method in ("lame_all_labels", "lame_negatives_256", "lame_joint", "layerwise_flat_mean", "layerwise_flat_head_lr"):
        assert bench.missing_option(method) is None, method
    argv = bench.train_argv("layerwise_flat_head_lr", tmp_path, tmp_path / "out", 42, "backbone")
    assert argv.count("--head_learning_rate") == 1 and argv[argv.index("--head_learning_rate") + 1] == "0.01"
    argv = bench.train_argv("lame_all_labels", tmp_path, tmp_path / "out", 42, "backbone")
    assert argv[argv.index("--all_label_loss") + 1] == "true"
    assert argv[argv.index("--head_learning_rate") + 1] == str(bench.BUDGET["head_learning_rate"])


def test_subset_overrides_reach_each_methods_process_and_unknown_keys_are_named(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(bench.subprocess, "call", lambda command, **kwargs: commands.append(command) or 0)
    monkeypatch.setattr(bench, "SUBSET", dict(bench.SUBSET))
    bench.main(["--data_dir", str(tmp_path), "--methods", "vanilla", "--work_dir", str(tmp_path / "w"),
                "--results_dir", str(tmp_path / "r"), "--subset", '{"train": 5000}'])
    assert bench.SUBSET["train"] == 5000 and bench.steps_per_epoch() == 5000 // bench.BUDGET["per_device_train_batch_size"]
    assert commands[0][commands[0].index("--subset") + 1] == '{"train": 5000}'
    with pytest.raises(SystemExit, match="--subset: expected a JSON object with keys among"):
        bench.subset_overrides('{"documents": 5}')


def test_query_similarity_compares_cls_and_mean_pooled_descriptions(tmp_path, corpus, tiny_budget):
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny")
    record = bench.query_similarity(corpus, tmp_path / "work", tmp_path / "results", backbone=checkpoint)
    assert record["labels"] == 20 and json.loads((tmp_path / "results" / "query_similarity.json").read_text()) == record
    for pooling in ("cls", "mean"):
        values = record[pooling]
        assert -1.0 <= values["cosine_p5"] <= values["mean_pairwise_cosine"] <= values["cosine_p95"] <= 1.0
        assert 0.0 <= values["share_of_squared_norm_in_the_mean"] <= 1.0
    assert record["cls"] != record["mean"]
