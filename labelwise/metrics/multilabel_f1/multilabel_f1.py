"""`evaluate` module: micro/macro F1 for multi-label (default) or multi-class ("multiclass") outputs.

A thin wrapper over `labelwise.metrics.classification`; the zero-division conventions are
documented there. evaluate copies this file into its module cache, so the import below must be
absolute and the `labelwise` package must be installed where it runs.
"""

import datasets
import evaluate
import numpy as np

from labelwise.metrics.classification import multiclass_scores, multilabel_scores

_DESCRIPTION = """\
Multi-label classification scores: micro precision, recall and F1 over all document/label cells,
macro F1 over labels (labels never predicted nor gold count as 0), and subset accuracy.
With config_name="multiclass": accuracy and macro F1 for one class id per document.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: multi-label: per document a 0/1 indicator per label; multiclass: a class id.
    references: the gold values, same shapes.
Returns:
    multi-label: micro_precision, micro_recall, micro_f1, macro_f1, subset_accuracy.
    multiclass: accuracy, macro_f1.
Examples:
    >>> metric = evaluate.load("<user>/multilabel_f1")  # or labelwise.metrics.load("multilabel_f1") offline
    >>> metric.compute(predictions=[[1, 0], [0, 1]], references=[[1, 0], [1, 1]])["micro_f1"]
    0.8
"""

_CITATION = """\
@article{scikit-learn,
  title = {Scikit-learn: Machine Learning in {P}ython},
  author = {Pedregosa, F. and others},
  journal = {Journal of Machine Learning Research},
  volume = {12},
  pages = {2825--2830},
  year = {2011},
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultilabelF1(evaluate.Metric):
    def _info(self):
        if self.config_name == "multiclass":
            features = {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
        elif self.config_name in ("default", "multilabel"):
            features = {
                "predictions": datasets.Sequence(datasets.Value("int32")),
                "references": datasets.Sequence(datasets.Value("int32")),
            }
        else:
            raise ValueError(f"Unknown config_name {self.config_name!r}; expected 'multilabel' (default) or 'multiclass'.")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(features),
        )

    def _compute(self, predictions, references):
        if self.config_name == "multiclass":
            return multiclass_scores(np.asarray(references), np.asarray(predictions))
        return multilabel_scores(np.asarray(references), np.asarray(predictions))
