"""The saved-model kinds: the four shapes a labelwise model folder takes, and what every reader needs to know
about each (one table, one set of names).

| saved kind | recognised by (config.json) | what it predicts | trained by `--model` |
|---|---|---|---|
| `lame` | `model_type` "lame" | labels with probabilities and evidence words | `lame`, `frozen_lame` |
| `layerwise` | `model_type` "labelwise_layerwise" | labels per hierarchy level | `layerwise` |
| `token_classification` | a `...ForTokenClassification` architecture | entity spans | `token_classification` |
| `sequence_classification` | a `...ForSequenceClassification` architecture | every label with its probability | `vanilla` |

Readers: the model kinds (`labelwise.kinds`: each names its saved kind, which gives its custom pipeline),
the demo and the viewer (`labelwise.analysis.predictors` recognises a folder with `detect`, one loader per
kind), export (`labelwise.export`: one ONNX graph per kind, the remote code copied beside it, the serving
pipeline, the card note) and publishing (the pipeline file a folder must carry). A new saved shape is one
more entry here; docs/DEVELOPING.md, "Adding a kind", lists the readers to extend.

The remote-code files of a kind are not listed: `remote_code_files` follows the single-dot imports of its
model and pipeline files in `modeling/`, so a file split off a model travels with it.

Standard library only: a Hub Space without labelwise carries this file (as `labelwise_saved_kinds.py`, next
to the copied predictors), and so does an ONNX export folder (for `onnx_serving.py`).

Folders saved by labelwise 0.1 name no kind: they are recognised from config.json as above. The view
names of that release (`classification`, `ner`) are accepted as aliases (`LEGACY_NAMES`).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

__all__ = [
    "LAME", "LAYERWISE", "LEGACY_NAMES", "SAVED_KINDS", "SEQUENCE_CLASSIFICATION", "SavedKind", "TOKEN_CLASSIFICATION",
    "canonical_name", "detect", "remote_code_files",
]

LAME = "lame"
LAYERWISE = "layerwise"
TOKEN_CLASSIFICATION = "token_classification"
SEQUENCE_CLASSIFICATION = "sequence_classification"


@dataclass(frozen=True)
class SavedKind:
    """One saved shape.

    Attributes:
        name: the kind's name everywhere (demo, export manifest, serving, `ModelKind.saved_kind`).
        model_type: `config.json["model_type"]` that identifies it (checked first), or None.
        architecture_suffix: an `architectures` suffix that identifies it (checked after every model_type).
        auto_class: the transformers Auto class that loads it.
        model_file: its model's file in `modeling/` (remote code), or None for transformers' own classes.
        pipeline_task / pipeline_class: the custom pipeline it is saved through and served by
            (`"module.Class"` of a `modeling/` file), or None for transformers' standard pipeline.
        standard_pipeline: transformers' pipeline task that serves it when it has no custom one.
        intro: the demo page's one-line instructions.
        outputs: what its pipeline returns (the ONNX card section).
    """

    name: str
    model_type: str | None
    architecture_suffix: str | None
    auto_class: str
    intro: str
    outputs: str
    model_file: str | None = None
    pipeline_task: str | None = None
    pipeline_class: str | None = None
    standard_pipeline: str | None = None

    @property
    def pipeline_file(self) -> str | None:
        """The custom pipeline's file in `modeling/` (`pipeline_lame.py`), or None."""
        return self.pipeline_class.split(".")[0] + ".py" if self.pipeline_class else None


SAVED_KINDS: dict[str, SavedKind] = {
    LAME: SavedKind(
        LAME, model_type="lame", architecture_suffix=None, auto_class="AutoModelForSequenceClassification",
        intro="Paste a document: the model predicts its labels, and shades each word by how much the selected "
              "label attended to it. Click a label to switch.",
        outputs="labels, probabilities and evidence words",
        model_file="modeling_lame.py", pipeline_task="label-attention-classification",
        pipeline_class="pipeline_lame.LameClassificationPipeline",
    ),
    LAYERWISE: SavedKind(
        LAYERWISE, model_type="labelwise_layerwise", architecture_suffix=None,
        auto_class="AutoModelForSequenceClassification",
        intro="Paste a document: the model predicts labels at every level of the hierarchy.",
        outputs="labels per hierarchy level",
        model_file="modeling_layerwise.py", pipeline_task="hierarchical-classification",
        pipeline_class="pipeline_layerwise.HierarchicalClassificationPipeline",
    ),
    TOKEN_CLASSIFICATION: SavedKind(
        TOKEN_CLASSIFICATION, model_type=None, architecture_suffix="ForTokenClassification",
        auto_class="AutoModelForTokenClassification",
        intro="Paste a text: the model marks adverse drug reaction spans; hover a span for its score.",
        outputs="entity spans", standard_pipeline="token-classification",
    ),
    SEQUENCE_CLASSIFICATION: SavedKind(
        SEQUENCE_CLASSIFICATION, model_type=None, architecture_suffix="ForSequenceClassification",
        auto_class="AutoModelForSequenceClassification",
        intro="Paste a document: the model predicts its labels with probabilities.",
        outputs="every label with its probability", standard_pipeline="text-classification",
    ),
}
"""Every saved kind by name, in the order `detect` tries them."""

LEGACY_NAMES = {"classification": SEQUENCE_CLASSIFICATION, "ner": TOKEN_CLASSIFICATION}
"""The demo's view names in labelwise 0.1, for code and files that still say them."""


def canonical_name(name: str) -> str:
    """`name`, or the saved kind an old name stands for (`LEGACY_NAMES`); a ValueError for neither."""
    name = LEGACY_NAMES.get(name, name)
    if name not in SAVED_KINDS:
        raise ValueError(f"{name!r} is not a saved-model kind; the kinds are {list(SAVED_KINDS)} (labelwise/saved_kinds.py).")
    return name


def detect(config: dict) -> str:
    """The saved kind of a `config.json` dict: the first whose `model_type` matches, else the first whose
    architecture suffix does; a ValueError naming what was expected otherwise."""
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    for name, kind in SAVED_KINDS.items():
        if kind.model_type is not None and model_type == kind.model_type:
            return name
    for name, kind in SAVED_KINDS.items():
        if kind.architecture_suffix and any(arch.endswith(kind.architecture_suffix) for arch in architectures):
            return name
    expected = [f"model_type {k.model_type!r}" for k in SAVED_KINDS.values() if k.model_type] + [
        f"a ...{k.architecture_suffix} architecture" for k in SAVED_KINDS.values() if k.architecture_suffix
    ]
    raise ValueError(
        f"config.json (model_type={model_type!r}, architectures={architectures}) is not a labelwise model: "
        f"expected {', '.join(expected)}."
    )


def remote_code_files(name: str, modeling_dir: str) -> list[str]:
    """The `modeling/` files a folder of saved kind `name` needs to run its own code: its model and pipeline
    files and every file they import with a single-dot import, transitively (sorted). Empty for a kind served
    by transformers' own classes."""
    kind = SAVED_KINDS[canonical_name(name)]
    todo = [f for f in (kind.model_file, kind.pipeline_file) if f]
    found: set[str] = set()
    while todo:
        file = todo.pop()
        if file in found:
            continue
        found.add(file)
        path = os.path.join(modeling_dir, file)
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
        todo += [f"{node.module}.py" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module]
    return sorted(found)
