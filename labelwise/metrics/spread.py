"""How far apart a set of vectors lies: the measure behind labelwise's collapse checks.

A model whose encoder collapsed maps every document (or every label description) to nearly one
vector. `mean_pairwise_cosine` is the number `train.py`'s warning compares with its threshold;
`spread` adds the percentiles and the share of the vectors' norm in their mean, for the studies.
"""

from __future__ import annotations

import numpy as np
import torch


def _pairwise_cosines(vectors: torch.Tensor) -> torch.Tensor:
    unit = torch.nn.functional.normalize(vectors.float(), dim=-1)
    return (unit @ unit.T)[~torch.eye(len(unit), dtype=torch.bool, device=unit.device)]


def mean_pairwise_cosine(vectors: torch.Tensor) -> float:
    """Mean cosine over every ordered pair of distinct rows of `vectors` `(n, hidden)`; 1: one direction."""
    return _pairwise_cosines(vectors).mean().item()


def spread(vectors: torch.Tensor) -> dict[str, float]:
    """How far apart the rows of `vectors` `(n, hidden)` lie: their mean pairwise cosine (with its 5th
    and 95th percentiles) and the share of their squared norm in the vector all of them share (their
    mean). Near 1 and near 1: the rows are nearly one vector."""
    vectors = vectors.float()
    cosines = _pairwise_cosines(vectors).cpu().numpy()  # numpy: torch.quantile refuses over 16M values
    common = (vectors.mean(0).norm() ** 2 / (vectors.norm(dim=-1) ** 2).mean()).item()
    return {"mean_pairwise_cosine": round(float(cosines.mean()), 4),
            "cosine_p5": round(float(np.quantile(cosines, 0.05)), 4),
            "cosine_p95": round(float(np.quantile(cosines, 0.95)), 4),
            "share_of_squared_norm_in_the_mean": round(common, 4)}


__all__ = ["mean_pairwise_cosine", "spread"]
