"""A study: methods x seeds, each run trained by `train.py`'s code, one resumable record per run, a report and a plot.

A study is declared as data (`Study`): the `train.py` options of each method, the options every run
shares (the budget), the seeds, and optionally how a trained model is scored beyond `train.py`'s own
metrics (`score`, e.g. with `labelwise.evaluate`). A benchmark script then needs only the declaration
and `main(study)`:

    STUDY = Study(name="hoc_converged", methods={"vanilla": {"model": "vanilla"}, ...}, seeds=(13, 42, 87),
                  budget={...}, corpus=hoc_options, script=__file__, results_dir=RESULTS, work_dir=WORK)
    if __name__ == "__main__":
        main(STUDY)

    python bench/hoc_converged.py --data_root ../shared/data --jobs 1     # every unfinished run
    python bench/hoc_converged.py --report --plot curves.png               # Markdown table (and dev curves)

Runs. Each (method, seed) trains in its own process (`--only METHOD SEED`, so runs can go side by side
with `--jobs`, each on its own torch threads) in `<work_dir>/<method>/seed<seed>`, and writes
`<results_dir>/<method>__seed<seed>.json`: the method, seed and options, the `train.py` command it
equals, the commit of the code (`provenance.code_version`), torch threads, wall time, the dev curve,
epochs run and the best one, why training stopped, the training summary, and what `score` returned.
A run whose record exists is skipped; an interrupted run resumes from its last checkpoint; a run stopped
by SIGTERM or Ctrl-C (exit 130) starts no further runs, and the same command continues. Checkpoints are
deleted once the record is written (the best model stays in `<run>/model`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelwise.cli_errors import EXIT_INTERRUPTED

__all__ = ["Study", "load_records", "main", "mean_std", "plot_bars", "plot_dev_curves", "record_path", "run_all",
           "run_one", "table", "value_at"]


@dataclass
class Study:
    """One study's declaration.

    Attributes:
        name: shown in messages.
        methods: method name -> its `train.py` options (keyword form, as `labelwise.training.train` takes them).
        seeds: the seeds every method is run with.
        budget: options every run shares (epochs, lengths, learning rates, ...).
        corpus: `(data_root, method) -> options` naming the corpus (`corpus`, `data_dir`, `corpus_options`);
            a method's own options win over the budget, and the budget's over these.
        script: the declaration's file, run again with `--only METHOD SEED` for each run.
        results_dir / work_dir: where records go (committed) and where runs train (not committed).
        data_root: the default `--data_root`.
        curve_metric: the dev metric of the curve, the best epoch and the plot (`eval_<metric>` in the log).
        score: optional `(model_dir, run_options, data_root) -> dict`, stored in the record as `scores`.
        fields: optional method -> extra record fields (e.g. `{"corpus": "hoc"}` for a report's grouping).
    """

    name: str
    methods: dict[str, dict[str, Any]]
    seeds: Sequence[int]
    budget: dict[str, Any]
    corpus: Callable[[Path, str], dict[str, Any]]
    script: str
    results_dir: Path
    work_dir: Path
    data_root: Path = Path("data")
    curve_metric: str = "micro_f1"
    score: Callable[[Path, dict, Path], dict] | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options(self, method: str, seed: int, data_root: Path) -> dict[str, Any]:
        """The `train.py` options of one run (without `output_dir`)."""
        if method not in self.methods:
            raise ValueError(f"{self.name}: no method {method!r}; the methods are {sorted(self.methods)}.")
        return {**self.corpus(data_root, method), **self.budget, **self.methods[method], "seed": seed, "disable_tqdm": True}


def record_path(results_dir: Path, method: str, seed: int) -> Path:
    return Path(results_dir) / f"{method}__seed{seed}.json"


def run_one(study: Study, method: str, seed: int, data_root: Path | None = None) -> dict:
    """Train one (method, seed) (or resume it), score it, write its record and drop its checkpoints."""
    import torch

    from labelwise.experiments.curves import dev_curve
    from labelwise.experiments.provenance import code_version
    from labelwise.training.cli import options_to_argv, train

    data_root = Path(data_root or study.data_root)
    code = code_version()  # at the start: the code this process imported
    options = study.options(method, seed, data_root)
    output_dir = Path(study.work_dir) / method / f"seed{seed}"
    started = time.time()
    summary = train(str(output_dir), **options)
    wall = time.time() - started
    curve = dev_curve(output_dir, metric=study.curve_metric)
    cap = options.get("num_train_epochs")
    best = max(curve, key=lambda point: point[study.curve_metric])["epoch"] if curve else None
    record = {
        "study": study.name,
        "method": method,
        **study.fields.get(method, {}),
        "seed": seed,
        "options": options,
        "command": "python train.py " + " ".join(options_to_argv({**options, "output_dir": str(output_dir)})),
        "code_version": code,
        "torch_threads": torch.get_num_threads(),
        "wall_seconds_this_process": round(wall, 1),
        "epochs_run": len(curve),
        "best_epoch": best,
        "stopped_by": "epoch cap" if cap is None or len(curve) >= float(cap) else "patience",
        "dev_curve": curve,
        "summary": summary,
    }
    if study.score is not None:
        record["scores"] = study.score(output_dir / "model", options, data_root)
    path = record_path(study.results_dir, method, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")  # a record is whole or absent: a half-written one is never skipped
    partial.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    partial.replace(path)
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    return record


def run_all(study: Study, data_root: Path, methods: Sequence[str], seeds: Sequence[int], jobs: int = 1,
            torch_threads: int | None = None) -> int:
    """Run every unfinished (method, seed), `jobs` processes at a time; returns how many failed.

    Each process gets `torch_threads` threads (default: the cores shared out between the jobs) and logs to
    `<work_dir>/logs/<method>__seed<seed>.log`."""
    todo = [(m, s) for s in seeds for m in methods if not record_path(study.results_dir, m, s).exists()]
    print(f"{study.name}: {len(seeds) * len(methods) - len(todo)} runs done earlier; {len(todo)} to run, "
          f"{jobs} at a time", flush=True)
    logs = Path(study.work_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = torch_threads or max(1, (os.cpu_count() or 1) // jobs)
    stopped = threading.Event()  # set by the worker whose run a signal stopped, before it takes the next job

    def launch(job: tuple[str, int]) -> tuple[str, int | None, float]:
        method, seed = job
        name = record_path(study.results_dir, method, seed).stem
        if stopped.is_set():
            return name, None, 0.0
        command = [sys.executable, str(Path(study.script).resolve()), "--only", method, str(seed),
                   "--data_root", str(data_root), "--work_dir", str(study.work_dir), "--results_dir", str(study.results_dir)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        started = time.time()
        with open(logs / f"{name}.log", "a", encoding="utf-8") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code == EXIT_INTERRUPTED:
            stopped.set()
        return name, code, time.time() - started

    failures = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(launch, job) for job in todo]
        for done, future in enumerate(as_completed(futures), 1):
            name, code, seconds = future.result()
            if code is None:
                continue  # not started: a run before it was stopped by a signal
            if code == EXIT_INTERRUPTED:
                print(f"[{done}/{len(todo)}] {name}: stopped by a signal after {seconds / 60:.1f} min, checkpoint "
                      "saved; run the same command again to resume", flush=True)
                continue
            failures += code != 0
            status = "ok" if code == 0 else f"FAILED (exit {code}, see {logs / (name + '.log')})"
            print(f"[{done}/{len(todo)}] {name}: {status} in {seconds / 60:.1f} min", flush=True)
    return failures


# ----------------------------------------------------------------------------- report
def load_records(results_dir: Path) -> list[dict]:
    """Every finished record in `results_dir` (sorted by file name)."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(Path(results_dir).glob("*.json"))]


def value_at(record: dict, path: str | Callable[[dict], Any]) -> Any:
    """A record's value at a dotted path (`"summary.metrics.test.micro_f1"`), or what a callable returns; None if absent."""
    if callable(path):
        return path(record)
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def mean_std(values: Sequence[float], scale: float = 100.0) -> str:
    """`"83.04 ± 0.51"` (mean ± sample standard deviation, times `scale`), one value alone, "-" for none."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    mean = statistics.mean(values) * scale
    return f"{mean:.2f} ± {statistics.stdev(values) * scale:.2f}" if len(values) > 1 else f"{mean:.2f}"


def table(records: Sequence[dict], methods: Sequence[str], columns: dict[str, str | Callable[[dict], Any]],
          key: Callable[[dict], str] = lambda record: record["method"], reference: dict[str, str] | None = None) -> str:
    """A Markdown table, one row per method (in `methods` order; "not run yet" without records).

    `columns`: header -> dotted path or callable of a record; numbers are shown as mean ± std over the
    method's seeds (in %), anything else once when every seed has the same, else joined per seed. `key`: which method a record belongs to.
    `reference`: an extra last column (e.g. the paper's figure) by method.
    """
    headers = ["method", "seeds", *columns, *(["reference"] if reference is not None else [])]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for method in methods:
        mine = sorted((r for r in records if key(r) == method), key=lambda r: r["seed"])
        if not mine:
            lines.append(f"| {method} | 0 | not run yet |" + " |" * (len(headers) - 3))
            continue
        cells = []
        for path in columns.values():
            values = [value_at(r, path) for r in mine]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)
            shown = [str(v) for v in values]
            cells.append(mean_std(values) if numeric else shown[0] if len(set(shown)) == 1 else ", ".join(shown))
        extra = [reference.get(method, "-")] if reference is not None else []
        lines.append("| " + " | ".join([method, str(len(mine)), *cells, *extra]) + " |")
    return "\n".join(lines)


def plot_dev_curves(records: Sequence[dict], metric: str, title: str, path: Path,
                    colour_of: Callable[[dict], str | None] = lambda record: None) -> Path:
    """Dev `metric` per epoch, one line per run, one legend entry per method."""
    from labelwise.experiments.curves import plot_curves

    series, seen = [], set()
    for record in records:
        curve = record.get("dev_curve") or []
        series.append({"epochs": [p["epoch"] for p in curve], "values": [100 * p[metric] for p in curve],
                       "colour": colour_of(record), "label": record["method"] if record["method"] not in seen else None})
        seen.add(record["method"])
    return plot_curves(series, f"dev {metric} (%)", title, path)


def plot_bars(panels: dict[str, dict[str, list[float]]], ylabel: str, path: Path,
              reference: dict[str, dict[str, float]] | None = None, reference_label: str = "reference") -> Path:
    """Bars of mean value per method (std as error bar, every seed a dot), one panel per key of `panels`
    (`panel -> method -> values in %`); `reference` (same keys) draws a diamond per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, (panel, by_method) in zip(axes[0], panels.items()):
        for x, (method, values) in enumerate(by_method.items()):
            if values:
                std = statistics.stdev(values) if len(values) > 1 else 0.0
                axis.bar(x, statistics.mean(values), yerr=std, color="#4c72b0", alpha=0.8, capsize=4,
                         label="ours" if x == 0 else None)
                axis.scatter([x] * len(values), values, color="black", s=8, zorder=3)
            point = (reference or {}).get(panel, {}).get(method)
            if point is not None:
                axis.scatter([x], [point], marker="D", color="#dd8452", zorder=4, label=reference_label if x == 0 else None)
        axis.set_xticks(range(len(by_method)), list(by_method), rotation=15)
        axis.set_title(f"{panel}: {ylabel}")
        axis.set_ylim(0, 100)
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


# ----------------------------------------------------------------------------- command
def main(study: Study, argv: list[str] | None = None, report: Callable[[Study], str] | None = None,
         plot: Callable[[Study, Path], Path] | None = None) -> None:
    """The command line of a study declaration: run (resumable), one run (`--only`), or `--report [--plot PNG]`.

    `report(study)` returns the Markdown the report prints (default: `table` of the test metrics at train.py's
    threshold); `plot(study, path)` draws the figure (default: the dev curves)."""
    from labelwise.cli_errors import cli_main

    @cli_main(Path(study.script).name)
    def command(argv: list[str] | None) -> None:
        parser = argparse.ArgumentParser(description=sys.modules.get("__main__").__doc__ if sys.modules.get("__main__") else None,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--data_root", type=Path, default=study.data_root)
        parser.add_argument("--work_dir", type=Path, default=study.work_dir)
        parser.add_argument("--results_dir", type=Path, default=study.results_dir)
        parser.add_argument("--seeds", type=int, nargs="+", default=list(study.seeds))
        parser.add_argument("--methods", nargs="+", default=list(study.methods), choices=list(study.methods))
        parser.add_argument("--jobs", type=int, default=1, help="Runs at a time, each in its own process.")
        parser.add_argument("--torch_threads", type=int, default=None, help="Threads per run (default: cores / jobs).")
        parser.add_argument("--only", nargs=2, metavar=("METHOD", "SEED"), help="Run one (used by the runner).")
        parser.add_argument("--report", action="store_true", help="Print the table of the finished runs.")
        parser.add_argument("--plot", type=Path, default=None, help="With --report: also draw the figure (PNG).")
        options = parser.parse_args(argv)
        study.work_dir, study.results_dir = options.work_dir, options.results_dir
        if options.report:
            print(report(study) if report else default_report(study))
            if options.plot:
                drawn = plot(study, options.plot) if plot else plot_dev_curves(
                    load_records(study.results_dir), study.curve_metric, study.name, options.plot)
                print(f"wrote {drawn}")
        elif options.only:
            run_one(study, options.only[0], int(options.only[1]), options.data_root)
        else:
            failures = run_all(study, options.data_root, options.methods, options.seeds, options.jobs,
                               options.torch_threads)
            if failures:
                raise SystemExit(f"{failures} run(s) failed")

    command(argv)


def default_report(study: Study) -> str:
    records = load_records(study.results_dir)
    metrics = sorted({k for r in records for k in (value_at(r, "summary.metrics.test") or {})})
    columns = {f"test {m}": f"summary.metrics.test.{m}" for m in metrics if not m.startswith(("loss", "rp_level"))}
    return table(records, list(study.methods), {**columns, "epochs run": "epochs_run", "stopped by": "stopped_by"})
