"""Explanation results over seeds: one table and one comprehensiveness-over-k plot for several runs.

    python -m labelwise.explain.report --group "LAME (BCE)" runs/lame13 runs/lame42 runs/lame87 \
        --group "fine-tuning" runs/ft13 runs/ft42 runs/ft87 --plot comprehensiveness.png

Each folder is an `--output_dir` of `python -m labelwise.explain`; only its finished methods count.
A cell is the mean ± standard deviation over the group's seeds of each seed's micro-average, with
the number of seeds that have the method (a seed missing a method is named, not hidden).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from labelwise.metrics.rationales import percent

from .evaluate import save_over_k
from .methods import METHODS

KEYS = ("auprc", "precision@10", "recall@10", "comprehensiveness_area", "sufficiency_area")


def load_run(folder: str | Path) -> dict[str, dict]:
    """The finished methods of one evaluation folder: method -> its result (`evaluate_method`)."""
    folder = Path(folder)
    if not (folder / "settings.json").is_file():
        raise FileNotFoundError(f"{folder}: no settings.json; name an --output_dir of python -m labelwise.explain")
    return {m: json.loads((folder / f"{m}.json").read_text(encoding="utf-8")) for m in METHODS if (folder / f"{m}.json").is_file()}


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def seeds_table(groups: dict[str, list[dict[str, dict]]], keys: Sequence[str] = KEYS) -> str:
    """Markdown: one row per (group, method), mean ± std over seeds of the micro-averaged `keys`."""
    lines = ["| model | method | seeds | pairs per seed | " + " | ".join(keys) + " |", "|---" * (len(keys) + 4) + "|"]
    for group, runs in groups.items():
        for method in METHODS:
            have = [run[method] for run in runs if method in run]
            if not have:
                continue
            cells = [_cell([r["summary"]["micro"][key]["mean"] for r in have if key in r["summary"]["micro"]]) for key in keys]
            pairs = sorted({r["pairs"] for r in have})
            lines.append(f"| {group} | {method} | {len(have)} of {len(runs)} | {', '.join(map(str, pairs))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_over_k(groups: dict[str, list[dict[str, dict]]], fractions: Sequence[float], path: str | Path,
                metric: str = "comprehensiveness") -> Path:
    """Mean over seeds of the micro-averaged `metric` at each k, one line per (group, method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    xs = [f * 100 for f in fractions]
    for style, (group, runs) in zip(("-", ":", "-."), groups.items()):
        for method in METHODS:
            have = [run[method]["summary"]["micro"] for run in runs if method in run]
            if not have:
                continue
            means = [statistics.mean(m[f"{metric}@{percent(f)}"]["mean"] for m in have) for f in fractions]
            axes.plot(xs, means, marker="o", linestyle="--" if method == "random" else style,
                      label=f"{group}: {method} ({len(have)} seed{'s' if len(have) > 1 else ''})")
    return save_over_k(figure, axes, xs, metric, path, legend_size=7)


def main(argv: Sequence[str] | None = None) -> str:
    from labelwise.cli_errors import run_cli

    return run_cli(_run, argv, prog="python -m labelwise.explain.report")


def _run(argv: Sequence[str] | None) -> str:
    parser = argparse.ArgumentParser(prog="python -m labelwise.explain.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", nargs="+", action="append", required=True, metavar=("NAME", "FOLDER"),
                        help="a model's name, then its evaluation folders (one per seed)")
    parser.add_argument("--plot", help="also draw comprehensiveness over k (PNG)")
    args = parser.parse_args(argv)
    groups = {}
    for name, *folders in args.group:
        if not folders:
            raise ValueError(f"--group {name}: name at least one evaluation folder after the group's name")
        groups[name] = [load_run(folder) for folder in folders]
    table = seeds_table(groups)
    print(table)
    if args.plot:
        settings = json.loads((Path(args.group[0][1]) / "settings.json").read_text(encoding="utf-8"))
        print(f"wrote {plot_over_k(groups, settings['fractions'], args.plot)}")
    return table


if __name__ == "__main__":
    main()
