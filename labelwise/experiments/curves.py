"""Learning curves of training runs: read from the Trainer's state, drawn one line per run (studies, grids)."""

from __future__ import annotations

import json
from pathlib import Path


def dev_curve(output_dir: Path, metric: str = "micro_f1") -> list[dict]:
    """Dev `metric` (and loss) per epoch, from the newest checkpoint's trainer state in `output_dir`."""
    states = sorted(output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not states:
        return []
    history = json.loads(states[-1].read_text(encoding="utf-8"))["log_history"]
    return [
        {"epoch": round(entry["epoch"], 2), metric: entry[f"eval_{metric}"], "loss": entry.get("eval_loss")}
        for entry in history
        if f"eval_{metric}" in entry
    ]


def plot_curves(series: list[dict], ylabel: str, title: str, path: Path, size: tuple[float, float] = (7, 4)) -> Path:
    """One line per run. Each entry of `series`: `epochs`, `values` (already in %), and optionally
    `label` (legend; None for a repeated method), `colour` and `linestyle`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=size)
    for line in series:
        axis.plot(line["epochs"], line["values"], color=line.get("colour"), linestyle=line.get("linestyle", "-"), alpha=0.8,
                  marker=".", label=line.get("label"))
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
