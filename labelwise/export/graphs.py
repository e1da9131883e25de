"""What each model kind looks like as an ONNX graph: inputs, outputs, and the torch module that is exported.

Every graph takes `input_ids`, `attention_mask` and `token_type_ids`, each `(batch, sequence)` int64,
with both axes dynamic. The outputs depend on the kind:

| kind | outputs |
|---|---|
| `lame` | `logits (batch, num_labels)`, `label_attention (batch, num_labels, sequence)`: the last label-attention block's weights averaged over heads (what the LAME pipeline turns into evidence words) |
| `layerwise` | `logits (batch, num_labels)` in label-id order, then `level_<n>_logits (batch, |L_n|)` for every level n; raw scores, before hierarchical consistency (the serving side applies it, as the PyTorch pipeline does) |
| `token_classification` | `logits (batch, sequence, num_labels)` |
| `sequence_classification` | `logits (batch, num_labels)` |

The kinds are the saved kinds of `labelwise.saved_kinds`. A new saved kind is one more builder in
`KINDS`, and a new head option of an existing kind one more entry in its option table (e.g.
`LAME_HEAD_OPTIONS`): the exporter, the parity check and the serving adapter read everything else from
the `GraphSpec` and the saved-kinds table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel

from labelwise.saved_kinds import LAME, LAYERWISE, SAVED_KINDS, SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION, detect

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class GraphSpec:
    """One exportable graph.

    Attributes:
        kind: the model kind (a key of `KINDS`).
        module: the `nn.Module` whose `forward(input_ids, attention_mask, token_type_ids)` returns a
            tuple of tensors, one per name in `output_names`.
        output_names: graph output names, in the order `module` returns them.
        output_axes: per output, which of its axes are the dynamic batch and sequence axes
            (`{axis: "batch" | "sequence"}`), so the graph declares them symbolic.
    """

    kind: str
    module: nn.Module
    output_names: list[str]
    output_axes: dict[str, dict[int, str]]


# ---------------------------------------------------------------------------------------------- LAME
LAME_HEAD_OPTIONS: dict[str, tuple] = {
    # config field -> values whose head the exporter knows how to build. The label embeddings do not
    # depend on label_embedding_mode at inference (it only says how they are trained).
    "feature_head": ("none", "cnn"),
    "label_embedding_mode": ("joint", "static"),
    "problem_type": ("single_label_classification", "multi_label_classification", None),
    # The graph holds the label set it was exported with; candidate labels at call time need PyTorch.
    "label_scoring": ("label_specific", "label_agnostic"),
    # Pooling only changes the stored label embeddings; the similarity term is part of `forward`
    # ("auto" resolves inside the model, by label_scoring).
    "description_pooling": ("auto", "cls", "mean"),
    "similarity_term": ("auto", False, True),
    # Plain fine-tuning's rows beside the head: part of `forward`, traced as it runs.
    "document_classifier": (False, True),
}
"""Head options of a LAME config that the exporter supports, with their allowed values. A head
option added later (e.g. label shortlists for large label sets, issue 12) must be listed here with
the values this module can export, after checking that `LameExport` still traces it."""


def check_lame_options(config) -> None:
    """Raise a ValueError naming the config field when a LAME head option has a value the exporter does not know."""
    for field, allowed in LAME_HEAD_OPTIONS.items():
        value = getattr(config, field, None)
        if value not in allowed:
            raise ValueError(
                f"config.json field {field!r} = {value!r}: the ONNX exporter supports {list(allowed)} for LAME. "
                f"Add the new option to LAME_HEAD_OPTIONS in {__file__} once LameExport exports it, "
                "with a parity test in tests/test_export.py."
            )


class LameExport(nn.Module):
    """LAME with its label embeddings computed once and stored in the graph as a constant.

    At inference the label queries do not depend on the document, so the encoder pass over the
    label descriptions (num_labels extra sequences) is done here, once, instead of in every request;
    ONNX Runtime then also folds the first block's query projection of these constants. The forward
    pass is the model's own `forward` (so every head option it implements is exported as it runs),
    with `encode_label_descriptions` answering from the stored constant.
    """

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        check_lame_options(model.config)
        self.model = model
        with torch.no_grad():
            model.clear_label_cache()
            embeddings = model.encode_label_descriptions().detach().clone()  # (num_labels, hidden)
        self.register_buffer("label_embeddings", embeddings, persistent=False)
        # An instance attribute shadows the method for this model object only.
        model.encode_label_descriptions = lambda: self.label_embeddings

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(batch, seq)` inputs -> logits `(batch, num_labels)`, label attention `(batch, num_labels, seq)`."""
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_cross_attentions=True,
            return_dict=True,
        )
        return output.logits, output.cross_attentions[-1].mean(dim=1)


def lame_graph(model: PreTrainedModel) -> GraphSpec:
    return GraphSpec(
        kind=LAME,
        module=LameExport(model),
        output_names=["logits", "label_attention"],
        output_axes={"logits": {0: "batch"}, "label_attention": {0: "batch", 2: "sequence"}},
    )


# ----------------------------------------------------------------------------------------- layer-wise
class LayerwiseExport(nn.Module):
    """The layer-wise model's raw scores: all labels in id order, then each level's own logits."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
        """`(batch, seq)` inputs -> `(logits (batch, num_labels), level_1_logits (batch, |L_1|), ...)`."""
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            hierarchical_consistency=False,
            return_dict=True,
        )
        return (output.logits, *output.level_logits)


def layerwise_graph(model: PreTrainedModel) -> GraphSpec:
    levels = [f"level_{n}_logits" for n in range(1, model.config.num_levels + 1)]
    return GraphSpec(
        kind=LAYERWISE,
        module=LayerwiseExport(model),
        output_names=["logits", *levels],
        output_axes={name: {0: "batch"} for name in ["logits", *levels]},
    )


# ------------------------------------------------------------------------------ standard transformers
class LogitsExport(nn.Module):
    """A transformers `...ForSequenceClassification` / `...ForTokenClassification` model's logits."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
        output = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
        )
        return (output.logits,)


def token_classification_graph(model: PreTrainedModel) -> GraphSpec:
    return GraphSpec(TOKEN_CLASSIFICATION, LogitsExport(model), ["logits"], {"logits": {0: "batch", 1: "sequence"}})


def sequence_classification_graph(model: PreTrainedModel) -> GraphSpec:
    return GraphSpec(SEQUENCE_CLASSIFICATION, LogitsExport(model), ["logits"], {"logits": {0: "batch"}})


KINDS: dict[str, Callable[[PreTrainedModel], GraphSpec]] = {
    LAME: lame_graph,
    LAYERWISE: layerwise_graph,
    TOKEN_CLASSIFICATION: token_classification_graph,
    SEQUENCE_CLASSIFICATION: sequence_classification_graph,
}
"""Saved kind -> builder of its export graph. The kind is read from the model by `model_kind`."""
if set(KINDS) != set(SAVED_KINDS):  # a saved kind without a graph could be saved but not exported
    raise RuntimeError(f"labelwise/export/graphs.py: KINDS has graphs for {sorted(KINDS)}, labelwise/saved_kinds.py "
                       f"declares {sorted(SAVED_KINDS)}; add or remove a builder so that they match.")


def model_kind(model: PreTrainedModel) -> str:
    """The saved kind of a loaded model (`labelwise.saved_kinds.detect` on its config and class)."""
    model_type = getattr(model.config, "model_type", "")
    name = type(model).__name__
    try:
        return detect({"model_type": model_type, "architectures": [name]})
    except ValueError:
        raise ValueError(
            f"Cannot export a {name} (model_type {model_type!r}): labelwise exports {sorted(KINDS)}. "
            f"Add the kind to labelwise/saved_kinds.py and a builder to KINDS in {__file__}."
        ) from None


def build_graph(model: PreTrainedModel) -> GraphSpec:
    """The `GraphSpec` of `model` for its kind, in eval mode: the wrapper modules are built in training
    mode (nn.Module's default), and the exporter traces what the root module's mode says."""
    model.eval()
    spec = KINDS[model_kind(model)](model)
    spec.module.eval()
    return spec
