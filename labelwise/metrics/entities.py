"""Entity-level scores for IOB2 tag sequences (ADR tagging, issue 4).

An entity counts as correct only when its type and both boundaries match a gold entity exactly
(seqeval's `mode="strict", scheme=IOB2`). Spans are decoded by seqeval's strict IOB2 parser, so
a span must open with `B-X` and continue with `I-X`; an `I-X` that does not continue a `B-X`/`I-X`
of the same type starts no entity and is ignored, as in seqeval's strict mode.

Conventions (seqeval's `zero_division=0` default, without its warnings): precision is 0 when
nothing is predicted, recall is 0 when there is no gold entity, F1 is 0 when precision + recall is 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from seqeval.scheme import IOB2, Entities

__all__ = ["entity_spans", "entity_scores"]


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Decode one IOB2 tag sequence into `(type, start, end)` spans, `end` exclusive.

    >>> entity_spans(["B-ADR", "I-ADR", "O", "B-Drug"])
    [('ADR', 0, 2), ('Drug', 3, 4)]
    """
    _check_tags([list(tags)], "tags")
    entities = Entities([list(tags)], IOB2, suffix=False)
    return [(entity.tag, entity.start, entity.end) for entity in entities.entities[0]]


def _prf(true_positives: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = true_positives / n_pred if n_pred else 0.0
    recall = true_positives / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def _check_tags(sequences: Sequence[Sequence[str]], name: str) -> None:
    for index, sequence in enumerate(sequences):
        if isinstance(sequence, str):
            raise TypeError(f"{name}[{index}] is a string; expected a list of tags such as ['B-ADR', 'I-ADR', 'O'].")
        for position, tag in enumerate(sequence):
            if not isinstance(tag, str) or not (tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2):
                raise ValueError(
                    f"{name}[{index}][{position}] = {tag!r} is not an IOB2 tag; expected 'O', 'B-<type>' or 'I-<type>'."
                )


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Micro-averaged exact-match entity precision, recall and F1 over all sentences.

    Args:
        gold: one IOB2 tag list per sentence.
        pred: the predicted tag lists, same number of sentences and same lengths.

    Returns:
        `{"precision", "recall", "f1", "support", "per_type": {type: {"precision", "recall", "f1",
        "support"}}}`; `support` is the number of gold entities. A predicted span whose boundary is
        off by one token is one false positive and one false negative. `per_type` lists every type
        seen in gold or predictions.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but pred has {len(pred)}.")
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(
                f"Sentence {index}: gold has {len(gold_tags)} tags but pred has {len(pred_tags)}."
            )
    _check_tags(gold, "gold")
    _check_tags(pred, "pred")
    gold_set = {entity.to_tuple() for entity in Entities([list(s) for s in gold], IOB2).entities for entity in entity}
    pred_set = {entity.to_tuple() for entity in Entities([list(s) for s in pred], IOB2).entities for entity in entity}
    # Tuples are (sentence, type, start, end): a match needs all four to agree.
    hits = gold_set & pred_set
    gold_by_type = Counter(entity[1] for entity in gold_set)
    pred_by_type = Counter(entity[1] for entity in pred_set)
    hits_by_type = Counter(entity[1] for entity in hits)
    scores = _prf(len(hits), len(pred_set), len(gold_set))
    scores["per_type"] = {
        entity_type: _prf(hits_by_type[entity_type], pred_by_type[entity_type], gold_by_type[entity_type])
        for entity_type in sorted(set(gold_by_type) | set(pred_by_type))
    }
    return scores
