"""Explanation results over seeds: one table and one comprehensiveness-over-k plot for several runs.

    python -m labelwise.explain.report --group "LAME (BCE)" runs/lame13 runs/lame42 runs/lame87 \
        --group "fine-tuning" runs/ft13 runs/ft42 runs/ft87 --plot comprehensiveness.png

Each folder is an `--output_dir` of `python -m labelwise.explain`; only its finished methods count.
A cell is the mean ± standard deviation over the group's seeds of each seed's micro-average, with
the number of seeds that have the method (a seed missing a method is named, not hidden).
`--versus attention` adds each method's paired difference to attention, pooled over the seeds' pairs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from labelwise.metrics.rationales import bootstrap_interval, percent

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


def paired_rows(folder: str | Path, method: str) -> dict[tuple[str, str], dict]:
    """The (document id, label) -> metrics rows of one finished method in one evaluation folder, from
    `<method>.rows.jsonl` or its gzipped copy (`.rows.jsonl.gz`, as results are kept in git)."""
    path = Path(folder) / f"{method}.rows.jsonl"
    packed = path.with_name(path.name + ".gz")
    if not path.is_file() and packed.is_file():
        path = packed
    rows = {}
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            for row in json.loads(line)["rows"]:
                rows[(str(row["id"]), str(row["label"]))] = row
    return rows


def differences_table(groups: dict[str, list[str | Path]], reference: str, keys: Sequence[str] = KEYS,
                      resamples: int = 1000, seed: int = 0) -> str:
    """Markdown: per group and method, the mean paired difference to `reference` (method minus
    reference) over the (document, label) pairs of all the group's seeds, with a bootstrap 95%
    interval. Paired: both methods explain the same predictions, so the pairs' own difficulty cancels
    and an interval that excludes 0 says one method is better on these pairs."""
    lines = [f"| model | method - {reference} | pairs | " + " | ".join(keys) + " |", "|---" * (len(keys) + 3) + "|"]
    for group, folders in groups.items():
        for method in METHODS:
            if method == reference:
                continue
            deltas: dict[str, list[float]] = {key: [] for key in keys}
            count = 0
            for folder in folders:
                if not all((Path(folder) / f"{m}.json").is_file() for m in (method, reference)):
                    continue
                base, other = paired_rows(folder, reference), paired_rows(folder, method)
                for pair in sorted(base.keys() & other.keys()):
                    count += 1
                    for key in keys:
                        deltas[key].append(float(other[pair][key]) - float(base[pair][key]))
            if not count:
                continue
            cells = []
            for key in keys:
                low, high = bootstrap_interval(deltas[key], resamples, seed)
                cells.append(f"{statistics.mean(deltas[key]):+.3f} [{low:+.3f}, {high:+.3f}]")
            lines.append(f"| {group} | {method} | {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_over_k(groups: dict[str, list[dict[str, dict]]], fractions: Sequence[float], path: str | Path,
                metric: str = "comprehensiveness") -> Path:
    """Mean over seeds of the micro-averaged `metric` at each k, one line per (group, method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9.0, 4.2))
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
    parser.add_argument("--versus", metavar="METHOD", choices=METHODS,
                        help="also print each method's paired difference to METHOD over every seed's pairs, with bootstrap 95%% intervals")
    args = parser.parse_args(argv)
    groups = {}
    for name, *folders in args.group:
        if not folders:
            raise ValueError(f"--group {name}: name at least one evaluation folder after the group's name")
        groups[name] = [load_run(folder) for folder in folders]
    table = seeds_table(groups)
    print(table)
    if args.versus:
        differences = differences_table({name: folders for name, *folders in args.group}, args.versus)
        print()
        print(differences)
        table += "\n\n" + differences
    if args.plot:
        settings = json.loads((Path(args.group[0][1]) / "settings.json").read_text(encoding="utf-8"))
        print(f"wrote {plot_over_k(groups, settings['fractions'], args.plot)}")
    return table


if __name__ == "__main__":
    main()
