"""Seeded splits and subsets of documents: reproducible whatever the order the files were listed in."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

import datasets


def seeded_split(
    keys: Sequence[Hashable],
    fractions: Sequence[float],
    seed: int,
    strata: Sequence[Hashable] | None = None,
) -> list[list[Hashable]]:
    """Split `keys` into ``len(fractions)`` parts with a fixed seed.

    Keys are sorted before shuffling, so the result does not depend on the input order (e.g.
    ``os.listdir``). With `strata` (one value per key) each stratum is split separately, which
    keeps class proportions in every part. Part sizes are ``round(cumulative fraction * n)``
    differences, so all keys are used exactly once.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    groups: dict[Hashable, list[Hashable]] = {}
    if strata is None:
        groups[None] = list(keys)
    else:
        for key, stratum in zip(keys, strata, strict=True):
            groups.setdefault(stratum, []).append(key)
    parts: list[list[Hashable]] = [[] for _ in fractions]
    for stratum in sorted(groups, key=repr):
        members = sorted(groups[stratum], key=repr)
        random.Random(f"{seed}:{stratum!r}").shuffle(members)
        bounds, total = [0], 0.0
        for f in fractions:
            total += f
            bounds.append(round(total * len(members)))
        for i in range(len(fractions)):
            parts[i].extend(members[bounds[i] : bounds[i + 1]])
    return parts


def parse_fractions(value: str | Sequence[float]) -> tuple[float, ...]:
    """``"8:1:1"`` or ``(0.8, 0.1, 0.1)`` -> normalised fractions."""
    if isinstance(value, str):
        try:
            nums = [float(x) for x in value.split(":")]
        except ValueError:
            raise ValueError(f"split ratio must look like '8:1:1', got {value!r}") from None
    else:
        nums = [float(x) for x in value]
    if len(nums) != 3 or any(x < 0 for x in nums) or sum(nums) <= 0:
        raise ValueError(f"need three non-negative train:validation:test ratios, got {value!r}")
    s = sum(nums)
    return tuple(x / s for x in nums)


def subsample(dataset: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    """A seeded random subset of `n` rows, in their original order (all rows when `n` is None
    or not smaller than the dataset). Taking the first rows instead would keep only the first
    documents of a corpus ordered by document (e.g. TAC sections grouped by drug label)."""
    if n is None or n >= len(dataset):
        return dataset
    if n < 0:
        raise ValueError(f"subsample: n must be >= 0, got {n}")
    return dataset.select(sorted(random.Random(seed).sample(range(len(dataset)), n)))
