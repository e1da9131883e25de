"""labelwise: label-aware fine-tuning of BERT-family encoders, Hugging Face Hub native.

The public API, importable from the top level (loaded on first use, so `import labelwise` is cheap):

- `LameConfig`, `LameForSequenceClassification`: label-attention fine-tuning (LAME).
- `LayerwiseConfig`, `LayerwiseBertForHierarchicalClassification`: layer-wise guided training.
- `load_corpus`, `load_label_space`: every corpus as a `datasets.DatasetDict`, with its labels.
- `default_backbone_path`: the packaged all-MiniLM-L6-v2 checkpoint (offline default backbone).

Training from Python: `from labelwise.training import train` (`train.py`'s options as keywords).
Scoring a saved model (folder or Hub id) on texts, a file or a corpus split: `labelwise.evaluate`
(`python -m labelwise.evaluate --help`; `from labelwise.evaluate import evaluate`).

Import names (all under `labelwise`, so nothing clashes with other installed packages):

- `labelwise.modeling`: the model files the Hub runs as remote code (repo folder `modeling/`).
- `labelwise.data_scripts`: `datasets` builders for every corpus (repo folder `data_scripts/`).
- `labelwise.kinds`: the model kinds `train.py` trains, one module each (the registry).
- `labelwise.training`: the Trainer-based entry point behind `train.py`.
- `labelwise.publishing`: model cards and `push_to_hub.py`.
- `labelwise.analysis`: explanations, viewers and the layer-utilisation analysis.
- `labelwise.metrics`: metric functions and the `evaluate` modules that wrap them.
- `labelwise.ner`: ADR tagging (word/piece alignment, baselines, cross-validation).
"""

from __future__ import annotations

import importlib

from .backbone import DEFAULT_BACKBONE, default_backbone_path, resolve_backbone

__version__ = "0.1.0"

_LAZY = {
    "LameConfig": "labelwise.modeling",
    "LameForSequenceClassification": "labelwise.modeling",
    "LayerwiseConfig": "labelwise.modeling",
    "LayerwiseBertForHierarchicalClassification": "labelwise.modeling",
    "load_corpus": "labelwise.data_scripts",
    "load_label_space": "labelwise.data_scripts",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'labelwise' has no attribute {name!r}")


__all__ = ["DEFAULT_BACKBONE", "default_backbone_path", "resolve_backbone", "__version__", *_LAZY]
