"""Explanations of trained classifiers, measured: plausibility against human rationales and ERASER
faithfulness, for LAME's label attention, gradient attributions (captum) and a random baseline.

    python -m labelwise.explain --model <folder> --corpus hoc --data_dir <HoC release> --output_dir <out>

Python: `evaluate_explanations(model, tokenizer, records)` and `write_result(result, output_dir)`.
The viewer and demo show another method's evidence words with `--evidence_method` (`evidence.py`).
Gradient methods need captum (`pip install labelwise[explain]`).
"""

from .evidence import EVIDENCE_METHODS, add_evidence
from .evaluate import evaluate_explanations, gold_words, load_model, methods_table, plot_comprehensiveness, write_result
from .methods import METHODS, Explainer, word_scores

__all__ = [
    "EVIDENCE_METHODS",
    "METHODS",
    "add_evidence",
    "Explainer",
    "evaluate_explanations",
    "gold_words",
    "load_model",
    "methods_table",
    "plot_comprehensiveness",
    "word_scores",
    "write_result",
]
