"""Model files that the Hub runs as remote code, and their registration with the Auto classes.

Importing `labelwise.modeling` registers every labelwise architecture with `AutoConfig`,
`AutoModel` and the fitting `AutoModelFor...` class, so in-process loading needs no
`trust_remote_code`.
"""

from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from .configuration_lame import LameConfig
from .modeling_lame import LameClassifierOutput, LameForSequenceClassification, f_measure_loss, shortlist_recall
from .pipeline_lame import LameClassificationPipeline, merge_pieces_into_words, register_lame_pipeline
from .configuration_layerwise import LayerwiseConfig
from .modeling_layerwise import LayerwiseBertForHierarchicalClassification, LayerwiseClassifierOutput
from .pipeline_layerwise import HierarchicalClassificationPipeline, register_layerwise_pipeline


def _register(config_class, model_class) -> None:
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, model_class, exist_ok=True)
    AutoModelForSequenceClassification.register(config_class, model_class, exist_ok=True)
    # save_pretrained copies the remote-code files only for classes registered for an auto class.
    config_class.register_for_auto_class()
    model_class.register_for_auto_class("AutoModelForSequenceClassification")


_register(LameConfig, LameForSequenceClassification)
_register(LayerwiseConfig, LayerwiseBertForHierarchicalClassification)
register_lame_pipeline()
register_layerwise_pipeline()

__all__ = [
    "LameConfig",
    "LameForSequenceClassification",
    "LameClassifierOutput",
    "LameClassificationPipeline",
    "f_measure_loss",
    "shortlist_recall",
    "merge_pieces_into_words",
    "register_lame_pipeline",
    "LayerwiseConfig",
    "LayerwiseBertForHierarchicalClassification",
    "LayerwiseClassifierOutput",
    "HierarchicalClassificationPipeline",
    "register_layerwise_pipeline",
]
