"""The prediction shapes ("views") the demo and the viewer show, and how a saved model is recognised as one.

A view is selected from a saved model's `config.json` (`labelwise.analysis.predictors.detect_kind`)
and loaded by the loader of the same name in `labelwise.analysis.predictors`; each model kind of
`labelwise.kinds` names the view of its saved models (`ModelKind.view`, checked against `VIEWS`).

The table lives here, at the bottom of the package, so that the kinds can validate against it without
importing the demo's model loading (docs/DEVELOPING.md, "Layers"). This module uses the standard
library only: `labelwise.analysis.space.write_space_files` copies it into a Hub Space that does not
install labelwise (as `labelwise_views.py`, next to the copied predictors).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VIEWS", "View"]


@dataclass(frozen=True)
class View:
    """How the demo recognises and introduces one prediction shape.

    Attributes:
        model_type: `config.json["model_type"]` that selects this view (checked first), or None.
        architecture_suffix: an `architectures` suffix that selects it (checked after every model_type).
        intro: the demo page's one-line instructions.
    """

    model_type: str | None
    architecture_suffix: str | None
    intro: str


VIEWS: dict[str, View] = {
    "lame": View(
        "lame", None,
        "Paste a document: the model predicts its labels, and shades each word by how much the selected "
        "label attended to it. Click a label to switch.",
    ),
    "layerwise": View(
        "labelwise_layerwise", None,
        "Paste a document: the model predicts labels at every level of the hierarchy.",
    ),
    "ner": View(
        None, "ForTokenClassification",
        "Paste a text: the model marks adverse drug reaction spans; hover a span for its score.",
    ),
    "classification": View(
        None, "ForSequenceClassification",
        "Paste a document: the model predicts its labels with probabilities.",
    ),
}
"""Every view by name, in the order `detect_kind` tries them: the demo's and the viewer's only per-model-kind table."""
