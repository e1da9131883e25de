"""The encoder seam shared by LAME and the layer-wise model: any `AutoModel` encoder, held as a sub-config.

A labelwise config keeps the encoder's own config (BERT, RoBERTa, DeBERTa-v2, ELECTRA, XLM-R,
ModernBERT, ...) under `config.encoder`, and the model builds it with `AutoModel.from_config`. The
encoder fields the heads read (`hidden_size`, dropout, layer-norm epsilon, positions) are properties
of the labelwise config that read the sub-config ([`EncoderFields`]).

Configs saved before the sub-config existed hold BERT's fields at the top level of `config.json`;
[`split_encoder_fields`] turns them into a BERT sub-config, so they load unchanged. A warm start from
a plain encoder checkpoint (`from_pretrained(<roberta folder>, label_descriptions=...)`) takes the
checkpoint's whole config as the sub-config and loads the weights with the encoder's own class
([`load_encoder_weights`]), so a RoBERTa checkpoint builds a RoBERTa encoder, never a BERT one.

Shipped with every checkpoint as remote code: it imports only torch and transformers.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import fields

import torch
from transformers import AutoConfig, AutoModel, BertConfig, PretrainedConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

logger = logging.getLogger(__name__)

LEGACY_ENCODER_TYPE = "bert"
"""The encoder of a config saved without a sub-config: every release before it built a BERT."""

# Encoders whose position ids start after the padding id (RoBERTa's scheme): `max_position_embeddings`
# counts those skipped positions too.
OFFSET_POSITION_TYPES = ("roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text")

_COMMON_FIELDS = frozenset(field.name for field in fields(PretrainedConfig)) | {
    "model_type", "auto_map", "custom_pipelines", "architectures", "transformers_version", "_name_or_path",
    "name_or_path", "num_labels", "torch_dtype", "_attn_implementation_autoset", "output_attentions", "attn_implementation",
}


def split_encoder_fields(values: dict, own_fields: frozenset[str]) -> tuple[dict, dict]:
    """`(encoder fields, the rest)` of a flat config dict or keyword arguments.

    A field goes to the encoder when it is not the labelwise config's own (`own_fields`) and not one
    of transformers' common config fields: e.g. a config saved with BERT's fields at the top level,
    or `LameConfig(hidden_size=32, ...)`.
    """
    encoder, rest = {}, {}
    for key, value in values.items():
        (rest if key in own_fields or key in _COMMON_FIELDS else encoder)[key] = value
    return encoder, rest


def own_fields_of(config_class) -> frozenset[str]:
    """The fields a labelwise config declares itself: its `__init__` parameters."""
    return frozenset(inspect.signature(config_class.__init__).parameters) - {"self", "kwargs"}


def route_encoder_fields(config_dict: dict, kwargs: dict, model_type: str, own_fields: frozenset[str]) -> dict:
    """A saved or warm-start config dict -> one whose `"encoder"` is the encoder's config.

    - a labelwise config with an `"encoder"` entry: kept;
    - a labelwise config saved before the sub-config (`model_type` is ours, BERT's fields at the top
      level): those fields become a BERT sub-config;
    - a plain encoder checkpoint (any other `model_type`): its fields become a sub-config of that type.

    Keyword overrides that are fields of the encoder (`hidden_dropout_prob=0.2`) are moved out of
    `kwargs` into the sub-config.
    """
    config_dict = dict(config_dict)
    saved_type = config_dict.pop("model_type", None)
    encoder = config_dict.pop("encoder", None)
    if encoder is None:
        flat, config_dict = split_encoder_fields(config_dict, own_fields)
        encoder = {"model_type": saved_type if saved_type not in (None, model_type) else LEGACY_ENCODER_TYPE, **flat}
    encoder = build_encoder_config(encoder, {})
    for key in list(kwargs):
        if key not in own_fields and key not in _COMMON_FIELDS and not key.startswith("_") and hasattr(encoder, key):
            setattr(encoder, key, kwargs.pop(key))
    config_dict["encoder"] = encoder
    return config_dict


def build_encoder_config(encoder, flat_fields: dict) -> PretrainedConfig:
    """The encoder's config from `encoder` (a config, a dict with `model_type`, or None) and the flat
    fields beside it (overrides such as `hidden_dropout_prob`; without `encoder`, BERT's fields)."""
    if isinstance(encoder, PretrainedConfig):
        config = encoder
    elif isinstance(encoder, dict):
        values = dict(encoder)
        config = AutoConfig.for_model(values.pop("model_type", LEGACY_ENCODER_TYPE), **values)
    elif encoder is None:
        return BertConfig(**flat_fields)
    else:
        raise TypeError(f"encoder must be a config, a dict or None, got {type(encoder).__name__}.")
    for key, value in flat_fields.items():
        setattr(config, key, value)
    return config


def encoder_max_length(config: PretrainedConfig) -> int:
    """Pieces one encoder pass reads, special tokens included (RoBERTa-style encoders reserve the
    positions up to their padding id)."""
    length = config.max_position_embeddings
    if config.model_type in OFFSET_POSITION_TYPES:
        length -= (config.pad_token_id or 0) + 1
    return length


def _first(config: PretrainedConfig, names: tuple[str, ...], default):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def encoder_field(names: tuple[str, ...], default, doc: str = "") -> property:
    """A field of the encoder sub-config under BERT's name (`names[0]`), whatever the encoder family
    calls it: read from the first of `names` it has (else `default`), written to the same one, so that
    the labelwise config can be set like a flat one (`config.layer_norm_eps = 1.0`), as transformers' own
    tests and tools do."""

    def read(self):
        return _first(self.encoder, names, default)

    def write(self, value) -> None:
        setattr(self.encoder, next((n for n in names if getattr(self.encoder, n, None) is not None), names[0]), value)

    return property(read, write, doc=doc or f"The encoder's `{names[0]}`.")


class EncoderFields:
    """Views of the encoder sub-config (`self.encoder`) that the heads and the segmenting read, under
    BERT's names, for every encoder family; setting one sets the encoder's (except the derived
    `max_position_embeddings`).
    Mixed into `LameConfig` and `LayerwiseConfig`."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load a saved config, or warm-start from any encoder checkpoint's config.

        transformers warns "You are using a model of type `roberta` to instantiate a model of type
        `labelwise_lame`" whenever the saved `model_type` differs from ours. For a plain encoder
        checkpoint that is the intended warm start ([`route_encoder_fields`] makes its config the
        encoder sub-config, built by its own class), so a config of one of transformers' own model
        types loads without that warning; any other (a layer-wise folder given to LAME) still warns.
        """
        config_dict, rest = cls.get_config_dict(pretrained_model_name_or_path, **dict(kwargs))
        saved_type = config_dict.get("model_type")
        if saved_type not in CONFIG_MAPPING_NAMES:  # ours, another custom model's, or none: transformers decides
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        return cls.from_dict(config_dict, **rest)

    hidden_size = encoder_field(("hidden_size",), None, "The encoder's width.")
    num_hidden_layers = encoder_field(("num_hidden_layers",), None, "The encoder's layers.")

    @property
    def max_position_embeddings(self) -> int:
        """The encoder's usable positions ([`encoder_max_length`]): the segment length of long documents."""
        return encoder_max_length(self.encoder)

    hidden_dropout_prob = encoder_field(("hidden_dropout_prob", "hidden_dropout", "mlp_dropout", "dropout"), 0.1)
    layer_norm_eps = encoder_field(("layer_norm_eps", "norm_eps", "layer_norm_epsilon"), 1e-12)
    initializer_range = encoder_field(("initializer_range",), 0.02)
    # `resize_token_embeddings` records the new size on the config: it is the encoder's.
    vocab_size = encoder_field(("vocab_size",), None)
    pad_token_id = encoder_field(("pad_token_id",), None)


# ------------------------------------------------------------------------------------ the model side


def build_encoder(config: PretrainedConfig) -> torch.nn.Module:
    """The encoder `AutoModel.from_config(config)`, without a pooler where the class has one (labelwise
    heads read token states, and an unused pooler would only add weights)."""
    model_class = AutoModel._model_mapping[type(config)]
    kwargs = {}
    if "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        kwargs["add_pooling_layer"] = False
    return model_class(config, **kwargs)


def encoder_call_arguments(encoder: torch.nn.Module) -> frozenset[str]:
    """The keyword arguments `encoder.forward` takes (ModernBERT takes no `token_type_ids`)."""
    return frozenset(inspect.signature(encoder.forward).parameters)


# Inputs an encoder either names in its forward or does not read at all (ModernBERT: no token types).
_NAMED_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


def run_encoder(encoder: torch.nn.Module, **inputs) -> object:
    """`encoder(**inputs, return_dict=True)` without the None inputs and without the model inputs this
    encoder's forward does not name; other options pass through to a forward that takes `**kwargs`.

    A selection of hidden states (`output_hidden_states=` an index or a list of them, transformers 5) is
    made here from all of them, so that every encoder family answers it as BERT does (DeBERTa-v2 would
    return every state).
    """
    selection = inputs.get("output_hidden_states")
    selects = selection is not None and not isinstance(selection, bool)
    if selects:
        inputs["output_hidden_states"] = True
    accepted = encoder_call_arguments(encoder)
    takes_any = "kwargs" in accepted
    kept = {
        key: value for key, value in inputs.items()
        if value is not None and (key in accepted or (takes_any and key not in _NAMED_INPUTS))
    }
    output = encoder(**kept, return_dict=True)
    if selects:
        output.hidden_states = selected_hidden_states(output.hidden_states, selection)
    return output


def selected_hidden_states(
    hidden_states: tuple[torch.Tensor, ...], selection: bool | int | list[int] | None
) -> tuple[torch.Tensor | None, ...] | None:
    """What `output_hidden_states=selection` returns from all of the encoder's `hidden_states`, as
    transformers 5's BERT does: `False`/`None` nothing, `True` everything, an index or a list of
    indices (negative ones count from the end) a tuple of the same length holding only those states
    and `None` in every other place.
    """
    if selection is None or selection is False:
        return None
    if selection is True:
        return hidden_states
    count = len(hidden_states)
    chosen = {i % count for i in ([selection] if isinstance(selection, int) else selection) if -count <= i < count}
    return tuple(state if i in chosen else None for i, state in enumerate(hidden_states))


ENCODER_ATTRIBUTE = "backbone"
"""Where the models hold their encoder, hence the prefix of its weights (`backbone.embeddings...`)."""

LEGACY_KEY_MAPPING = {r"^bert\.": f"{ENCODER_ATTRIBUTE}."}
"""Checkpoints saved before the encoder seam hold the encoder's weights under `bert.`."""

LOADING_KEYS = frozenset({
    "dtype", "torch_dtype", "attn_implementation", "device_map", "key_mapping", "output_loading_info", "state_dict",
    "ignore_mismatched_sizes", "use_safetensors", "weights_only", "low_cpu_mem_usage", "tp_plan", "variant",
})
"""`from_pretrained` arguments that are about loading the weights, not about the config."""

HUB_KEYS = ("revision", "token", "cache_dir", "local_files_only", "force_download", "proxies", "subfolder")


def checkpoint_key_mapping(encoder_config: PretrainedConfig) -> dict[str, str]:
    """Checkpoint weight names -> this model's: an encoder checkpoint saved with a head (`roberta.`,
    `deberta.`, ModernBERT's `model.`) and an old labelwise checkpoint (`bert.`) both land in the encoder.
    (A bare encoder checkpoint, `embeddings...`, gets the prefix from transformers' base-model rule.)"""
    mapping = dict(LEGACY_KEY_MAPPING)
    prefix = getattr(AutoModel._model_mapping[type(encoder_config)], "base_model_prefix", "")
    if prefix and prefix != ENCODER_ATTRIBUTE:
        mapping[rf"^{prefix}\."] = f"{ENCODER_ATTRIBUTE}."
    return mapping


def load_with_encoder(model_class, path, args: tuple, kwargs: dict):
    """`PreTrainedModel.from_pretrained` for a labelwise model whose encoder is a sub-config.

    The config is built first (from a labelwise checkpoint, or from a plain encoder checkpoint whose
    whole config becomes the sub-config), so the weights are mapped by the encoder's own names
    ([`checkpoint_key_mapping`]). Encoder weights the checkpoint did not hold start random and are
    named in a warning. Returns `(model, loading info)`.
    """
    from transformers.modeling_utils import PreTrainedModel

    kwargs = dict(kwargs)
    config = kwargs.pop("config", None)
    if not isinstance(config, PretrainedConfig):
        config_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key not in LOADING_KEYS}
        hub = {key: config_kwargs[key] for key in HUB_KEYS if key in config_kwargs}
        config, unused = model_class.config_class.from_pretrained(
            config if config is not None else path, return_unused_kwargs=True, **config_kwargs
        )
        kwargs.update(unused)
        kwargs.update(hub)
    mapping = checkpoint_key_mapping(config.encoder)
    mapping.update(kwargs.pop("key_mapping", None) or {})
    kwargs.pop("output_loading_info", None)
    # transformers' own loading, bypassing the model class's override that called this function.
    model, info = PreTrainedModel.from_pretrained.__func__(
        model_class, path, *args, config=config, key_mapping=mapping, output_loading_info=True, **kwargs
    )
    missing = sorted(key for key in info.get("missing_keys", ()) if key.startswith(f"{ENCODER_ATTRIBUTE}."))
    if missing:
        logger.warning(
            "%s.from_pretrained(%r): %d of the encoder's weights (%s) were not in the checkpoint and start random: %s",
            model_class.__name__, str(path), len(missing), config.encoder.model_type,
            ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""),
        )
    return model, info
