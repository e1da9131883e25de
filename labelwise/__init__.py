"""labelwise: label-aware fine-tuning of BERT-family encoders, Hugging Face Hub native.

Import names (all under `labelwise`, so nothing clashes with other installed packages):

- `labelwise.modeling`: the model files the Hub runs as remote code (LAME, layer-wise).
- `labelwise.data_scripts`: `datasets` builders for every corpus, `load_corpus`.
- `labelwise.training`: the Trainer-based training entry point behind `train.py`.
- `labelwise.publishing`: model cards and `push_to_hub.py`.
- `labelwise.analysis`: explanations, viewers and the layer-utilisation analysis.
- `labelwise.metrics`: metric functions and the `evaluate` modules that wrap them.
- `labelwise.ner`: ADR tagging (word/piece alignment, baselines, cross-validation).
"""

from .backbone import DEFAULT_BACKBONE, default_backbone_path, resolve_backbone

__version__ = "0.1.0"

__all__ = ["DEFAULT_BACKBONE", "default_backbone_path", "resolve_backbone", "__version__"]
