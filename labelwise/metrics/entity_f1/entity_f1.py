"""`evaluate` module: exact-match entity precision, recall and F1 for IOB2 tag sequences.

A thin wrapper over `labelwise.metrics.entities.entity_scores` (seqeval's strict IOB2 decoding;
precision 0 when nothing is predicted). evaluate copies this file into its module cache, so the
import below must be absolute and the `labelwise` package must be installed where it runs.
"""

import datasets
import evaluate

from labelwise.metrics.entities import entity_scores

_DESCRIPTION = """\
Entity-level precision, recall and F1 for sequence labelling with IOB2 tags: a predicted entity
counts only when its type and both boundaries equal a gold entity (seqeval mode="strict",
scheme=IOB2). A span with a wrong boundary is one false positive and one false negative.
Micro-averaged over all entities, plus the same scores per entity type.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: per sentence, the predicted tags ("O", "B-<type>", "I-<type>").
    references: per sentence, the gold tags (same lengths).
Returns:
    precision, recall, f1, support (number of gold entities) and per_type:
    {type: {precision, recall, f1, support}}. Precision is 0 when nothing is predicted,
    recall is 0 when there is no gold entity.
Examples:
    >>> metric = evaluate.load("<user>/entity_f1")  # or labelwise.metrics.load("entity_f1") offline
    >>> metric.compute(predictions=[["B-ADR", "I-ADR", "O"]], references=[["B-ADR", "O", "O"]])["f1"]
    0.0
"""

_CITATION = """\
@misc{seqeval,
  title = {{seqeval}: A Python framework for sequence labeling evaluation},
  author = {Hiroki Nakayama},
  year = {2018},
  url = {https://github.com/chakki-works/seqeval},
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class EntityF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references):
        return entity_scores(references, predictions)
