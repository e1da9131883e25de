"""`evaluate` module: R-Precision per hierarchy level, micro/macro R-Precision, P@k, nDCG@k, F1.

A thin wrapper over `labelwise.metrics.ranking.hierarchical_scores`; the definitions and
conventions (documents without a gold label at a level are left out of that level's mean) live
there. evaluate copies this file into its module cache, so the import below must be absolute and
the `labelwise` package must be installed where the metric runs.
"""

import datasets
import evaluate
import numpy as np

from labelwise.metrics.ranking import hierarchical_scores

_DESCRIPTION = """\
R-Precision (Precision@R, R = the number of gold labels of the document) at each level of a label
hierarchy, micro R-Precision (all levels as one flat label set), macro R-Precision (mean over
levels), P@k and nDCG@k, and micro/macro F1 of the labels whose score reaches a threshold, as
reported for layer-wise guided training (Manginas, Chalkidis and Malakasiotis, 2020).
Documents without a gold label at a level are left out of that level's mean.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: per document, one score per label (probabilities, shape [n_labels]).
    references: per document, one 0/1 gold indicator per label (shape [n_labels]).
    label_levels: the hierarchy level (1, 2, ...) of each label column.
    threshold: a label counts as predicted for the F1 metrics when its score is >= threshold (0.5).
    k_values: the k of P@k and nDCG@k (default (1, 5, 10)).
Returns:
    rp_level_<n>, rp_micro, rp_macro, p_at_<k>, ndcg_at_<k>, micro_f1, macro_f1
    (nan where no document has a gold label).
Examples:
    >>> metric = evaluate.load("<user>/hierarchical_ranking")  # or labelwise.metrics.load("hierarchical_ranking") offline
    >>> metric.compute(predictions=[[0.9, 0.2, 0.7]], references=[[1, 0, 1]], label_levels=[1, 2, 2],
    ...                k_values=(1,))["rp_micro"]
    1.0
"""

_CITATION = """\
@inproceedings{manginas-etal-2020-layer,
    title = "Layer-wise Guided Training for {BERT}: Learning Incrementally Refined Document Representations",
    author = "Manginas, Nikolaos and Chalkidis, Ilias and Malakasiotis, Prodromos",
    booktitle = "Proceedings of the Fourth Workshop on Structured Prediction for NLP",
    year = "2020",
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class HierarchicalRanking(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Sequence(datasets.Value("int32")),
                }
            ),
        )

    def _compute(self, predictions, references, label_levels=None, threshold=0.5, k_values=(1, 5, 10)):
        if label_levels is None:
            raise ValueError("hierarchical_ranking needs label_levels: the hierarchy level of each label column.")
        return hierarchical_scores(
            np.asarray(references), np.asarray(predictions), list(label_levels), threshold=threshold, k_values=k_values
        )
