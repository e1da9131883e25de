"""HoC trained until dev micro-F1 stops improving: LAME against plain fine-tuning, once converged (issue 17).

    python bench/hoc_converged.py --data_root ../shared/data --jobs 1        # run (resumable)
    python bench/hoc_converged.py --report --plot docs/images/hoc_converged_curves.png

The 4-epoch comparison (`bench/lame_comparison.py`) measured how fast each method learns: vanilla
fine-tuning was still climbing when it stopped. Here every run trains until the dev micro-F1 has not
improved for `PATIENCE` evaluations (one per epoch), with a cap of `MAX_EPOCHS` epochs; the report
says for which runs the cap, not the patience, ended training. Everything else is the budget of
the 4-epoch comparison (MiniLM, 128 pieces, batch 16, encoder 1e-4, new parts 1e-3, linear decay
over the capped run with 10% warm-up), and the best dev epoch is kept.

Methods: `vanilla`, `frozen_lame`, `lame_bce`, `lame_f_micro` (the paper's mini-batch F-measure),
`lame_f_macro` (the per-label form of the LAME authors' code).

Each run writes `bench/results/hoc_converged/<method>__seed<seed>.json`: the training summary, the
dev curve (micro-F1 per epoch), why training stopped, and test scores at the 0.5 threshold, at one
global threshold tuned on dev, and at per-label thresholds tuned on dev. A run whose file exists is
skipped; a run that was interrupted resumes from its last checkpoint in `--work_dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from labelwise.cli_errors import EXIT_INTERRUPTED

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from curves import dev_curve, plot_curves  # noqa: E402
from lame_comparison import CPU_BUDGET, PAPER, _mean_std, budget_arguments, corpus_arguments  # noqa: E402
from provenance import code_version  # noqa: E402

RESULTS = HERE / "results" / "hoc_converged"
MAX_EPOCHS = 20
PATIENCE = 3
SEEDS = [13, 42, 87]
METHODS = {
    "vanilla": ["--model", "vanilla"],
    "lame_bce": ["--model", "lame", "--loss", "bce"],
    "frozen_lame": ["--model", "frozen_lame"],
    "lame_f_micro": ["--model", "lame", "--loss", "f_measure", "--f_measure_average", "micro"],
    "lame_f_macro": ["--model", "lame", "--loss", "f_measure", "--f_measure_average", "macro"],
}
BUDGET = {
    **CPU_BUDGET,
    "num_train_epochs": MAX_EPOCHS,
    "early_stopping_patience": PATIENCE,
    "metric_for_best_model": "micro_f1",
    "save_total_limit": 2,
}


def result_path(results: Path, method: str, seed: int) -> Path:
    return results / f"{method}__seed{seed}.json"


def probabilities(model_dir: Path, texts_by_split: dict[str, list[str]], max_length: int):
    """Sigmoid outputs `(documents, labels)` of a saved model for each split, and its label names in column order."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import labelwise.modeling  # noqa: F401  (registers the labelwise architectures)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    scores = {}
    with torch.no_grad():
        for split, texts in texts_by_split.items():
            outputs = []
            for start in range(0, len(texts), 32):
                batch = tokenizer(texts[start : start + 32], truncation=True, max_length=max_length,
                                  padding=True, return_tensors="pt")
                outputs.append(torch.sigmoid(model(**batch).logits.float()).numpy())
            scores[split] = np.concatenate(outputs)
    return scores, names


def threshold_report(model_dir: Path, corpus, max_length: int, save_to: Path) -> dict:
    """Test scores at 0.5, at the dev-tuned global threshold and at dev-tuned per-label thresholds."""
    import numpy as np

    from labelwise.metrics.classification import multilabel_scores
    from labelwise.metrics.thresholds import apply_thresholds, tune_global_threshold, tune_label_thresholds

    corpus_names = corpus["train"].features["labels"].feature.names
    scores, names = probabilities(model_dir, {split: corpus[split]["text"] for split in ("validation", "test")}, max_length)
    column = {name: i for i, name in enumerate(names)}
    targets = {}
    for split in ("validation", "test"):
        gold = np.zeros_like(scores[split], dtype=np.int8)
        for row, ids in enumerate(corpus[split]["labels"]):
            gold[row, [column[corpus_names[i]] for i in ids]] = 1
        targets[split] = gold
    np.savez_compressed(save_to, **{f"{s}_scores": scores[s] for s in scores}, **{f"{s}_targets": targets[s] for s in targets})
    global_threshold, dev_f1 = tune_global_threshold(targets["validation"], scores["validation"])
    label_thresholds = tune_label_thresholds(targets["validation"], scores["validation"], fallback=global_threshold)
    return {
        "tuned_global_threshold": global_threshold,
        "dev_micro_f1_at_tuned_threshold": dev_f1,
        "tuned_label_thresholds": dict(zip(names, label_thresholds.round(2).tolist())),
        "test_at_0.5": multilabel_scores(targets["test"], apply_thresholds(scores["test"], 0.5)),
        "test_at_tuned_global": multilabel_scores(targets["test"], apply_thresholds(scores["test"], global_threshold)),
        "test_at_tuned_per_label": multilabel_scores(targets["test"], apply_thresholds(scores["test"], label_thresholds)),
    }


def run_one(method: str, seed: int, data_root: Path, work_dir: Path, results: Path) -> None:
    """Train one (method, seed) to convergence, tune thresholds on dev, write its result file."""
    import torch

    from labelwise.data_scripts import load_corpus
    from labelwise.training.cli import run

    code = code_version()
    output_dir = work_dir / method / f"seed{seed}"
    argv = (
        METHODS[method] + corpus_arguments("hoc", data_root) + budget_arguments(BUDGET)
        + ["--seed", str(seed), "--output_dir", str(output_dir), "--disable_tqdm", "true"]
    )
    started = time.time()
    summary = run(argv)
    wall = time.time() - started
    curve = dev_curve(output_dir)
    epochs_run = len(curve)
    best = max(range(epochs_run), key=lambda i: curve[i]["micro_f1"]) if curve else None
    corpus = load_corpus("hoc", data_dir=str(data_root / "hoc"), split_dir=str(data_root / "hoc" / "blue_split"))
    thresholds = threshold_report(output_dir / "model", corpus, BUDGET["max_length"], work_dir / f"{method}__seed{seed}_scores.npz")
    record = {
        "corpus": "hoc",
        "method": method,
        "seed": seed,
        "budget": BUDGET,
        "torch_threads": torch.get_num_threads(),
        "code_version": code,
        "wall_seconds_this_session": round(wall, 1),
        "command": "python train.py " + " ".join(argv),
        "epochs_run": epochs_run,
        "best_epoch": best + 1 if best is not None else None,
        "stopped_by": "patience" if epochs_run < MAX_EPOCHS else "epoch cap",
        "dev_curve": curve,
        "thresholds": thresholds,
        "summary": summary,
    }
    results.mkdir(parents=True, exist_ok=True)
    result_path(results, method, seed).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)  # the best model is in output_dir/model


def run_all(data_root: Path, work_dir: Path, results: Path, seeds: list[int], methods: list[str], jobs: int) -> None:
    """Run every unfinished (method, seed), `jobs` processes at a time, one torch thread each."""
    todo = [(m, s) for s in seeds for m in methods if not result_path(results, m, s).exists()]
    print(f"{len(seeds) * len(methods) - len(todo)} runs done earlier; {len(todo)} to run, {jobs} at a time", flush=True)
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)

    stopped = threading.Event()  # set by the worker whose run a signal stopped, before it takes the next job

    def launch(job: tuple[str, int]) -> tuple[str, int | None, float]:
        method, seed = job
        name = f"{method}__seed{seed}"
        if stopped.is_set():
            return name, None, 0.0
        command = [sys.executable, str(Path(__file__).resolve()), "--only", method, str(seed), "--data_root",
                   str(data_root), "--work_dir", str(work_dir), "--results_dir", str(results)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        started = time.time()
        with open(work_dir / "logs" / f"{name}.log", "a", encoding="utf-8") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code == EXIT_INTERRUPTED:
            stopped.set()
        return name, code, time.time() - started

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(launch, job) for job in todo]
        for done, future in enumerate(as_completed(futures), 1):
            name, code, seconds = future.result()
            if code is None:
                continue  # not started: a run before it was stopped by a signal
            if code == EXIT_INTERRUPTED:  # SIGTERM/Ctrl-C: train.py saved a checkpoint
                print(f"[{done}/{len(todo)}] {name}: stopped by a signal after {seconds / 60:.1f} min, checkpoint saved; "
                      "run the same command again to resume", flush=True)
                continue
            status = "ok" if code == 0 else f"FAILED (exit {code}, see {work_dir / 'logs' / (name + '.log')})"
            print(f"[{done}/{len(todo)}] {name}: {status} in {seconds / 60:.1f} min", flush=True)


def load_results(results: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(results.glob("*.json"))]


def report(results: Path) -> str:
    """Markdown: test micro-F1 at 0.5 / tuned thresholds, epochs, stop reason, beside the paper."""
    runs = load_results(results)
    lines = [
        "| method | seeds | test micro-F1 @0.5 | P @0.5 | R @0.5 | @tuned global | @tuned per label | epochs run (best) | stopped by | paper F1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            lines.append(f"| {method} | 0 | not run yet | | | | | | | |")
            continue
        at = lambda key, metric: _mean_std([r["thresholds"][key][metric] for r in mine])  # noqa: E731
        epochs = ", ".join(f"{r['epochs_run']} ({r['best_epoch']})" for r in mine)
        stops = ", ".join(sorted({r["stopped_by"] for r in mine}))
        paper = PAPER["hoc"].get("lame" if method.startswith("lame_") else method, {}).get("micro_f1")
        lines.append(
            f"| {method} | {len(mine)} | {at('test_at_0.5', 'micro_f1')} | {at('test_at_0.5', 'micro_precision')} | "
            f"{at('test_at_0.5', 'micro_recall')} | {at('test_at_tuned_global', 'micro_f1')} | "
            f"{at('test_at_tuned_per_label', 'micro_f1')} | {epochs} | {stops} | {paper if paper else '-'} |"
        )
    return "\n".join(lines)


def plot(results: Path, path: Path) -> Path:
    """Dev micro-F1 per epoch, one line per run, one colour per method."""
    colours = dict(zip(METHODS, ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]))
    series, seen = [], set()
    for record in load_results(results):
        method, curve = record["method"], record["dev_curve"]
        series.append({"epochs": [p["epoch"] for p in curve], "values": [100 * p["micro_f1"] for p in curve],
                       "colour": colours[method], "label": method if method not in seen else None})
        seen.add(method)
    return plot_curves(series, "dev micro-F1 (%)", f"HoC dev micro-F1 per epoch (patience {PATIENCE}, cap {MAX_EPOCHS})", path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "hoc_converged")
    parser.add_argument("--results_dir", type=Path, default=RESULTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--jobs", type=int, default=1, help="Runs at a time (one torch thread each).")
    parser.add_argument("--only", nargs=2, metavar=("METHOD", "SEED"), help="Run one (used by run_all).")
    parser.add_argument("--report", action="store_true", help="Print the table of the finished runs.")
    parser.add_argument("--plot", type=Path, default=None, help="With --report: draw the dev curves (PNG).")
    options = parser.parse_args(argv)
    if options.report:
        print(report(options.results_dir))
        if options.plot:
            print(f"wrote {plot(options.results_dir, options.plot)}")
        return
    if options.only:
        run_one(options.only[0], int(options.only[1]), options.data_root, options.work_dir, options.results_dir)
        return
    run_all(options.data_root, options.work_dir, options.results_dir, options.seeds, options.methods, options.jobs)


if __name__ == "__main__":
    main()
