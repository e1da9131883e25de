"""labelwise.experiments.label_groups and capped_runs on a fixture EURLEX57K folder: the subset, the evaluation
label set with its zero-shot columns, scores per label group at a dev-tuned threshold, the label-prior baseline,
a model read otherwise than trained, the queue that a signal stops, budgets refused by name, the report's thread note
and its average over seeds."""

import json

import numpy as np
import pytest
from helpers import tiny_bert_checkpoint
from test_training_configs import eurlex_fixture

from labelwise.experiments import capped_runs, label_groups
from labelwise.experiments.kind_scoring import reading_overrides
from labelwise.metrics.spread import mean_pairwise_cosine, spread

SUBSET = {"train": 16, "dev": 3, "test": 4, "seed": 13}
CORPUS_OPTIONS = {"descriptions": "label+alt", "label_set": "train"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20 concepts in training, a dev-only concept c20 (zero-shot); 16 / 4 / 4 documents."""
    return eurlex_fixture(tmp_path_factory.mktemp("fixture") / "eurlex", 20)


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("subset")
    label_groups.make_subset(corpus, folder, SUBSET)
    return label_groups.load_eval_data(folder, CORPUS_OPTIONS)


def test_subset_is_seeded_recorded_and_refused_when_drawn_otherwise(tmp_path, corpus):
    manifest = label_groups.make_subset(corpus, tmp_path / "work" / "subset", SUBSET)
    assert [len(manifest["documents"][s]) for s in ("train", "dev", "test")] == [16, 3, 4]
    again = label_groups.make_subset(corpus, tmp_path / "other", SUBSET)
    assert again["documents"] == manifest["documents"]  # same seed, same documents
    assert (tmp_path / "work" / "subset" / "EURLEX57K.json").exists()
    with pytest.raises(ValueError, match="holds a subset drawn with"):
        label_groups.make_subset(corpus, tmp_path / "work" / "subset", {**SUBSET, "seed": 14})
    with pytest.raises(FileNotFoundError, match="EURLEX57K layout"):
        label_groups.make_subset(tmp_path / "nowhere", tmp_path / "x", SUBSET)


def test_a_subset_half_drawn_by_another_run_is_completed_and_a_foreign_file_is_named(tmp_path, corpus):
    """Two lanes of the study draw the same subset into one work folder at once: the links the other made are kept."""
    first = label_groups.make_subset(corpus, tmp_path / "a" / "subset", SUBSET)
    folder = tmp_path / "b" / "subset"
    name = first["documents"]["train"][0]
    (folder / "train").mkdir(parents=True)
    (folder / "train" / name).symlink_to((corpus / "train" / name).resolve())  # the other run's link, no manifest yet
    assert label_groups.make_subset(corpus, folder, SUBSET)["documents"] == first["documents"]
    assert not list(folder.glob("*.tmp"))
    clash = tmp_path / "c" / "subset"
    (clash / "train").mkdir(parents=True)
    (clash / "train" / name).write_text("{}", encoding="utf-8")
    with pytest.raises(FileExistsError, match=f"{name} exists and is not a link"):
        label_groups.make_subset(corpus, clash, SUBSET)


def test_eval_data_puts_training_labels_first_and_zero_shot_labels_after(data):
    assert data.seen == 20 and data.names[20:] == ["c20"]
    assert data.descriptions[0] == "concept 0 fish (alias 0)"
    groups = data.groups()
    assert list(groups["zero"]) == [20] and len(groups["few"]) == 20 and len(groups["frequent"]) == 0
    # Every dev document carries the zero-shot concept c20; no test document does.
    assert data.gold["validation"][:, 20].all() and not data.gold["test"][:, 20].any()


def test_scores_of_a_perfect_and_a_label_specific_scorer(data):
    perfect = {s: data.gold[s].astype(float) for s in ("validation", "test")}
    scored = label_groups.scores_for_run(perfect, data, scores_unseen=True)
    assert scored["overall"]["r_precision"] == 1.0 and scored["overall"]["micro_f1"] == 1.0
    assert scored["groups"]["few"]["rp_at_5"] == 1.0
    # The test split has no zero-shot gold label, so the group is measured on no document: nan, not n/a.
    assert np.isnan(scored["groups"]["zero"]["rp_at_5"])
    seen_only = {s: m[:, : data.seen] for s, m in perfect.items()}
    specific = label_groups.scores_for_run(seen_only, data, scores_unseen=False)
    assert specific["groups"]["zero"] == "n/a" and specific["overall"] == scored["overall"]
    with pytest.raises(ValueError, match="expected"):
        label_groups.scores_for_run(perfect, data, scores_unseen=False)


def test_label_prior_ranks_every_document_by_training_frequency(data):
    counts = data.train_counts.copy()
    data.train_counts[: data.seen] = np.arange(data.seen, 0, -1)  # distinct counts: label 0 most frequent
    try:
        scores = label_groups.label_prior_scores(data, SUBSET["train"])
        assert scores["test"].shape == (len(data.texts["test"]), data.seen)
        assert (scores["test"] == scores["test"][0]).all() and scores["test"][0, 0] == data.seen / SUBSET["train"]
        scored = label_groups.scores_for_run(scores, data, scores_unseen=False)
        expected_p_at_5 = data.gold["test"][:, :5].sum() / (5 * len(data.texts["test"]))
        assert np.isclose(scored["overall"]["p_at_5"], expected_p_at_5) and scored["groups"]["zero"] == "n/a"
    finally:
        data.train_counts[:] = counts


def test_a_scored_model_reads_and_shortlists_as_its_options_say(tmp_path):
    from labelwise.modeling.configuration_lame import LameConfig
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import options_to_argv

    def args_of(**options):
        return parse_arguments(options_to_argv({"config": "lame_eurlex57k", **options, "output_dir": str(tmp_path)}))[0]

    names = {i: f"label {i}" for i in range(300)}
    descriptions = [f"description {i}" for i in range(300)]
    trained = LameConfig(id2label=names, label_descriptions=descriptions, first_stage="bilinear", shortlist_size=256,
                         max_document_length=2048)
    assert reading_overrides(args_of(max_document_length=2048, shortlist_size=0), trained)["shortlist_size"] == 0
    assert "shortlist_size" not in reading_overrides(args_of(max_document_length=2048), trained)  # kept as trained
    assert reading_overrides(args_of(max_document_length=2048), trained)["max_document_length"] == 2048
    exact = LameConfig(id2label=names, label_descriptions=descriptions, first_stage="none")
    assert "shortlist_size" not in reading_overrides(args_of(max_document_length=2048, shortlist_size=0), exact)


def test_a_run_stopped_by_a_signal_starts_no_further_run(tmp_path, monkeypatch, capsys):
    launched = []

    def fake_call(command, **kwargs):
        launched.append(command[0])
        assert kwargs["env"]["OMP_NUM_THREADS"] == kwargs["env"]["MKL_NUM_THREADS"] == "2"
        return 130  # train.py saved a checkpoint after SIGTERM/Ctrl-C

    monkeypatch.setattr(capped_runs.subprocess, "call", fake_call)
    assert not capped_runs.run_queue([("a", ["first"]), ("b", ["second"])], tmp_path / "logs", torch_threads=2)
    assert launched == ["first"] and "a: stopped by a signal" in capsys.readouterr().out
    monkeypatch.setattr(capped_runs.subprocess, "call", lambda command, **kwargs: launched.append(command[0]) or 1)
    assert capped_runs.run_queue([("c", ["third"])], tmp_path / "logs")  # a failure is reported, the queue goes on
    assert "c: FAILED (exit 1" in capsys.readouterr().out


def test_records_of_another_budget_are_refused_by_name(tmp_path):
    budget = {"learning_rate": 1e-4, "label_bias_init": "label_prior"}
    old = tmp_path / "lame.json"
    old.write_text(json.dumps({"budget": {"learning_rate": 1e-4}}))  # written before label_bias_init existed
    capped_runs.check_same_budget([(old, "budget"), (tmp_path / "absent.json", None)], {**budget, "label_bias_init": "zero"},
                                  legacy={"label_bias_init": "zero"})
    with pytest.raises(SystemExit, match=r"lame.json is from another budget \(label_bias_init: 'zero' there, 'label_prior' now\)"):
        capped_runs.check_same_budget([(old, "budget")], budget, legacy={"label_bias_init": "zero"})


def test_report_says_when_a_run_trained_on_more_than_one_thread():
    assert label_groups.threads_note({"epoch_times": [{"steps": 5, "seconds": 9.0}, {"steps": 7, "seconds": 9.0, "torch_threads": 1}]}) == ""
    assert label_groups.threads_note({}) == ""
    mixed = {"epoch_times": [{"steps": 13, "seconds": 339.5}, {"steps": 112, "seconds": 1346.1, "torch_threads": 2},
                             {"steps": 125, "seconds": 1271.6, "torch_threads": 2}]}
    assert label_groups.threads_note(mixed) == " (13 steps on 1 thread, 237 steps on 2 threads)"


def test_report_averages_a_method_over_its_seeds_and_gives_their_range():
    def record(method, seed, rp, few):
        overall = {"r_precision": rp, "rp_at_5": rp + 0.1, "ndcg_at_5": rp, "micro_f1": rp, "p_at_5": rp,
                   "micro_precision": rp, "micro_recall": rp}
        groups = {"frequent": {"rp_at_5": 0.9}, "few": {"rp_at_5": few}, "zero": "n/a"}
        return {"method": method, "seed": seed, "test": {"overall": overall, "groups": groups, "threshold": 0.5}}

    records = {"vanilla": record("vanilla", 42, 0.40, 0.30), "vanilla__seed13": record("vanilla", 13, 0.46, 0.50),
               "lame": record("lame", 42, 0.50, 0.60)}
    lines = label_groups.seeds_summary(records)
    assert lines[-1] == "| vanilla | 13, 42 | 43.00 (40.00-46.00) | 53.00 | 43.00 | 43.00 | 40.00 |"
    assert not any(line.startswith("| lame |") for line in lines)  # one seed: no average
    assert label_groups.seeds_summary({"lame": records["lame"]}) == []


def test_query_similarity_compares_cls_and_mean_pooled_descriptions(tmp_path, data):
    record = label_groups.query_similarity(data.descriptions[: data.seen], tiny_bert_checkpoint(tmp_path / "tiny"))
    assert record["labels"] == 20
    for pooling in ("cls", "mean"):
        values = record[pooling]
        assert -1.0 <= values["cosine_p5"] <= values["mean_pairwise_cosine"] <= values["cosine_p95"] <= 1.0
        assert 0.0 <= values["share_of_squared_norm_in_the_mean"] <= 1.0
    assert record["cls"] != record["mean"]


def test_spread_of_one_repeated_vector_and_of_opposite_pairs():
    import torch

    same = spread(torch.tensor([[1.0, 2.0, 0.0]] * 4))
    assert same["mean_pairwise_cosine"] == pytest.approx(1.0) and same["share_of_squared_norm_in_the_mean"] == pytest.approx(1.0)
    assert mean_pairwise_cosine(torch.tensor([[1.0, 2.0, 0.0]] * 4)) == pytest.approx(1.0)
    # e1, -e1, e2, -e2: the mean is 0 (nothing shared); 4 of the 12 ordered pairs at -1, 8 at 0.
    apart = spread(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
    assert apart["mean_pairwise_cosine"] == pytest.approx(-1 / 3, abs=1e-4)
    assert apart["share_of_squared_norm_in_the_mean"] == pytest.approx(0.0) and apart["cosine_p5"] == pytest.approx(-1.0)


def test_representation_spread_sees_a_collapsed_encoder(tmp_path, data):
    import torch
    from transformers import AutoTokenizer

    from labelwise.modeling import LameForSequenceClassification

    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny", initializer_range=0.5)  # states far apart
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=data.descriptions[:20], problem_type="multi_label_classification",
        label_attention_heads=4)
    texts = ["aid for skimmed milk powder", "fishing quotas in the north sea", "customs tariff on steel", "oil"]
    batch = dict(tokenizer(texts, padding=True, return_tensors="pt"))
    healthy = label_groups.representation_spread(model.train(), batch)
    assert model.training  # the mode it was called in is restored
    assert healthy["documents"] == 4 and healthy["document_mean"]["mean_pairwise_cosine"] < 0.99
    assert healthy["label_queries"]["mean_pairwise_cosine"] < 0.99 and healthy["logit_std_across_documents"] > 0
    # An encoder whose last layer outputs one vector whatever it reads: every document, every label query
    # and every document's logits are the same.
    last = model.backbone.encoder.layer[-1].output
    last.dense.weight.data.zero_()
    last.LayerNorm.weight.data.zero_()
    last.LayerNorm.bias.data.normal_()
    collapsed = label_groups.representation_spread(model, batch)
    assert collapsed["document_mean"]["mean_pairwise_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert collapsed["label_queries"]["share_of_squared_norm_in_the_mean"] == pytest.approx(1.0, abs=1e-5)
    assert collapsed["logit_std_across_documents"] == pytest.approx(0.0, abs=1e-4) and collapsed["distinct_top_labels"] == 1
    assert torch.is_grad_enabled()


def test_probe_measures_before_training_and_every_few_steps_then_stops(tmp_path, corpus):
    folder = tmp_path / "subset"
    label_groups.make_subset(corpus, folder, SUBSET)
    options = {"model": "lame", "corpus": "eurlex57k", "data_dir": str(folder), "corpus_options": CORPUS_OPTIONS,
               "model_name_or_path": tiny_bert_checkpoint(tmp_path / "tiny", initializer_range=0.5), "max_length": 32,
               "per_device_train_batch_size": 4, "num_train_epochs": 2, "label_attention_heads": 4, "seed": 1}
    seen = []
    measurements = capped_runs.probe_representations(options, steps=3, every=2, documents=3, on_measure=seen.append)
    assert [m["step"] for m in measurements] == [0, 2, 3] and seen == measurements  # 3 of the epochs' 8 steps
    assert measurements[0]["train_loss_last_logged"] is None and measurements[-1]["train_loss_logged_at_step"] == 2
    assert all(m["documents"] == 3 and "label_queries" in m for m in measurements)
    assert measurements[0]["logit_std_across_labels"] != measurements[-1]["logit_std_across_labels"]  # it trained


def test_saved_models_are_measured_on_the_probes_documents(tmp_path, corpus, data):
    from transformers import AutoTokenizer

    from labelwise.modeling import LameForSequenceClassification

    folder = tmp_path / "subset"
    label_groups.make_subset(corpus, folder, SUBSET)
    checkpoint = tiny_bert_checkpoint(tmp_path / "tiny", initializer_range=0.5)
    options = {"model": "lame", "corpus": "eurlex57k", "data_dir": str(folder), "corpus_options": CORPUS_OPTIONS,
               "model_name_or_path": checkpoint, "max_length": 32, "per_device_train_batch_size": 4,
               "num_train_epochs": 1, "label_attention_heads": 4, "seed": 1}
    model = LameForSequenceClassification.from_pretrained(
        checkpoint, label_descriptions=data.descriptions[: data.seen], problem_type="multi_label_classification",
        label_attention_heads=4)
    saved = tmp_path / "run" / "checkpoint-7"
    model.save_pretrained(saved)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(saved)
    (saved / "trainer_state.json").write_text(json.dumps({"global_step": 7}))
    [record] = capped_runs.saved_representations(options, [saved], documents=3)
    assert record["step"] == 7 and record["model"] == str(saved) and record["documents"] == 3
    assert record["label_queries"] == spread(model.eval().encode_label_descriptions())


def test_collapse_plot_draws_documents_and_queries_per_method(tmp_path):
    def measurement(step, documents, queries=None):
        row = {"step": step, "document_mean": {"mean_pairwise_cosine": documents}}
        return {**row, "label_queries": {"mean_pairwise_cosine": queries}} if queries is not None else row

    records = {"vanilla": {"measurements": [measurement(0, 0.5), measurement(20, 0.4)]},
               "lame": {"measurements": [measurement(0, 0.5, 0.6), measurement(20, 0.97, 0.99)]}}
    saved = {"lame": {"measurements": [measurement(125, 0.98, 0.98), {**measurement(None, 0.5), "model": "kept"}]}}
    drawn = label_groups.plot_collapse(records, tmp_path / "collapse.png", "probe", saved)
    assert drawn["lame"] == {"steps": [0, 20], "documents": [0.5, 0.97], "queries": [0.6, 0.99]}
    assert drawn["vanilla"]["queries"] == [None, None] and (tmp_path / "collapse.png").stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="No probe record"):
        label_groups.plot_collapse({}, tmp_path / "none.png", "probe")
