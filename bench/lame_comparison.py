"""Reproduce the LAME comparison (paper Tables 1 and 2) on CPU with the packaged MiniLM.

    python bench/lame_comparison.py --data_root ../shared/data            # run (resumable)
    python bench/lame_comparison.py --report --plot docs/images/lame_comparison.png   # tables -> docs/RESULTS.md

Methods, with one budget for all (epochs, sequence length, batch, learning rates, early model
selection on the dev split):
- `vanilla`: transformers' BertForSequenceClassification, fine-tuned;
- `frozen_lame`: frozen encoder + CNN features + label attention;
- `lame_bce`: LAME with binary cross-entropy (HoC) or cross-entropy (Disease-5);
- `lame_fmeasure`: LAME with the F-measure loss (HoC only: it is a multi-label loss).

Corpora: HoC with the BLUE split (1,108 / 157 / 315 abstracts) and Disease-5 (the 2,888
available Medical Abstracts split 8:1:1 with a fixed seed).

Each (corpus, method, seed) writes one result file, `bench/results/lame_comparison/<corpus>__<method>__seed<seed>.json`
(a copy of the run's training_summary.json plus wall time); a run whose file exists is skipped, so the
comparison can be stopped at any time and continued in a later session. Model folders go to
`--work_dir` (not committed); the best LAME model of each corpus is kept for explanations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "lame_comparison"

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
"""The budget of every run (same for every method of a corpus; epochs per corpus below, chosen so
both corpora get about 300 optimisation steps). The encoder learns at 1e-4; everything trained from
scratch (label attention, CNN features, the untrained MiniLM pooler of `vanilla`, the output layer)
at 1e-3. The best epoch on the dev split is kept. The paper's own (GPU) protocol is the shipped
configs `lame_paper`, `vanilla_paper`, `frozen_lame_paper` (512 pieces, batch 42, 30 epochs)."""

METHODS = {
    "vanilla": ["--model", "vanilla"],
    "frozen_lame": ["--model", "frozen_lame"],
    "lame_bce": ["--model", "lame", "--loss", "bce"],
    "lame_fmeasure": ["--model", "lame", "--loss", "f_measure"],
}
CORPORA = {
    # 1,108 training abstracts: 70 steps an epoch; 2,310: 145 steps an epoch.
    "hoc": {"methods": ["vanilla", "frozen_lame", "lame_bce", "lame_fmeasure"], "metric": "micro_f1",
            "budget": {"num_train_epochs": 4}},
    "disease5": {"methods": ["vanilla", "frozen_lame", "lame_bce"], "metric": "accuracy",
                 "budget": {"num_train_epochs": 2}},
}
PAPER = {
    "hoc": {
        "vanilla": {"micro_f1": 83.04, "micro_precision": 80.71, "micro_recall": 85.84},
        "frozen_lame": {"micro_f1": 71.61, "micro_precision": 66.33, "micro_recall": 78.74},
        "lame": {"micro_f1": 83.30, "micro_precision": 78.84, "micro_recall": 88.63},
    },
    "disease5": {"vanilla": {"accuracy": 82.91}, "frozen_lame": {"accuracy": 83.18}, "lame": {"accuracy": 83.65}},
}


def corpus_arguments(corpus: str, data_root: Path) -> list[str]:
    if corpus == "hoc":
        options = {"split_dir": str(data_root / "hoc" / "blue_split")}
        return ["--corpus", "hoc", "--data_dir", str(data_root / "hoc"), "--corpus_options", json.dumps(options)]
    return ["--corpus", "medical_abstracts", "--data_dir", str(data_root / "medical_abstracts")]


def budget_arguments(budget: dict) -> list[str]:
    args = []
    for key, value in budget.items():
        args += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return args


def paper_scores(corpus: str, method: str) -> dict[str, float]:
    """The paper's figures for a method; its single LAME row (loss not stated) stands for both losses."""
    return PAPER[corpus].get("lame" if method.startswith("lame_") else method, {})


def result_path(corpus: str, method: str, seed: int) -> Path:
    return RESULTS / f"{corpus}__{method}__seed{seed}.json"


def budget_of(corpus: str) -> dict:
    return {**CPU_BUDGET, **CORPORA[corpus]["budget"]}


def run_one(corpus: str, method: str, seed: int, data_root: Path, work_dir: Path) -> None:
    """Train and evaluate one (corpus, method, seed) and write its result file."""
    import torch

    from labelwise.training.cli import run

    budget = budget_of(corpus)
    output_dir = work_dir / corpus / method / f"seed{seed}"
    argv = (
        METHODS[method] + corpus_arguments(corpus, data_root) + budget_arguments(budget)
        + ["--seed", str(seed), "--output_dir", str(output_dir), "--save_total_limit", "1", "--disable_tqdm", "true"]
    )
    started = time.time()
    summary = run(argv)
    record = {"corpus": corpus, "method": method, "seed": seed, "budget": budget,
              "torch_threads": torch.get_num_threads(), "wall_seconds": round(time.time() - started, 1),
              "command": "python train.py " + " ".join(argv), "summary": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    result_path(corpus, method, seed).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)  # the final model is in output_dir/model


def run_all(data_root: Path, work_dir: Path, seeds: list[int], corpora: list[str], methods: list[str] | None,
            jobs: int) -> None:
    """Run every unfinished (corpus, method, seed), `jobs` at a time, each in its own process.

    Each process gets cores/jobs torch threads. Each run logs to `<work_dir>/logs/<name>.log`.
    """
    plan = [
        (corpus, method, seed)
        for seed in seeds
        for corpus in corpora
        for method in CORPORA[corpus]["methods"]
        if methods is None or method in methods
    ]
    todo = [run for run in plan if not result_path(*run).exists()]
    print(f"{len(plan) - len(todo)} of {len(plan)} runs done earlier; {len(todo)} to run, {jobs} at a time", flush=True)
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def launch(run: tuple[str, str, int]) -> tuple[str, int, float]:
        corpus, method, seed = run
        name = result_path(*run).stem
        command = [sys.executable, str(Path(__file__).resolve()), "--only", corpus, method, str(seed),
                   "--data_root", str(data_root), "--work_dir", str(work_dir)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        started = time.time()
        with open(work_dir / "logs" / f"{name}.log", "w", encoding="utf-8") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        return name, code, time.time() - started

    failures = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(launch, run) for run in todo]
        for done, future in enumerate(as_completed(futures), 1):
            name, code, seconds = future.result()
            status = "ok" if code == 0 else f"FAILED (exit {code}, see {work_dir / 'logs' / (name + '.log')})"
            failures += code != 0
            print(f"[{done}/{len(todo)}] {name}: {status} in {seconds / 60:.1f} min", flush=True)
    if failures:
        raise SystemExit(f"{failures} run(s) failed")


def load_results() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("*.json"))]


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.mean(values) * 100
    std = statistics.stdev(values) * 100 if len(values) > 1 else float("nan")
    return f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"


def report() -> str:
    """Markdown tables: ours (mean ± std over seeds, test split) beside the paper's."""
    results = load_results()
    lines = []
    for corpus, spec in CORPORA.items():
        metrics = ["micro_f1", "micro_precision", "micro_recall"] if corpus == "hoc" else ["accuracy"]
        title = "HoC (BLUE split), test, micro-averaged, %" if corpus == "hoc" else "Disease-5 (Medical Abstracts, 8:1:1), test accuracy, %"
        lines += [f"#### {title}", "", "| method | seeds | " + " | ".join(f"ours {m}" for m in metrics)
                  + " | " + " | ".join(f"paper {m}" for m in metrics) + f" | ours {metrics[0]} per seed | mean wall time / run |",
                  "|---|---|" + "---|" * (2 * len(metrics) + 2)]
        for method in spec["methods"]:
            runs = [r for r in results if r["corpus"] == corpus and r["method"] == method]
            ours = [_mean_std([r["summary"]["metrics"]["test"][m] for r in runs]) for m in metrics]
            paper = paper_scores(corpus, method)
            paper_cells = [f"{paper[m]:.2f}" if m in paper else "-" for m in metrics]
            wall = f"{statistics.mean(r['wall_seconds'] for r in runs) / 60:.1f} min" if runs else "-"
            per_seed = ", ".join(f"{r['seed']}: {100 * r['summary']['metrics']['test'][metrics[0]]:.2f}" for r in runs) or "-"
            lines.append(f"| {method} | {len(runs)} | " + " | ".join(ours) + " | " + " | ".join(paper_cells)
                         + f" | {per_seed} | {wall} |")
        lines.append("")
    return "\n".join(lines)


def plot(path: Path) -> Path:
    """Bar chart: ours (mean, std error bar, every seed a dot) beside the paper's figure (a diamond)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = load_results()
    figure, axes = plt.subplots(1, len(CORPORA), figsize=(5 * len(CORPORA), 3.6))
    for axis, (corpus, spec) in zip(axes, CORPORA.items()):
        metric = spec["metric"]
        for x, method in enumerate(spec["methods"]):
            values = [100 * r["summary"]["metrics"]["test"][metric] for r in results
                      if r["corpus"] == corpus and r["method"] == method]
            if values:
                std = statistics.stdev(values) if len(values) > 1 else 0.0
                axis.bar(x, statistics.mean(values), yerr=std, color="#4c72b0", alpha=0.8, capsize=4,
                         label="ours (MiniLM, CPU budget)" if x == 0 else None)
                axis.scatter([x] * len(values), values, color="black", s=8, zorder=3)
            paper = paper_scores(corpus, method).get(metric)
            if paper is not None:
                axis.scatter([x], [paper], marker="D", color="#dd8452", zorder=4,
                             label="paper (BioBERT, GPU)" if x == 0 else None)
        axis.set_xticks(range(len(spec["methods"])), spec["methods"], rotation=15)
        axis.set_title(f"{corpus}: test {metric.replace('_', '-')} (%)")
        axis.set_ylim(0, 100)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "lame_comparison")
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 42, 87])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--methods", nargs="+", default=None, choices=list(METHODS))
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time, each with cores/jobs threads.")
    parser.add_argument("--only", nargs=3, metavar=("CORPUS", "METHOD", "SEED"), help="Run one (used by --jobs).")
    parser.add_argument("--report", action="store_true", help="Print the tables of the finished runs.")
    parser.add_argument("--plot", type=Path, default=None, help="With --report: also draw the bar chart (PNG).")
    options = parser.parse_args(argv)
    if options.report:
        print(report())
        if options.plot:
            print(f"wrote {plot(options.plot)}")
        return
    if options.only:
        corpus, method, seed = options.only
        run_one(corpus, method, int(seed), options.data_root, options.work_dir)
        return
    run_all(options.data_root, options.work_dir, options.seeds, options.corpora, options.methods, options.jobs)


if __name__ == "__main__":
    main()
