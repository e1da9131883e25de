"""HoC trained until dev micro-F1 stops improving: LAME against plain fine-tuning, once converged (issue 17).

    python bench/hoc_converged.py --data_root ../shared/data --jobs 1        # run (resumable)
    python bench/hoc_converged.py --report --plot docs/images/hoc_converged_curves.png

The 4-epoch comparison (`bench/lame_comparison.py`) measured how fast each method learns: vanilla
fine-tuning was still climbing when it stopped. Here every run trains until the dev micro-F1 has not
improved for `PATIENCE` evaluations (one per epoch), with a cap of `MAX_EPOCHS` epochs; the report
says for which runs the cap, not the patience, ended training. Everything else is the budget of
the 4-epoch comparison, and the best dev epoch is kept. Each run's record
(`bench/results/hoc_converged/<method>__seed<seed>.json`, `labelwise.experiments.study`) adds test
scores at 0.5, at one global threshold tuned on dev and at per-label thresholds tuned on dev
(`labelwise.evaluate`).

Methods: `vanilla`, `frozen_lame`, `lame_bce`, `lame_f_micro` (the paper's mini-batch F-measure),
`lame_f_macro` (the per-label form of the LAME authors' code).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lame_comparison import CPU_BUDGET, PAPER, corpus_options  # noqa: E402

from labelwise.experiments.study import Study, load_records, main, plot_dev_curves, table  # noqa: E402

MAX_EPOCHS = 20
PATIENCE = 3
METHODS = {
    "vanilla": {"model": "vanilla"},
    "lame_bce": {"model": "lame", "loss": "bce"},
    "frozen_lame": {"model": "frozen_lame"},
    "lame_f_micro": {"model": "lame", "loss": "f_measure", "f_measure_average": "micro"},
    "lame_f_macro": {"model": "lame", "loss": "f_measure", "f_measure_average": "macro"},
}
BUDGET = {**CPU_BUDGET, "num_train_epochs": MAX_EPOCHS, "early_stopping_patience": PATIENCE,
          "metric_for_best_model": "micro_f1", "save_total_limit": 2}


def threshold_scores(model_dir: Path, options: dict, data_root: Path) -> dict:
    """Test scores at 0.5, at the dev-tuned global threshold and at dev-tuned per-label thresholds."""
    from labelwise.data_scripts import load_corpus
    from labelwise.evaluate import evaluate, load_model

    corpus = load_corpus("hoc", data_dir=options["data_dir"], **options["corpus_options"])
    model = load_model(str(model_dir), max_length=options["max_length"])
    result = evaluate(model, dataset=corpus["test"], tune_on=corpus["validation"], threshold=0.5)
    return {
        "tuned_global_threshold": result.tuned["global"]["threshold"],
        "dev_micro_f1_at_tuned_threshold": result.tuned["global"]["tuning_micro_f1"],
        "tuned_label_thresholds": dict(zip(model.label_names, [round(t, 2) for t in result.tuned["per_label"]["thresholds"]])),
        "test_at_0.5": result.metrics,
        "test_at_tuned_global": result.tuned["global"]["metrics"],
        "test_at_tuned_per_label": result.tuned["per_label"]["metrics"],
    }


STUDY = Study(
    name="hoc_converged", methods=METHODS, seeds=(13, 42, 87), budget=BUDGET, corpus=lambda root, method: corpus_options("hoc", root),
    script=__file__, results_dir=HERE / "results" / "hoc_converged", work_dir=HERE.parent / "outputs" / "hoc_converged",
    data_root=HERE.parent.parent / "shared" / "data", score=threshold_scores,
)


def thresholds(record: dict) -> dict:
    return record.get("scores") or record["thresholds"]  # records before the study harness: "thresholds"


def report(study: Study) -> str:
    """Test micro-F1 at 0.5 / tuned thresholds, epochs, stop reason, beside the paper."""
    at = lambda key, metric: lambda r: thresholds(r)[key][metric]  # noqa: E731
    columns = {"test micro-F1 @0.5": at("test_at_0.5", "micro_f1"), "P @0.5": at("test_at_0.5", "micro_precision"),
               "R @0.5": at("test_at_0.5", "micro_recall"), "@tuned global": at("test_at_tuned_global", "micro_f1"),
               "@tuned per label": at("test_at_tuned_per_label", "micro_f1"),
               "epochs run (best)": lambda r: f"{r['epochs_run']} ({r['best_epoch']})", "stopped by": "stopped_by"}
    paper = {m: str(PAPER["hoc"].get("lame" if m.startswith("lame_") else m, {}).get("micro_f1", "-")) for m in METHODS}
    return table(load_records(study.results_dir), list(METHODS), columns, reference=paper)


def plot(study: Study, path: Path) -> Path:
    colours = dict(zip(METHODS, ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]))
    return plot_dev_curves(load_records(study.results_dir), "micro_f1",
                           f"HoC dev micro-F1 per epoch (patience {PATIENCE}, cap {MAX_EPOCHS})", path,
                           lambda record: colours[record["method"]])


if __name__ == "__main__":
    main(STUDY, report=report, plot=plot)
