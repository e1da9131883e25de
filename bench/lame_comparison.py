"""Reproduce the LAME comparison (paper Tables 1 and 2) on CPU with the packaged MiniLM.

    python bench/lame_comparison.py --data_root ../shared/data --jobs 2       # run (resumable)
    python bench/lame_comparison.py --report --plot docs/images/lame_comparison.png   # tables -> docs/RESULTS.md

Methods, with one budget for all (epochs, sequence length, batch, learning rates, early model
selection on the dev split):
- `vanilla`: transformers' BertForSequenceClassification, fine-tuned;
- `frozen_lame`: frozen encoder + CNN features + label attention;
- `lame_bce`: LAME with binary cross-entropy (HoC) or cross-entropy (Disease-5);
- `lame_fmeasure`: LAME with the F-measure loss (HoC only: it is a multi-label loss).

Corpora: HoC with the BLUE split (1,108 / 157 / 315 abstracts) and Disease-5 (the 2,888
available Medical Abstracts split 8:1:1 with a fixed seed). A run is `<corpus>__<method>`; each
writes one record, `bench/results/lame_comparison/<corpus>__<method>__seed<seed>.json`
(`labelwise.experiments.study`: the training summary, the command, the commit, wall time). Model
folders go to `--work_dir` (not committed).
"""

from __future__ import annotations

from pathlib import Path

from labelwise.experiments.study import Study, load_records, main, plot_bars, table

HERE = Path(__file__).resolve().parent

CPU_BUDGET = {
    "max_length": 128,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 64,
    "learning_rate": 1e-4,
    "head_learning_rate": 1e-3,
    "warmup_steps": 0.1,
    "lr_scheduler_type": "linear",
    "optim": "adamw_torch",
    "label_attention_heads": 12,
}
"""The budget of every run (epochs per corpus below, chosen so both corpora get about 300 optimisation
steps). The encoder learns at 1e-4; everything trained from scratch (label attention, CNN features, the
untrained MiniLM pooler of `vanilla`, the output layer) at 1e-3. The best epoch on the dev split is kept.
The paper's own (GPU) protocol is the shipped configs `lame_paper`, `vanilla_paper`, `frozen_lame_paper`."""

METHODS = {
    "vanilla": {"model": "vanilla"},
    "frozen_lame": {"model": "frozen_lame"},
    "lame_bce": {"model": "lame", "loss": "bce"},
    "lame_fmeasure": {"model": "lame", "loss": "f_measure"},
}
CORPORA = {
    # 1,108 training abstracts: 70 steps an epoch; 2,310: 145 steps an epoch.
    "hoc": {"methods": ["vanilla", "frozen_lame", "lame_bce", "lame_fmeasure"], "metric": "micro_f1", "epochs": 4},
    "disease5": {"methods": ["vanilla", "frozen_lame", "lame_bce"], "metric": "accuracy", "epochs": 2},
}
PAPER = {
    "hoc": {
        "vanilla": {"micro_f1": 83.04, "micro_precision": 80.71, "micro_recall": 85.84},
        "frozen_lame": {"micro_f1": 71.61, "micro_precision": 66.33, "micro_recall": 78.74},
        "lame": {"micro_f1": 83.30, "micro_precision": 78.84, "micro_recall": 88.63},
    },
    "disease5": {"vanilla": {"accuracy": 82.91}, "frozen_lame": {"accuracy": 83.18}, "lame": {"accuracy": 83.65}},
}


def corpus_options(corpus: str, data_root: Path) -> dict:
    """train.py's corpus options of `hoc` (BLUE split) or `disease5` (Medical Abstracts) under `data_root`."""
    if corpus == "hoc":
        return {"corpus": "hoc", "data_dir": str(data_root / "hoc"),
                "corpus_options": {"split_dir": str(data_root / "hoc" / "blue_split")}}
    return {"corpus": "medical_abstracts", "data_dir": str(data_root / "medical_abstracts")}


def paper_scores(corpus: str, method: str) -> dict[str, float]:
    """The paper's figures for a method; its single LAME row (loss not stated) stands for both losses."""
    return PAPER[corpus].get("lame" if method.startswith("lame_") else method, {})


RUNS = {f"{c}__{m}": (c, m) for c, spec in CORPORA.items() for m in spec["methods"]}
STUDY = Study(
    name="lame_comparison",
    methods={run: {**METHODS[m], "num_train_epochs": CORPORA[c]["epochs"], "save_total_limit": 1}
             for run, (c, m) in RUNS.items()},
    seeds=(13, 42, 87), budget=CPU_BUDGET, corpus=lambda root, run: corpus_options(RUNS[run][0], root),
    script=__file__, results_dir=HERE / "results" / "lame_comparison",
    work_dir=HERE.parent / "outputs" / "lame_comparison", data_root=HERE.parent.parent / "shared" / "data",
    fields={run: {"corpus": c, "method": m} for run, (c, m) in RUNS.items()},
)


def report(study: Study) -> str:
    """Markdown tables: ours (mean ± std over seeds, test split) beside the paper's."""
    records = load_records(study.results_dir)
    lines = []
    for corpus, spec in CORPORA.items():
        metrics = ["micro_f1", "micro_precision", "micro_recall"] if corpus == "hoc" else ["accuracy"]
        title = "HoC (BLUE split), test, micro-averaged, %" if corpus == "hoc" else "Disease-5 (Medical Abstracts, 8:1:1), test accuracy, %"
        mine = [r for r in records if r["corpus"] == corpus]
        columns = {f"ours {m}": f"summary.metrics.test.{m}" for m in metrics}
        columns.update({f"paper {m}": (lambda r, m=m: str(paper_scores(corpus, r["method"]).get(m, "-"))) for m in metrics})
        columns[f"ours {metrics[0]} per seed"] = lambda r, m=metrics[0]: f"{r['seed']}: {100 * r['summary']['metrics']['test'][m]:.2f}"
        columns["wall time / run"] = lambda r: f"{r.get('wall_seconds', r.get('wall_seconds_this_process')) / 60:.1f} min"
        lines += [f"#### {title}", "", table(mine, spec["methods"], columns), ""]
    return "\n".join(lines)


def plot(study: Study, path: Path) -> Path:
    """Bar chart: ours (mean, std error bar, every seed a dot) beside the paper's figure (a diamond)."""
    records = load_records(study.results_dir)
    panels = {corpus: {m: [100 * r["summary"]["metrics"]["test"][spec["metric"]] for r in records
                           if r["corpus"] == corpus and r["method"] == m] for m in spec["methods"]}
              for corpus, spec in CORPORA.items()}
    paper = {c: {m: paper_scores(c, m).get(spec["metric"]) for m in spec["methods"]} for c, spec in CORPORA.items()}
    return plot_bars(panels, "test score (%)", path, paper, "paper (BioBERT, GPU)")


if __name__ == "__main__":
    main(STUDY, report=report, plot=plot)
