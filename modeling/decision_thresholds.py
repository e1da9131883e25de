"""Decision thresholds stored in a multi-label model's config, read by its pipeline.

`decision_threshold` (one probability for every label, default 0.5) and `label_thresholds` (one per
label, or None) are config fields of LAME and layer-wise models; `train.py --tune_thresholds`
chooses them on the validation split. This file is shipped with the checkpoints as remote code: it
imports only torch.
"""

from __future__ import annotations

import torch


def validate_thresholds(owner: str, decision_threshold: float, label_thresholds, num_labels: int) -> None:
    """Raise a ValueError naming `owner`'s field when a threshold is not a probability or the count is off."""
    if not 0.0 <= float(decision_threshold) <= 1.0:
        raise ValueError(f"{owner}.decision_threshold must be a probability in [0, 1], got {decision_threshold}.")
    if label_thresholds is None:
        return
    if len(label_thresholds) != num_labels:
        raise ValueError(f"{owner}.label_thresholds has {len(label_thresholds)} values for {num_labels} labels.")
    for index, value in enumerate(label_thresholds):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{owner}.label_thresholds[{index}] must be a probability in [0, 1], got {value}.")


def config_thresholds(config, threshold: float | None = None) -> torch.Tensor:
    """`(num_labels,)` thresholds: `threshold` when given, else the config's per-label ones, else its global one."""
    if threshold is not None:
        return torch.full((config.num_labels,), float(threshold))
    per_label = getattr(config, "label_thresholds", None)
    if per_label is not None:
        return torch.tensor(per_label, dtype=torch.float32)
    return torch.full((config.num_labels,), float(getattr(config, "decision_threshold", 0.5)))


def thresholds_for_labels(config, names: list[str], threshold: float | None = None) -> torch.Tensor:
    """`(len(names),)` thresholds for labels given by name, which need not be the config's label set
    (candidate labels): `threshold` when given; else a label of the config keeps its own threshold,
    and any other label gets the config's global `decision_threshold`."""
    if threshold is not None:
        return torch.full((len(names),), float(threshold))
    own = dict(zip((config.id2label[i] for i in range(config.num_labels)), config_thresholds(config).tolist()))
    default = float(getattr(config, "decision_threshold", 0.5))
    return torch.tensor([own.get(name, default) for name in names], dtype=torch.float32)
