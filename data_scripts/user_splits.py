"""Your own data's splits: duplicates across the given files refused (or dropped), and a missing validation
or test split taken off the training rows with a fixed seed, identical texts kept together."""

from __future__ import annotations

import logging

from .base import DuplicateDocumentError, seeded_split
from .user_files import SPLITS, UserDataError
from .user_rows import Example

logger = logging.getLogger(__name__)


def refuse_duplicates(splits: dict[str, list[Example]], duplicates: str) -> dict[str, list[Example]]:
    """Refuse (or drop, `duplicates="drop"`) a text found in two splits, or an `id` found twice; count repeated
    texts within one split."""
    first: dict[str, str] = {}
    ids: dict[str, str] = {}
    kept: dict[str, list[Example]] = {}
    dropped = 0
    remedy = "Remove one, or pass --duplicates drop to keep only the first (in the order train, validation, test)."
    for split in SPLITS:
        if split not in splits:
            continue
        own: dict[str, str] = {}
        repeats = 0
        kept[split] = []
        for example in splits[split]:
            if example.given_id is not None and example.given_id in ids:
                if duplicates == "error":
                    raise DuplicateDocumentError(
                        f"{example.where}: document id {example.given_id!r} (column 'id') is also at "
                        f"{ids[example.given_id]}. {remedy}"
                    )
                dropped += 1
                continue
            if example.key in first:
                if duplicates == "error":
                    shown = example.key if len(example.key) <= 60 else example.key[:57] + "..."
                    raise DuplicateDocumentError(
                        f"{example.where}: the same text as {first[example.key]} ({shown!r}); a document in two splits "
                        f"is scored on what the model was trained or tuned on. {remedy}"
                    )
                dropped += 1
                continue
            if example.given_id is not None:
                ids[example.given_id] = example.where
            repeats += example.key in own
            own.setdefault(example.key, example.where)
            kept[split].append(example)
        if repeats:
            logger.warning("%d row(s) of the %s split repeat a text of that split (kept).", repeats, split)
        for key, where in own.items():
            first.setdefault(key, where)
    if dropped:
        logger.warning("--duplicates drop: removed %d row(s) whose text is in an earlier split or whose id came before.",
                       dropped)
    return kept


def split_off(train: list[Example], shares: dict[str, float], seed: int, source: str) -> dict[str, list[Example]]:
    """Split validation and/or test (`shares`: split -> percentage) off the training rows; identical texts go
    to one part together."""
    keys = list(dict.fromkeys(example.key for example in train))
    n = len(keys)
    counts = {split: (max(1, round(n * share / 100)) if share > 0 else 0) for split, share in shares.items()}
    counts["train"] = n - sum(counts.values())
    if counts["train"] < 1:
        options = " and ".join(f"--{split}_split_percentage {share:g}" for split, share in shares.items())
        raise UserDataError(f"{source}: {n} distinct text(s) are too few to split off {options} and keep one to train on.")
    order = ["train", *shares]
    parts = seeded_split(keys, [counts[split] / n for split in order], seed)
    part_of = {key: split for split, part in zip(order, parts) for key in part}
    out: dict[str, list[Example]] = {split: [] for split in order}
    for example in train:
        out[part_of[example.key]].append(example)
    return out
